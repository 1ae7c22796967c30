"""The limiter's decisions at their edges, with literal numbers: slow start's growth, when the limiter is
the bottleneck (a start waiting recently, half the rate used) in and out of slow start, how the accepted
rate is read, the round-trip average, the cut counter, and what ``RateLimiter`` hands to its core and
logs. The controller's rules (rounds, cuts, the hold, the cubic recovery) are pinned in
test_ratelimit.py."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from crawler.wire import ratelimit
from crawler.wire.ratelimit import AdaptiveRate, RateLimiter
from tests.support.limiter_support import VirtualClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def after_slow_start(rate: float, level: float) -> AdaptiveRate:
    """A core past its first throttle, at ``rate``, the last throttle at ``level``."""
    core = AdaptiveRate(None)
    core.throttled(0.0, sent_at=0.0)
    core.rate, core.level = rate, level
    return core


# ---- when a success grows the rate ----------------------------------------------------------------


def test_busy_workers_that_never_waited_on_the_pace_do_not_grow_it() -> None:
    core = AdaptiveRate(None)
    for i in range(20):  # 50 starts/s over the last 0.4 s, ten times the pace, yet none waited
        core.started(4.6 + (i + 1) * 0.02)
    core.succeeded(5.0, sent_at=4.99)
    assert core.rate == 5.0


def test_a_start_on_its_schedule_waited_on_the_pace() -> None:
    core = after_slow_start(rate=8.0, level=100.0)
    for i in range(5):
        core.started(0.5 + i * 0.125)  # the last at 1.0: next due at 1.125
    assert core.next_start(1.134) == 1.125  # due 9 ms ago (under LATE_CREDIT): it waited on the pace
    core.succeeded(1.184, sent_at=1.134)
    assert core.rate == pytest.approx(16.0)  # slow start: + 0.4 / 0.05 s


def test_a_start_later_than_its_schedule_did_not_wait() -> None:
    core = after_slow_start(rate=8.0, level=100.0)
    for i in range(5):
        core.started(0.5 + i * 0.125)
    assert core.next_start(1.1351) == 1.125  # due more than LATE_CREDIT ago: the pace was idle
    core.succeeded(1.1851, sent_at=1.1351)
    assert core.rate == 8.0


@pytest.mark.parametrize(("late", "waited"), [(0.0024, True), (0.0026, False)])
def test_at_a_fast_pace_a_start_late_by_half_an_interval_did_not_wait(late: float, waited: bool) -> None:
    core = after_slow_start(rate=200.0, level=1000.0)
    core.slow_start = False
    for i in range(50):
        core.started(0.755 + i * 0.005)  # 200/s, the last at 1.0: next due at 1.005
    core.next_start(1.005 + late)  # the interval is 5 ms: up to 2.5 ms late, it was waiting
    assert core._busy(1.0077) is waited


def test_a_start_later_than_half_an_interval_to_the_bit_did_not_wait() -> None:
    core = after_slow_start(rate=64.0, level=100.0)
    core.slow_start = False
    for i in range(40):
        core.started(1.0 - (39 - i) / 64.0)  # 64/s, the last at 1.0: next due at 1.015625
    core.next_start(1.0234375)  # late by exactly half an interval (1/128 s, under LATE_CREDIT)
    assert not core._busy(1.0235)


def test_under_one_request_a_second_a_pace_that_held_requests_back_is_still_the_bottleneck() -> None:
    core = after_slow_start(rate=0.8, level=1.0)
    core.slow_start = False
    core.started(10.0)
    assert core.next_start(10.001) == 11.25  # the next request waits 1.25 s on the pace ...
    assert core.next_start(11.25) == 11.25  # ... and starts when it is due
    core.started(11.25)
    # its answer, 20 ms later: the pace held a request back 1.27 s before, longer than a second;
    # counted from the start, the limiter is the bottleneck (it was not: never grew under 1/s)
    assert core._busy(11.27)


def test_in_slow_start_recently_means_four_round_trips() -> None:
    core = AdaptiveRate(None)
    core.rate = 20.0
    for i in range(5):
        core.started(4.92 + i * 0.02)  # 4.92 .. 5.0
    core.next_start(5.0)  # a start waits on the pace at 5.0 ...
    core.succeeded(5.3, sent_at=5.2)  # ... 0.3 s before this answer; round trip 0.1 s: window 0.4 s
    assert core.rate == pytest.approx(24.0)  # + min(5, 0.4 / 0.1)


def test_starts_under_half_the_rate_do_not_grow_it() -> None:
    core = after_slow_start(rate=20.0, level=100.0)
    core.started(5.0)  # 4/s over the last 0.25 s: a fifth of the pace
    core.next_start(5.01)
    core.succeeded(5.1, sent_at=5.05)
    assert core.rate == 20.0


def test_the_round_trip_is_a_moving_average() -> None:
    core = AdaptiveRate(None)
    core.succeeded(1.0, sent_at=0.9)
    assert core.rtt == pytest.approx(0.1)
    core.succeeded(2.0, sent_at=1.8)
    assert core.rtt == pytest.approx(0.12)  # 0.8 x 0.1 + 0.2 x 0.2


def test_a_start_exactly_the_credit_late_keeps_the_schedule() -> None:
    core = AdaptiveRate(100.0)
    core.started(0.0)
    core.started(0.02)  # due at 0.01: 0.01 late, the whole credit
    assert core.next_start(0.021) == pytest.approx(0.02)


# ---- the accepted rate -------------------------------------------------------------------------


# ---- RateLimiter around its core ---------------------------------------------------------------


def test_a_limiter_is_built_as_asked_and_refuses_no_concurrency_in_words() -> None:
    limiter = RateLimiter(None, 4)
    assert (limiter.concurrency, limiter.name) == (4, "")
    with pytest.raises(ValueError, match=r"^concurrency must be >= 1$"):
        RateLimiter(None, 0)
    with pytest.raises(ValueError, match=r"^ceiling must be > 0$"):
        RateLimiter(-1.0, 4)


def test_on_success_reports_the_clocks_time_and_the_send_time() -> None:
    clock = VirtualClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep)
    limiter.on_success(4.98)
    assert limiter.core.rtt == pytest.approx(0.02)
    limiter.on_success()  # no send time: the answer is taken as instant
    assert limiter.core.rtt == pytest.approx(0.8 * 0.02 + 0.2 * 1e-4)


async def test_released_requests_leave_the_initial_window_free_again() -> None:
    clock = VirtualClock()
    limiter = RateLimiter(None, 8, clock, clock.sleep)
    assert [await limiter.acquire(), await limiter.acquire()] == [0.0, 0.0]  # two in flight, unpaced
    limiter.release()
    limiter.release()
    starts = [await limiter.acquire() for _ in range(3)]
    assert starts == pytest.approx([0.0, 0.0, 0.2])  # two again unpaced, the third at the pace of 5/s


def test_a_fresh_core_has_no_level_no_cuts_and_counts_each_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "DRY_RUN", 10**9)  # six refusals over two seconds, none admitted: a stall
    core = AdaptiveRate(None)
    assert (core.level, core.cuts, core.rtt, core.share) == (None, 0, None, 0.0)
    for t in (1.0, 1.01, 1.02):  # three throttles in slow start: an alarm, one cut
        core.throttled(t, sent_at=t)
    assert core.cuts == 1
    for t in (3.0, 3.01, 3.02):  # a second later, three more from requests sent after it: another
        core.throttled(t, sent_at=t)
    assert core.cuts == 2


# ---- when the limiter is the bottleneck (growth is allowed only then) ---------------------------


def waiting(rate: float, starts: tuple[float, ...], at: float) -> AdaptiveRate:
    core = after_slow_start(rate=rate, level=100.0)
    for t in starts:
        core.started(t)
    core.next_start(at)  # a start waits on the pace at ``at``
    return core


def test_after_slow_start_recently_means_a_quarter_second_whatever_the_round_trip() -> None:
    core = waiting(20.0, tuple(4.92 + i * 0.02 for i in range(5)), at=5.0)
    assert core._busy(5.2)  # waited 0.2 s ago; 3 starts in (4.95, 5.2]: 12/s, over half of 20/s
    assert not core._busy(5.3)  # waited 0.3 s ago


def test_a_slow_pace_looks_back_two_of_its_intervals() -> None:
    core = waiting(5.0, (4.1, 4.45, 4.5), at=4.55)  # next due 4.7: waiting at 4.55
    assert core._busy(4.85)  # 0.3 s after the wait: within 2 / 5 = 0.4 s
    assert not core._busy(5.0)  # 0.45 s after it: not


def test_starts_at_exactly_half_the_rate_are_enough_and_fewer_are_not() -> None:
    core = waiting(8.0, (5.0,), at=5.1)  # one start in the last 0.25 s: 4/s, half of 8/s
    assert core._busy(5.2)
    core = waiting(20.0, (5.0,), at=5.01)  # 4/s: a fifth of the pace
    assert not core._busy(5.1)


def test_busy_looks_back_at_most_a_second_of_starts() -> None:
    core = AdaptiveRate(None)
    for t in (4.0, 4.25, 4.5, 4.75, 5.0):
        core.started(t)  # 4.0 falls out of the last second when 5.0 starts
    core.next_start(5.0)
    core.succeeded(5.0, sent_at=4.5)  # a 0.5 s round trip: four of them is 2 s, cut to the 1 s kept
    assert core._busy(5.0)  # 4 starts in (4.0, 5.0]: 4/s, at least half of 5/s


# ---- the accepted rate -------------------------------------------------------------------------


def test_the_accepted_rate_is_the_last_seconds_successes_or_the_last_ten_at_a_slow_pace() -> None:
    core = after_slow_start(rate=100.0, level=100.0)
    for i in range(30):
        core.succeeded(10.0 + i * 0.02, sent_at=10.0 + i * 0.02 - 0.01)  # 50/s from 10.0 to 10.58
    assert core.accepted(10.6) == pytest.approx(30.0)  # 30 in the last second
    slow = after_slow_start(rate=5.0, level=5.0)
    for i in range(12):
        slow.succeeded(i * 0.25, sent_at=i * 0.25 - 0.01)  # 4/s, 0.0 .. 2.75
    assert slow.accepted(2.75) == pytest.approx(10 / (2.75 - 0.5))  # the last ten span 2.25 s


def test_right_after_slow_start_the_accepted_rate_spans_the_time_since_it_ended() -> None:
    core = AdaptiveRate(None)
    core.rate = 1000.0
    for t in (1.0, 1.001, 1.002):
        core.throttled(t, sent_at=t)  # slow start ends at 1.002
    for i in range(5):
        core.succeeded(1.01 + i * 0.01, sent_at=1.005 + i * 0.01)
    assert core.accepted(1.052) == pytest.approx(5 / 0.1)  # over SHORT_SPAN at least
    for i in range(5, 20):
        core.succeeded(1.01 + i * 0.01, sent_at=1.005 + i * 0.01)
    assert core.accepted(1.302) == pytest.approx(20 / 0.3)  # over the 0.3 s since, not the second


# ---- RateLimiter around its core ---------------------------------------------------------------


def test_on_throttled_ignores_requests_sent_before_the_cut() -> None:
    clock = VirtualClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep)
    for i in range(3):
        clock.now = 5.0 + i * 0.01
        limiter.on_throttled(clock.now - 0.005)  # each sent on its own, not together by the window
    cut_to = limiter.rate
    assert cut_to < 5.0
    clock.now = 6.5
    for _ in range(3):
        limiter.on_throttled(4.95)  # sent before the cut at 5.02: no second cut
    assert limiter.rate == cut_to
    assert limiter.core.cuts == 1
    assert not limiter.core.stalled  # nor a drought: counted, they were one over a second and a half


def test_a_cut_is_logged_with_the_endpoint_and_both_rates_to_three_places() -> None:
    clock = VirtualClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep, name="http://127.0.0.1:1")
    limiter.core.rate = 7.12345
    with capture_logs() as logs:
        for i in range(3):
            clock.now = 5.0 + i * 0.01
            limiter.on_throttled(clock.now - 0.005)  # each sent on its own, not together by the window
    assert [e["event"] for e in logs] == ["ratelimit.cut"]
    assert logs[0]["log_level"] == "debug"  # a rate cut is the limiter doing its job, not news (issue 16)
    assert logs[0]["endpoint"] == "http://127.0.0.1:1"
    assert logs[0]["rate_before"] == 7.123
    assert logs[0]["rate"] == round(limiter.rate, 3)


def test_a_long_crawl_without_a_throttle_keeps_a_second_of_successes_not_all_of_them() -> None:
    core = AdaptiveRate(None)
    for i in range(100_000):  # 1,000/s for 100 s, never throttled: the accepted rate is never read
        t = i / 1000
        core.started(t)
        core.succeeded(t + 0.01, sent_at=t)
    assert len(core._successes) <= 1001
    assert len(core._starts) <= 2001  # two seconds of starts
