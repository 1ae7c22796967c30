"""Listings that lie, end to end (issue 12, parts 1, 6, 7): a crawl must never call a function deleted
unless FC said so, never write a function twice, and never grow without bound, whatever the server does.

Each case runs the real CLI against a mode of ``tests.hostile.listings``; where the mode forwards to an
emulator, the output is compared with the emulator's ground truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator.backend import AccountSpec, Backend, generate_account
from crawler.emulator.server import EmulatorThread
from tests.crawl_support import (
    Crawled,
    assert_matches_truth,
    clean_env,
    read_ndjson,
    run_cli,
    use_emulator_keys,
)
from tests.hostile import HostileServer, Upstream
from tests.hostile import listings as modes

ACCOUNT = "1234567890123456"
REGION = "cn-hangzhou"


def small_account() -> Backend:
    return generate_account(AccountSpec(seed=5, services=3, functions=30, big_functions=0))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    clean_env(monkeypatch, tmp_path / "home")
    return monkeypatch


def crawl(endpoint: str, out: Path, *extra: str, account: str = ACCOUNT) -> int:
    args = ["crawl", "--endpoint", endpoint, "--account", account, "--region", REGION, "-o", str(out)]
    return run_cli([*args, "-q", *extra])


# --- part 6: exactly one record per function ------------------------------------------------------------


def test_duplicated_listing_entries_are_written_once_and_counted(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before: every service listed twice and a function on two pages were each written twice."""
    backend = small_account()
    out = tmp_path / "out.ndjson"
    with (
        EmulatorThread(backend) as emu,
        HostileServer(modes.duplicated_entries(Upstream(emu.endpoint))) as srv,
    ):
        use_emulator_keys(env, emu)
        code = crawl(srv.endpoint, out, "--page-size", "3", account=emu.account_id)
        crawled = Crawled.of(read_ndjson(out))
        # a file with each function once is one --resume accepts (before: refused, a function twice)
        resumed = crawl(srv.endpoint, out, "--page-size", "3", "--resume", account=emu.account_id)
    end = crawled.end[0]
    assert code == 0
    assert_matches_truth(crawled, backend.truth_records())
    assert end["complete"] is True
    assert end["duplicateServicesDropped"] == 3
    # each service's functions arrive on pages of 3: every page after the first repeats one function
    pages = [(len(backend.function_names(s)) + 2) // 3 for s in backend.service_names()]
    assert end["duplicateFunctionsDropped"] == sum(p - 1 for p in pages if p > 1) > 0
    assert sum(end["functions"].values()) == 30
    assert resumed == 0
    assert Crawled.of(read_ndjson(out)).function_lines == 30
