"""Secrets never leave: a debug-level crawl with an STS token writes neither the secret nor the token
anywhere — stdout, stderr, the records, the summary, the findings. Refused credentials of each kind end
the run after a handful of requests with exit 2 and a line saying which."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.emulator.faults import FaultConfig, FaultKind
from tests.support.crawl_support import isolated_env, read_ndjson, run_cli, target_args
from tests.support.fixtures import SMALL_ACCOUNT, EmulatorFactory

TOKEN = "sts-token-0123456789abcdef-SECRETISH"


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def test_a_debug_crawl_writes_no_secret_anywhere(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # faults make the client log retries and errors, the paths where a careless message would leak
    faults = FaultConfig(seed=4, rates={FaultKind.HTTP_500: 0.1, FaultKind.MALFORMED: 0.05})
    emulator = emulator_factory(SMALL_ACCOUNT, faults, security_token=TOKEN)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    out, summary, findings = tmp_path / "o.ndjson", tmp_path / "s.md", tmp_path / "f.json"
    argv = [
        "crawl",
        *target_args(emulator),
        "-o",
        str(out),
        "--summary",
        str(summary),
        "--format",
        "markdown",
    ]

    code = run_cli([*argv, "--findings", str(findings), "-v", "--log-format", "json"])

    captured = capfd.readouterr()
    assert code == 0
    assert "retry.scheduled" in captured.err  # debug logs were on and the failure paths were taken
    written = [
        captured.out.encode(),
        captured.err.encode(),
        *(p.read_bytes() for p in (out, summary, findings)),
    ]
    for secret in (emulator.access_key_secret, TOKEN):
        for blob in written:
            assert secret.encode() not in blob


@pytest.mark.parametrize(
    ("key_id", "secret", "token", "says"),
    [
        (None, "wrong-secret", TOKEN, "SignatureNotMatch"),
        ("LTAInoSuchKey000000000", None, TOKEN, "InvalidAccessKeyID"),
        (None, None, "an-expired-token", "InvalidSecurityToken"),
    ],
    ids=["signature-mismatch", "unknown-key", "expired-token"],
)
def test_each_kind_of_refusal_stops_fast_with_exit_2(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key_id: str | None,
    secret: str | None,
    token: str,
    says: str,
) -> None:
    emulator = emulator_factory(SMALL_ACCOUNT, FaultConfig(latency_ms=2.0), security_token=TOKEN)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id or emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret or emulator.access_key_secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", token)
    out = tmp_path / "o.ndjson"

    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 2

    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("fcaudit:")]
    assert len(lines) == 1  # one message; the refusal is also an error-level log line (issue 16)
    assert err.strip().splitlines()[-1] == lines[0]
    assert says in lines[0]
    assert (key_id or emulator.access_key_id) in lines[0]
    assert emulator.access_key_secret not in err
    assert token not in err
    assert emulator.stats()["requests"] <= 5
    end = read_ndjson(out)[-1]
    assert end["complete"] is False
    assert end["aborted"]["code"] == says


OIDC_TOKEN = "eyJhbGciOi-OIDC-TOKEN-CONTENT-SECRETISH"
EXTERNAL_ID = "external-id-SECRETISH"
URI_SECRET = "uri-query-SECRETISH"
PROFILE_SECRET = "profile-secret-SECRETISH"
ROLE = "acs:ram::1234567890123456:role/audit"


def _identity_case(case: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Set one identity input holding secrets that the settings refuse; the flags of the run."""
    config = home / ".aliyun" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    keys = {"access_key_id": "LTAIprofile", "access_key_secret": PROFILE_SECRET, "sts_token": TOKEN}
    profiles: list[dict[str, object]] = [
        {"name": "role", "mode": "RamRoleArn", **keys, "ram_role_arn": "bad", "external_id": EXTERNAL_ID},
        {"name": "ext", "mode": "External", "process_command": f"get-creds --secret {PROFILE_SECRET}"},
        {"name": "a", "mode": "ChainableRamRoleArn", "source_profile": "b", "ram_role_arn": ROLE},
        {"name": "b", "mode": "ChainableRamRoleArn", "source_profile": "a", "ram_role_arn": ROLE, **keys},
        {"name": "sso", "mode": "CloudSSO", **keys},
    ]
    config.write_bytes(orjson.dumps({"current": "", "profiles": profiles}))
    token_file = home / "rrsa-token"
    token_file.write_text(OIDC_TOKEN, encoding="utf-8")
    if case == "oidc":
        monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", ROLE)
        monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", f"not-a-provider-{OIDC_TOKEN}")
        monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    if case == "uri":
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", f"http://creds.example/c?token={URI_SECRET}")
    if case in ("external-id", "duration"):
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv")
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", PROFILE_SECRET)
        monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    return {
        "ram-role-arn": ["--profile", "role"],
        "external": ["--profile", "ext", "--role-arn", "acs:ram::1:role/"],
        "cycle": ["--profile", "a"],
        "cloudsso": ["--profile", "sso"],
        "oidc": [],
        "uri": [],
        "external-id": ["--role-arn", ROLE, "--external-id", f"{EXTERNAL_ID} !"],
        "duration": ["--role-arn", ROLE, "--external-id", EXTERNAL_ID, "--duration-seconds", "60"],
    }[case]


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("ram-role-arn", "profile 'role' ram_role_arn must be a role ARN"),
        ("external", "--role-arn must be a role ARN"),
        ("cycle", "source_profile makes a cycle"),
        ("cloudsso", "uses mode CloudSSO"),
        ("oidc", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN must be an OIDC provider ARN"),
        ("uri", "ALIBABA_CLOUD_CREDENTIALS_URI: plain http to creds.example"),
        ("external-id", "--external-id must be 2 to 1224 characters"),
        ("duration", "--duration-seconds must be an integer number of seconds from 900 to 43200"),
    ],
)
def test_a_refused_identity_setting_writes_no_secret_anywhere(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    case: str,
    says: str,
) -> None:
    """Every identity input fcaudit reads, refused at start-up with debug logs on: exit 2, one line, and
    no secret, session token, OIDC token content, external id or credentials-URI query in any byte."""
    flags = _identity_case(case, tmp_path / "home", monkeypatch)
    out = tmp_path / "o.ndjson"
    argv = [
        "crawl",
        "--endpoint",
        "http://127.0.0.1:9",
        "--account",
        "1234567890123456",
        "--region",
        "cn-hangzhou",
    ]

    code = run_cli([*argv, *flags, "-o", str(out), "-v", "--log-format", "json"])

    captured = capfd.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert says in lines[0]
    written = [captured.out.encode(), captured.err.encode(), out.read_bytes() if out.exists() else b""]
    for secret in (PROFILE_SECRET, TOKEN, OIDC_TOKEN, EXTERNAL_ID, URI_SECRET):
        for blob in written:
            assert secret.encode() not in blob, (case, secret)


def test_a_debug_crawl_through_roles_writes_no_secret_anywhere(tmp_path: Path) -> None:
    """Through roles: the base secret, the external id, every session's secret and token STS issued
    (sessions short enough to be refreshed mid-crawl), and a refused role's answer — none of them in
    the debug log, the records or the end record."""
    import io
    import logging

    import anyio
    import orjson

    from crawler.crawl.job import CrawlJob
    from crawler.crawl.runner import execute
    from crawler.log import configure
    from crawler.settings.config import CrawlSettings
    from crawler.store.writer import Sink
    from crawler.wire.run_stats import RunStats
    from tests.support.identity_support import IdentityEstateSpec, member_account
    from tests.support.role_estate import role_estate

    log = io.StringIO()
    configure(logging.DEBUG, "json", stream=log)
    external = "ext-id-0123456789-SECRETISH"
    spec = IdentityEstateSpec(members=3, session_seconds=2, external_id=external, emulators=False)
    out = tmp_path / "o.ndjson"
    with role_estate(spec, faults=FaultConfig(latency_ms=150)) as estate:
        ids = {a: external for a in estate.roles} | {member_account(2): "a-wrong-external-id-SECRETISH"}
        targets = estate.targets(external_ids=ids, concurrency=1)  # ~3 s: sessions of 2 s refresh

        async def main() -> None:
            await execute(
                CrawlJob(targets, CrawlSettings(max_attempts=3)), Sink.open_file(out), stats=RunStats()
            )

        anyio.run(main)
        events = [orjson.loads(line) for line in log.getvalue().splitlines()]
        key_ids = {e["access_key_id"] for e in events if e.get("event") == "identity.credentials"}
        sessions = [estate.registry.lookup(k) for k in key_ids]
    assert len(key_ids) > 2, "the sessions were refreshed during the crawl"  # 2 roles, then refreshes
    secrets = [estate.user.access_key_secret, external, "a-wrong-external-id-SECRETISH"]
    for known in sessions:
        assert known is not None
        assert known.token is not None
        secrets += [known.secret, known.token]
    written = [log.getvalue().encode(), out.read_bytes()]
    assert b"client.request" in written[0]  # debug logs were on, and the refusal path was taken
    assert b"identity.refused" in written[0]
    for secret in secrets:
        for blob in written:
            assert secret.encode() not in blob
