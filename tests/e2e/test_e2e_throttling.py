"""Throttling with no ``--rate``: against a quota of Q requests/s the adaptive limiter finds the pace and
stays under it — throttled answers under 5% of all requests, no second above 1.2 × Q after the first two
seconds — and the output is still exactly the ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig
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

QUOTA = 100.0


def test_the_crawl_settles_under_an_unknown_quota(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch, tmp_path)
    # ~620 requests at 100/s: a crawl of six seconds or more, so at least three whole seconds are judged
    # after the first two (300 functions ended inside four seconds once the limiter found the quota at
    # once, and the judged span was empty or one second)
    spec = AccountSpec(seed=41, services=4, functions=600, big_functions=1)
    faults = FaultConfig(seed=1, latency_ms=3.0, quota_rps=QUOTA, quota_burst=10)
    emulator = emulator_factory(spec, faults)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"

    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "--concurrency", "32", "-q"]) == 0

    stats = emulator.stats()
    assert stats["throttled"] > 0  # the quota was met: the limiter had something to find
    assert stats["throttled"] < 0.05 * stats["requests"]
    seconds = stats["per_second"][2:-1]  # after the first two seconds; the last one is partial
    assert len(seconds) >= 3, f"the crawl was too short to judge: {stats['per_second']}"
    assert max(seconds) <= 1.2 * QUOTA, seconds
    assert_matches_truth(Crawled.of(read_ndjson(out)), emulator.backend.truth_records())


def test_a_quota_withdrawn_for_seconds_is_waited_out_and_the_crawl_completes(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The server admits nothing from 0.5 s to 6.5 s (a quota withdrawn, a minute's quota spent), eight
    requests at a time, the default six attempts each. Each refused probe of the limiter's stall was an
    attempt of some call: calls ran out of attempts while nothing could succeed, and the crawl ended
    incomplete (exit 3, error records; a 30 s drought at six attempts cost 33 functions). A refusal
    answered while the endpoint is stalled is now the endpoint's, not the call's: the call waits for
    the next probe. (At four attempts it failed about one run in twenty, one function ResourceExhausted;
    the cause was not found. The throttles a call meets before a stall can begin, slow start's
    overshoot and the drought's first refusals, are its own, and four attempts left little room.)"""
    clean_env(monkeypatch, tmp_path)
    spec = AccountSpec(seed=43, services=3, functions=200, big_functions=0)
    faults = FaultConfig(
        seed=1, latency_ms=3.0, quota_rps=QUOTA, quota_burst=10, quota_changes=((0.5, 1e-9), (6.5, 1.0))
    )
    emulator = emulator_factory(spec, faults)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"

    argv = [
        "crawl",
        *target_args(emulator),
        "-o",
        str(out),
        "--concurrency",
        "8",
        "-q",
    ]
    assert run_cli(argv) == 0

    stats = emulator.stats()
    assert sum(stats["throttled_per_second"][2:6]) > 0  # the drought was met
    assert sum(stats["per_second"][2:6]) <= 40  # and waited out with probes, not paced into
    assert_matches_truth(Crawled.of(read_ndjson(out)), emulator.backend.truth_records())


def test_a_windows_quota_spent_at_one_request_at_a_time_is_waited_out_and_the_crawl_completes(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A quota of 120 calls in each 6 s window (N calls a minute, shortened), one request at a time: the
    window's 120 go in half a second, then the server refuses everything for five. With one request in
    flight the cuts that its refusals brought (a round is three answers) restarted the run of eight
    refusals that begins a stall, so no stall began, each refusal was an attempt of the one call, and
    calls ended as ResourceExhausted (exit 3). Three refusals over half a second with nothing admitted
    are a stall now, and the refusals after it are the endpoint's."""
    clean_env(monkeypatch, tmp_path)
    spec = AccountSpec(seed=44, services=3, functions=150, big_functions=0)
    faults = FaultConfig(seed=1, latency_ms=3.0, quota_rps=20.0, quota_shape="window", quota_window=6.0)
    emulator = emulator_factory(spec, faults)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"

    argv = ["crawl", *target_args(emulator), "-o", str(out), "--concurrency", "1", "-q"]
    assert run_cli(argv) == 0

    stats = emulator.stats()
    assert stats["throttled"] > 0  # the window's quota was spent and its end waited for
    assert stats["throttled"] <= 30  # one probe at a time (20-21 of 175 requests), not paced into
    assert_matches_truth(Crawled.of(read_ndjson(out)), emulator.backend.truth_records())
