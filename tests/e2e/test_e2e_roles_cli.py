"""Identity at run time through the command line, on the emulator: an account left unknown is filled by
STS GetCallerIdentity (``--account`` optional), and ``--role-arn`` with ``{account}`` crawls through a
role; the start record names the account, the end record counts the STS calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.server import EmulatorThread, IdentityThread
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    isolated_env,
    read_ndjson,
    run_cli,
)
from tests.support.identity_support import CENTRAL_ACCOUNT, IdentityEstateSpec, build_registry, member_account

_isolated_env = pytest.fixture(autouse=True)(isolated_env)


class Estate:
    def __init__(self, stack: ExitStack) -> None:
        self.registry, self.user, self.roles = build_registry(IdentityEstateSpec(members=1, emulators=False))
        self.identity = stack.enter_context(IdentityThread(self.registry))
        self.fc = {
            account: stack.enter_context(
                EmulatorThread(
                    generate_account(AccountSpec(seed=9, services=2, functions=6, account_id=account)),
                    identity=self.registry,
                )
            )
            for account in (CENTRAL_ACCOUNT, member_account(0))
        }


@pytest.fixture
def estate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    with ExitStack() as stack:
        built = Estate(stack)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", built.user.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", built.user.access_key_secret)
        yield built


def test_an_unknown_account_is_who_the_keys_belong_to(estate: Estate, tmp_path: Path) -> None:
    out = tmp_path / "o.ndjson"
    fc = estate.fc[CENTRAL_ACCOUNT]
    argv = ["crawl", "--region", "cn-hangzhou", "--endpoint", fc.endpoint]
    code = run_cli([*argv, "--sts-endpoint", estate.identity.sts_endpoint, "-o", str(out), "-q"])
    assert code == 0
    records = read_ndjson(out)
    assert [t["account"] for t in records[0]["targets"]] == [CENTRAL_ACCOUNT]
    assert_matches_truth(Crawled.of(records), fc.backend.truth_records())
    assert records[-1]["sts"]["getCallerIdentity"] == 1
    assert estate.registry.calls["GetCallerIdentity"] == 1


def test_a_role_per_account_from_the_command_line(estate: Estate, tmp_path: Path) -> None:
    out = tmp_path / "o.ndjson"
    member = member_account(0)
    fc = estate.fc[member]
    argv = ["crawl", "--account", member, "--region", "cn-hangzhou", "--endpoint", fc.endpoint]
    argv += ["--role-arn", "acs:ram::{account}:role/fcaudit-readonly"]
    code = run_cli([*argv, "--sts-endpoint", estate.identity.sts_endpoint, "-o", str(out), "-q"])
    assert code == 0
    records = read_ndjson(out)
    assert_matches_truth(Crawled.of(records), fc.backend.truth_records())
    assert records[-1]["sts"]["assumeRole"] == 1
    assert estate.registry.assumed[estate.roles[member].arn] == 1


def test_a_role_sts_refuses_is_one_line_and_exit_2(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    member = member_account(0)
    fc = estate.fc[member]
    argv = ["crawl", "--account", member, "--region", "cn-hangzhou", "--endpoint", fc.endpoint]
    argv += ["--role-arn", "acs:ram::{account}:role/no-such-role", "--external-id", "ext-SECRETISH"]
    code = run_cli(
        [*argv, "--sts-endpoint", estate.identity.sts_endpoint, "-o", str(tmp_path / "o.ndjson"), "-q"]
    )
    assert code == 2  # the only target refused
    # the one message (the crawl's own log lines, such as crawl.target_refused, are not it)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fcaudit:")]
    assert len(lines) == 1
    assert f"acs:ram::{member}:role/no-such-role" in lines[0]
    assert "EntityNotExist.Role" in lines[0]
    assert "ext-SECRETISH" not in lines[0]
    assert estate.user.access_key_secret not in lines[0]
    assert fc.stats()["requests"] == 0  # refused before any FC request


def test_resume_with_the_account_still_unknown(estate: Estate, tmp_path: Path) -> None:
    """The start record names the account STS gave, but keeps the fingerprint of the inputs as given:
    the same command with --resume matches it and has nothing left to crawl."""
    out = tmp_path / "o.ndjson"
    fc = estate.fc[CENTRAL_ACCOUNT]
    argv = ["crawl", "--region", "cn-hangzhou", "--endpoint", fc.endpoint]
    argv += ["--sts-endpoint", estate.identity.sts_endpoint, "-o", str(out), "-q"]
    assert run_cli(argv) == 0
    before = fc.stats()["routes"]
    assert run_cli([*argv, "--resume"]) == 0
    after = fc.stats()["routes"]
    # discovery lists again; no function's configs are asked for twice
    configs = [r for r in after if "AsyncInvokeConfig" in r]
    assert configs
    assert {r: after[r] for r in configs} == {r: before[r] for r in configs}
    assert_matches_truth(Crawled.of(read_ndjson(out)), fc.backend.truth_records())
