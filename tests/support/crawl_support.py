"""Helpers for the crawl tests: run the real CLI in-process and compare its NDJSON with the ground truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.cli.main import main
from crawler.emulator.server import EmulatorThread
from crawler.wire.models import Page

ENV_VARS = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABACLOUD_ACCESS_KEY_ID",
    "ALIBABACLOUD_ACCESS_KEY_SECRET",
    "ALIBABACLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_ACCOUNT_ID",
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABACLOUD_PROFILE",
    "ALICLOUD_PROFILE",
    # the rest of the credentials chain and the STS settings (crawler.settings.identity, roles)
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "ALIBABA_CLOUD_ROLE_SESSION_NAME",
    "ALIBABA_CLOUD_CLI_PROFILE_DISABLED",
    "ALIBABA_CLOUD_CREDENTIALS_URI",
    "ALIBABA_CLOUD_ECS_METADATA",
    "ALIBABA_CLOUD_ECS_METADATA_DISABLED",
    "ALIBABA_CLOUD_IMDSV1_DISABLED",
    "ALIBABA_CLOUD_STS_ENDPOINT",
    "ALIBABA_CLOUD_STS_REGION",
    "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED",
)


def clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No credentials from the machine running the tests; an empty home (no ~/.aliyun)."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))


def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``clean_env`` with an empty home under the test's ``tmp_path``; a module makes it its autouse
    fixture with ``_isolated_env = pytest.fixture(autouse=True)(isolated_env)``."""
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)


def use_emulator_keys(monkeypatch: pytest.MonkeyPatch, emulator: EmulatorThread) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    if emulator.security_token is not None:
        monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", emulator.security_token)


def target_args(emulator: EmulatorThread) -> list[str]:
    return ["--endpoint", emulator.endpoint, "--account", emulator.account_id, "--region", emulator.region]


def run_cli(argv: Sequence[str]) -> int:
    """``fcaudit ARGV`` in this process: argparse's own exit (bad flags) becomes its exit code."""
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def parse_ndjson(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


@dataclass(frozen=True)
class Crawled:
    """One output file taken apart. ``functions`` holds each function's last record: an ``error`` record
    a resumed crawl replaced (``replaced_errors`` of them) is not counted."""

    start: list[dict[str, Any]]
    end: list[dict[str, Any]]
    configs: list[tuple[tuple[str, str, str, str, str], bytes]]
    functions: dict[tuple[str, str, str, str], dict[str, Any]]
    function_lines: int
    replaced_errors: int = 0

    @classmethod
    def of(cls, records: Iterable[Mapping[str, Any]]) -> Crawled:
        start: list[dict[str, Any]] = []
        end: list[dict[str, Any]] = []
        configs: list[tuple[tuple[str, str, str, str, str], bytes]] = []
        functions: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        lines = 0
        replaced = 0
        for r in records:
            if r["type"] == "run":
                (start if r["phase"] == "start" else end).append(dict(r))
            elif r["type"] == "config":
                ident = (r["account"], r["region"], r["service"], r["function"], r["qualifier"])
                configs.append((ident, orjson.dumps(r["config"], option=orjson.OPT_SORT_KEYS)))
            else:
                lines += 1
                key = (r["account"], r["region"], r["service"], r["function"])
                if key in functions and functions[key]["status"] == "error":
                    replaced += 1
                    lines -= 1
                functions[key] = dict(r)
        return cls(start, end, configs, functions, lines, replaced)

    def restrict(self, keys: set[tuple[str, str, str, str]]) -> Crawled:
        """Only these functions and their configs (to compare the part of a crawl that should be exact)."""
        functions = {k: v for k, v in self.functions.items() if k in keys}
        configs = [c for c in self.configs if c[0][:4] in keys]
        return Crawled(self.start, self.end, configs, functions, len(functions))


def assert_matches_truth(
    crawled: Crawled,
    truth: Iterable[Mapping[str, Any]],
    *,
    only: set[tuple[str, str, str, str]] | None = None,
) -> None:
    """Same configs (each exactly once, byte-identical content), every function once with the right status."""
    expected = Crawled.of(truth)
    want_functions = {k: v for k, v in expected.functions.items() if only is None or k in only}
    want_configs = [c for c in expected.configs if only is None or c[0][:4] in only]
    duplicates = [ident for ident, n in Counter(ident for ident, _ in crawled.configs).items() if n > 1]
    assert not duplicates, f"configs written more than once: {duplicates[:5]}"
    assert crawled.function_lines == len(crawled.functions), "a function record was written twice"
    assert set(crawled.functions) == set(want_functions)
    wrong = {
        k: (crawled.functions[k]["status"], crawled.functions[k]["configs"], v["status"], v["configs"])
        for k, v in want_functions.items()
        if (crawled.functions[k]["status"], crawled.functions[k]["configs"]) != (v["status"], v["configs"])
    }
    assert not wrong, f"functions with the wrong status or count (got, want): {dict(list(wrong.items())[:5])}"
    assert Counter(crawled.configs) == Counter(want_configs)


class OneServiceRegion:
    """A stand-in ``ListingClient`` for the pipeline's in-process tests: one service ``svc`` holding
    ``functions`` (one page each listing), no triggers; a subclass gives ``list_async_configs``."""

    def __init__(self, functions: Sequence[str]) -> None:
        self.functions = list(functions)

    async def list_services(self, *, limit: int, next_token: str | None) -> Page:
        return Page(({"serviceName": "svc"},), None, None)

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page:
        return Page(tuple({"functionName": f} for f in self.functions), None, None)

    async def list_triggers(self, service: str, function: str, *, limit: int, next_token: str | None) -> Page:
        return Page((), None, None)
