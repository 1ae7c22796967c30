"""Listings that lie, end to end (issue 12, parts 1, 6, 7): a crawl must never call a function deleted
unless FC said so, never write a function twice, and never grow without bound, whatever the server does.

Each case runs the real CLI against a mode of ``hostile.listings``; where the mode forwards to an
emulator, the output is compared with the emulator's ground truth.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from crawler.emulator import AccountSpec, Backend, generate_account
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    clean_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.hostile import HostileServer, Upstream
from tests.support.hostile import listings as modes

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


# --- part 1: a 404 is "deleted" only when FC says so ------------------------------------------------------


@pytest.mark.parametrize("mode", [modes.html_404, modes.foreign_404], ids=["html", "foreign-code"])
def test_a_404_that_is_not_fcs_on_listfunctions_is_a_discovery_error(
    env: pytest.MonkeyPatch, tmp_path: Path, mode: Any
) -> None:
    """Before: every service was taken as deleted — no function, ``complete: true``, exit 0."""
    backend = small_account()
    out = tmp_path / "out.ndjson"
    with EmulatorThread(backend) as emu, HostileServer(mode(Upstream(emu.endpoint), "functions")) as srv:
        use_emulator_keys(env, emu)
        code = crawl(srv.endpoint, out, account=emu.account_id)
    crawled = Crawled.of(read_ndjson(out))
    end = crawled.end[0]
    assert code == 3
    assert end["complete"] is False
    assert crawled.functions == {}
    failed = {d["service"]: d["error"] for d in end["discoveryErrors"]}
    assert set(failed) == set(backend.service_names())
    assert {e["code"] for e in failed.values()} == {"UnexpectedNotFound"}
    assert {e["http"] for e in failed.values()} == {404}
    assert all("not taken as deleted" in e["message"] for e in failed.values())


@pytest.mark.parametrize("mode", [modes.html_404, modes.foreign_404], ids=["html", "foreign-code"])
def test_a_404_that_is_not_fcs_on_the_configs_route_is_an_error_not_gone(
    env: pytest.MonkeyPatch, tmp_path: Path, mode: Any
) -> None:
    """Before: every function was ``gone``, ``complete: true``, 0 findings, exit 0."""
    backend = small_account()
    out = tmp_path / "out.ndjson"
    with EmulatorThread(backend) as emu, HostileServer(mode(Upstream(emu.endpoint), "configs")) as srv:
        use_emulator_keys(env, emu)
        code = crawl(srv.endpoint, out, account=emu.account_id)
    crawled = Crawled.of(read_ndjson(out))
    assert code == 3
    assert crawled.end[0]["complete"] is False
    assert len(crawled.functions) == 30
    assert {f["status"] for f in crawled.functions.values()} == {"error"}
    assert {f["error"]["code"] for f in crawled.functions.values()} == {"UnexpectedNotFound"}
    assert crawled.end[0]["errorsByCode"] == {"UnexpectedNotFound": 30}


def test_services_deleted_with_fcs_own_404_are_still_gone(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The other side of the rule: FC's ``ServiceNotFound``/``FunctionNotFound`` (the emulator's) is gone."""
    backend = small_account()
    out = tmp_path / "out.ndjson"
    service = backend.service_names()[0]
    with EmulatorThread(backend) as emu:
        use_emulator_keys(env, emu)
        targets = tmp_path / "targets.txt"
        first = next(
            r for r in backend.truth_records() if r["type"] == "function" and r["service"] == service
        )
        targets.write_text(f"{first['service']}/{first['function']}\n")
        backend.delete_service(service)
        code = crawl(emu.endpoint, out, "--targets", str(targets), account=emu.account_id)
    [record] = Crawled.of(read_ndjson(out)).functions.values()
    assert code == 0
    assert (record["service"], record["status"]) == (service, "gone")


def test_listservices_answering_an_empty_object_is_a_protocol_error(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before: ``{}`` was an empty account: no function, ``complete: true``, exit 0."""
    env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIhostile")
    env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cr3t")
    out = tmp_path / "out.ndjson"
    with HostileServer(modes.empty_services()) as srv:
        code = crawl(srv.endpoint, out)
    end = Crawled.of(read_ndjson(out)).end[0]
    assert code == 3
    assert end["complete"] is False
    [error] = end["discoveryErrors"]
    assert error["service"] is None
    assert error["error"]["code"] == "ProtocolError"
    assert "no 'services' list" in error["error"]["message"]


def test_an_empty_config_list_left_out_is_still_none(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The documented shape FC may send for a function without configs (``--omit-empty-configs``)."""
    backend = small_account()
    out = tmp_path / "out.ndjson"
    with EmulatorThread(backend, omit_empty_configs=True) as emu:
        use_emulator_keys(env, emu)
        assert run_cli(["crawl", *target_args(emu), "-o", str(out), "-q"]) == 0
    crawled = Crawled.of(read_ndjson(out))
    assert any(f["status"] == "none" for f in crawled.functions.values())
    assert_matches_truth(crawled, backend.truth_records())


@pytest.mark.parametrize("api", ["fc2", "fc3"])
def test_a_targets_pair_unknown_at_its_first_request_is_never_found(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], api: str
) -> None:
    """Before: an unknown pair was ``gone`` like a function deleted mid-crawl, and nothing said so."""
    backend = small_account()
    first = next(r for r in backend.truth_records() if r["type"] == "function")
    targets = tmp_path / "targets.txt"
    targets.write_text(f"{first['service']}/{first['function']}\n{first['service']}/no-such-function\n")
    out = tmp_path / "out.ndjson"
    with EmulatorThread(backend) as emu:
        use_emulator_keys(env, emu)
        code = run_cli(
            ["crawl", *target_args(emu), "-o", str(out), "-q", "--targets", str(targets), "--api", api]
        )
    crawled = Crawled.of(read_ndjson(out))
    account = str(backend.account_id)
    missing = crawled.functions[(account, REGION, first["service"], "no-such-function")]
    found = crawled.functions[(account, REGION, first["service"], first["function"])]
    assert code == 0
    assert (missing["status"], missing.get("neverFound")) == ("gone", True)
    assert found["status"] == first["status"]
    assert "neverFound" not in found
    assert "crawl.target_not_found" in capsys.readouterr().err


def test_fc3_a_404_that_is_not_fcs_is_an_error_not_gone(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """FC 3.0 obeys the same rule: an HTML 404 on one function's listing is not ``FunctionNotFound``."""
    from aiohttp import web

    async def html(_request: web.Request) -> web.Response:
        return web.Response(status=404, body=modes.NGINX_404, content_type="text/html")

    app = web.Application()
    app.router.add_get("/2023-03-30/async-invoke-configs", html)
    targets = tmp_path / "targets.txt"
    targets.write_text("svc/fn\n")
    env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIhostile")
    env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cr3t")
    out = tmp_path / "out.ndjson"
    with HostileServer(app) as srv:
        code = crawl(srv.endpoint, out, "--api", "fc3", "--targets", str(targets))
    [record] = Crawled.of(read_ndjson(out)).functions.values()
    assert code == 3
    assert record["status"] == "error"
    assert record["error"]["code"] == "UnexpectedNotFound"


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


# --- part 7: memory is bounded per listing --------------------------------------------------------------

#: what a crawl of eight endless listings at once may use, whatever the server sends (docs/records.md)
RSS_CEILING_MB = 200


def crawl_endless(tmp_path: Path, **mode: Any) -> tuple[int, float, Crawled]:
    """``fcaudit crawl`` in a child against an endless listing; (exit code, peak RSS in MB, output).
    The child is killed as soon as it passes the ceiling, so a failing run fails fast."""
    out = tmp_path / "out.ndjson"
    with HostileServer(modes.endless_listing(**mode)) as srv:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA", "ALICLOUD"))},
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIhostile",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cr3t",
        }
        argv = [sys.executable, "-m", "crawler", "crawl", "--endpoint", srv.endpoint]
        argv += ["--account", ACCOUNT, "--region", REGION, "-o", str(out), "-q"]
        child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process = psutil.Process(child.pid)
        peak = 0.0
        deadline = time.monotonic() + 60
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):  # the child may be gone between poll and read
                peak = max(peak, process.memory_info().rss / 2**20)
            if peak > RSS_CEILING_MB or time.monotonic() > deadline:
                child.kill()
                child.wait()
                break
            time.sleep(0.01)
    return child.returncode, peak, Crawled.of(read_ndjson(out)) if out.exists() else Crawled.of([])


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ({"functions": 8}, "max_configs_per_function"),
        ({"functions": 8, "token_bytes": 64 * 1024}, "max_token_length"),
        ({"functions": 8, "token_bytes": 4000, "config_pad": 40_000}, "max_function_bytes"),
    ],
    ids=["many-configs", "64KB-tokens", "big-configs"],
)
def test_endless_listings_end_in_error_under_the_memory_ceiling(
    tmp_path: Path, mode: dict[str, Any], why: str
) -> None:
    """Before: one endless listing grew to 856 MB, eight past 2.5 GB (killed), and so did 64 KB tokens."""
    code, peak, crawled = crawl_endless(tmp_path, **mode)
    assert peak <= RSS_CEILING_MB, f"peak RSS {peak:.0f} MB is over the {RSS_CEILING_MB} MB ceiling"
    assert code == 3
    assert len(crawled.functions) == 8
    for record in crawled.functions.values():
        assert record["status"] == "error"
        assert record["error"]["code"] == "ListingLimitExceeded"
        assert why in record["error"]["message"]
    assert crawled.configs == []  # nothing of a listing that did not end is written


def test_fc3_a_function_past_the_configs_bound_is_an_error_the_rest_exact(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The FC 3.0 region listing holds at most ``max_configs_per_function`` configs of one function."""
    backend = generate_account(AccountSpec(seed=7, services=2, functions=20, big_functions=2))
    truth = list(backend.truth_records())
    big = {
        (r["account"], r["region"], r["service"], r["function"])
        for r in truth
        if r["type"] == "function" and r["configs"] > 100
    }
    assert big
    config = tmp_path / "fcaudit.toml"
    config.write_text("[crawl]\nmax_configs_per_function = 100\n")
    out = tmp_path / "out.ndjson"
    with EmulatorThread(backend) as emu:
        use_emulator_keys(env, emu)
        code = run_cli(
            ["crawl", *target_args(emu), "-o", str(out), "-q", "--api", "fc3", "--config", str(config)]
        )
    crawled = Crawled.of(read_ndjson(out))
    assert code == 3
    assert {k for k, f in crawled.functions.items() if f["status"] == "error"} == big
    assert {crawled.functions[k]["error"]["code"] for k in big} == {"ListingLimitExceeded"}
    # the rest exactly as the truth says (FC 3.0 spells configs its documented way: compare counts)
    expected = Crawled.of(truth).functions
    assert set(crawled.functions) == set(expected)
    for key in set(expected) - big:
        got, want = crawled.functions[key], expected[key]
        assert (got["status"], got["configs"]) == (want["status"], want["configs"]), key


@pytest.mark.parametrize("api", ["fc2", "fc3"])
def test_a_targets_pair_past_the_bytes_bound_is_an_error(
    env: pytest.MonkeyPatch, tmp_path: Path, api: str
) -> None:
    """``max_function_bytes`` counts the answers of one function's own listing in either API."""
    backend = generate_account(AccountSpec(seed=7, services=2, functions=20, big_functions=2))
    big = next(r for r in backend.truth_records() if r["type"] == "function" and r["configs"] > 100)
    targets = tmp_path / "targets.txt"
    targets.write_text(f"{big['service']}/{big['function']}\n")
    config = tmp_path / "fcaudit.toml"
    config.write_text("[crawl]\nmax_function_bytes = 4096\n")
    out = tmp_path / "out.ndjson"
    with EmulatorThread(backend) as emu:
        use_emulator_keys(env, emu)
        options = ["--api", api, "--config", str(config), "--targets", str(targets)]
        code = run_cli(["crawl", *target_args(emu), "-o", str(out), "-q", *options])
    [record] = Crawled.of(read_ndjson(out)).functions.values()
    assert code == 3
    assert record["status"] == "error"
    assert record["error"]["code"] == "ListingLimitExceeded"
    assert "max_function_bytes" in record["error"]["message"]
