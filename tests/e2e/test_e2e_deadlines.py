"""Time is bounded, and failures that would only repeat are not repeated.

Against purpose-built servers (``hostile/slow.py``) and the emulator, through the real CLI: a server
that trickles its answer is cut at the per-request deadline (``total_timeout``); one function that stalls
costs at most ``function_deadline``; ``--deadline`` ends a run incomplete, resumable, and ``--resume``
then completes it; a host name that does not resolve, a certificate that does not verify and a 200 that is
an HTML page are tried once or twice, not ``max_attempts`` times, and said in plain words. Every timeout
is small, so each test takes a few seconds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig
from crawler.settings.config import CrawlSettings
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    clean_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.fixtures import EmulatorFactory
from tests.support.hostile import HostileServer
from tests.support.hostile.slow import HITS, html_pages, self_signed_context, stall, trickle

ACCOUNT = "1234567890123456"
#: retries that cost nothing but the attempts themselves
QUICK = "backoff_base = 0.01\nbackoff_cap = 0.02\n"


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIdeadlines")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "deadline-secret")


def crawl(tmp_path: Path, endpoint: str, crawl_table: str, *extra: str) -> tuple[int, Crawled, float]:
    """``fcaudit crawl`` of one account in one region at ``endpoint``: exit code, output, wall seconds."""
    config = tmp_path / "fcaudit.toml"
    config.write_text(f"[crawl]\n{crawl_table}")
    out = tmp_path / "out.ndjson"
    args = ["--endpoint", endpoint, "--account", ACCOUNT, "--region", "cn-hangzhou", "--config", str(config)]
    started = time.monotonic()
    code = run_cli(["crawl", *args, "-o", str(out), "-q", *extra])
    return code, Crawled.of(read_ndjson(out)), time.monotonic() - started


def function_error(crawled: Crawled, name: str) -> dict[str, Any]:
    record = crawled.functions[(ACCOUNT, "cn-hangzhou", "svc", name)]
    assert record["status"] == "error", record
    error: dict[str, Any] = record["error"]
    return error


def services_error(crawled: Crawled) -> dict[str, Any]:
    (end,) = crawled.end
    (failed,) = end["discoveryErrors"]
    assert failed["service"] is None  # the ListServices listing itself
    error: dict[str, Any] = failed["error"]
    return error


# ---- time ---------------------------------------------------------------------------------------------


def test_a_trickling_answer_is_cut_at_the_per_request_deadline(tmp_path: Path) -> None:
    # the default deadline is one a control-plane list call needs, not two minutes an attempt
    defaults = CrawlSettings()
    assert defaults.total_timeout <= 30
    assert defaults.function_deadline <= 180
    # each byte comes every 0.05 s, far inside read_timeout: only the whole-exchange deadline ends it
    app = trickle(interval=0.05)
    with HostileServer(app) as server:
        settings = f"read_timeout = 2.0\ntotal_timeout = 0.5\nmax_attempts = 2\n{QUICK}"
        code, crawled, elapsed = crawl(tmp_path, server.endpoint, settings)

    hits = app[HITS]
    error = function_error(crawled, "fn")
    assert error["code"] == "Timeout"
    assert "total_timeout (0.5 s)" in error["message"]
    assert "trickling" in error["message"]
    assert error["attempts"] == 2
    assert hits["configs"] == 2
    assert code == 3
    assert elapsed < 4.0  # two attempts of 0.5 s; two whole answers would take 6 s


def test_one_stalling_function_costs_at_most_the_function_deadline(tmp_path: Path) -> None:
    app = stall(("fn", "fine", "also-fine"), slow=("fn",))
    with HostileServer(app) as server:
        settings = f'read_timeout = 0.3\nmax_attempts = 20\nfunction_deadline = "1.5s"\n{QUICK}'
        code, crawled, elapsed = crawl(tmp_path, server.endpoint, settings)

    hits = app[HITS]
    error = function_error(crawled, "fn")
    assert error["code"] == "FunctionDeadline"
    assert "function_deadline (1.5 s)" in error["message"]
    assert 2 <= hits["configs"] - 2 < 20  # a few attempts of 0.3 s, cut long before max_attempts
    assert {k[3]: f["status"] for k, f in crawled.functions.items()} == {
        "fn": "error",
        "fine": "none",
        "also-fine": "none",
    }
    assert code == 3
    assert elapsed < 5.0  # 20 attempts of 0.3 s would be 6 s and more


DEADLINE_ACCOUNT = AccountSpec(seed=21, services=3, functions=30, big_functions=0)


def test_deadline_ends_the_run_incomplete_and_resume_completes_it(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 100 ms a request, two at a time: the crawl needs about two seconds, the deadline gives it one
    emulator = emulator_factory(DEADLINE_ACCOUNT, FaultConfig(seed=1, latency_ms=100.0))
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    base = ["crawl", *target_args(emulator), "--concurrency", "2", "-o", str(out), "-q"]
    truth = list(emulator.backend.truth_records())
    everything = len(Crawled.of(truth).functions)

    started = time.monotonic()
    code = run_cli([*base, "--deadline", "1s", "--grace", "0.5"])
    elapsed = time.monotonic() - started

    first = Crawled.of(read_ndjson(out))
    (end,) = first.end
    assert code == 3
    assert end["complete"] is False
    assert end["interrupted"] == "deadline"
    assert 0 < len(first.functions) < everything
    assert elapsed < 5.0  # loosely: the deadline, the grace period, start-up; nothing hangs
    assert_matches_truth(first, truth, only=set(first.functions))  # what was written is right

    assert run_cli([*base, "--resume"]) == 0
    resumed = Crawled.of(read_ndjson(out))
    assert resumed.end[-1]["complete"] is True
    assert resumed.end[-1]["interrupted"] is None
    assert_matches_truth(resumed, truth)


@pytest.mark.parametrize("value", ["soon", "0", "-5m", "1x", "31d", ""])
def test_a_bad_deadline_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    out = tmp_path / "out.ndjson"
    args = ["--endpoint", "http://127.0.0.1:9", "--account", ACCOUNT, "--region", "cn-hangzhou"]
    assert run_cli(["crawl", *args, f"--deadline={value}", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--deadline must be a duration" in err
    assert "30m" in err
    assert not out.exists()

    config = tmp_path / "bad.toml"
    config.write_text(f'[crawl]\ndeadline = "{value}"\n')
    assert run_cli(["crawl", *args, "--config", str(config), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "[crawl] deadline must be a duration" in err
    assert not out.exists()


def test_deadline_forms_in_the_config_file_and_on_the_command_line(tmp_path: Path) -> None:
    from crawler.settings.config import settings_from

    assert settings_from({"crawl": {"deadline": "1h30m"}}).deadline == 5400.0
    assert settings_from({"crawl": {"deadline": 90}}).deadline == 90.0
    assert settings_from({"crawl": {"deadline": "2h"}}, {"deadline": "30m"}).deadline == 1800.0
    assert settings_from({}).deadline is None


# ---- failures that repeat ---------------------------------------------------------------------------


def test_an_html_page_for_an_answer_is_tried_twice_and_named(tmp_path: Path) -> None:
    app = html_pages()
    with HostileServer(app) as server:
        code, crawled, _elapsed = crawl(tmp_path, server.endpoint, QUICK)

    hits = app[HITS]
    error = services_error(crawled)
    assert error["code"] == "InvalidBody"
    assert error["attempts"] == 2
    assert "HTTP 200 with an HTML page" in error["message"]
    assert hits["services"] == 2  # not max_attempts (6)
    assert code == 3


def test_a_name_that_does_not_resolve_is_tried_at_most_twice_and_named(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 6761): the resolver answers at once, with no network
    code, crawled, elapsed = crawl(tmp_path, "https://fc-audit.invalid", f"total_timeout = 5.0\n{QUICK}")

    error = services_error(crawled)
    assert error["code"] == "NameNotResolved"
    assert "name not resolved: fc-audit.invalid" in error["message"]
    assert error["attempts"] <= 2
    assert code == 3
    assert elapsed < 12.0


def test_a_certificate_that_does_not_verify_is_tried_once_and_named(tmp_path: Path) -> None:
    context = self_signed_context(tmp_path)
    if context is None:
        pytest.skip("openssl is not installed: no self-signed certificate to serve")
    app = html_pages()
    with HostileServer(app, ssl_context=context) as server:
        code, crawled, _elapsed = crawl(tmp_path, server.endpoint, QUICK)

    hits = app[HITS]
    error = services_error(crawled)
    assert error["code"] == "CertificateInvalid"
    assert error["attempts"] == 1
    assert "certificate verify failed for 127.0.0.1" in error["message"]
    assert "self-signed" in error["message"] or "self signed" in error["message"]
    assert sum(hits.values()) == 0  # no request ever went over the unverified connection
    assert code == 3
