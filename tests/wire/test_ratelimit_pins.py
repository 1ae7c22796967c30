"""The limiter's decisions at their edges, with literal numbers: when a success may grow the rate (the
limiter must be what holds requests back: a start waiting recently, half the rate used), which window
"recently" is in and out of slow start, how the accepted rate is read after slow start, the round-trip
average, the cut counter, and what ``RateLimiter`` hands to its core and logs."""

from __future__ import annotations

import pytest
from anyio.lowlevel import checkpoint
from structlog.testing import capture_logs

from crawler.wire.ratelimit import AdaptiveRate, RateLimiter

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await checkpoint()


def after_slow_start(rate: float, level: float) -> AdaptiveRate:
    """A core past its first throttle, at ``rate``, the last throttle at ``level``."""
    core = AdaptiveRate(None)
    core.throttled(0.0, sent_at=0.0)
    core.rate, core.level = rate, level
    return core


# ---- when a success grows the rate ----------------------------------------------------------------


def test_a_fresh_core_has_no_level_no_cuts_and_counts_each_cut() -> None:
    core = AdaptiveRate(None)
    assert (core.level, core.cuts, core.rtt) == (None, 0, None)
    core.throttled(1.0, sent_at=1.0)
    core.throttled(2.0, sent_at=2.0)
    assert core.cuts == 2


def test_busy_workers_that_never_waited_on_the_pace_do_not_grow_it() -> None:
    core = AdaptiveRate(None)
    for i in range(20):  # 50 starts/s over the last 0.4 s, ten times the pace, yet none waited
        core.started(4.6 + (i + 1) * 0.02)
    core.succeeded(5.0, sent_at=4.99)
    assert core.rate == 5.0


def test_a_start_due_exactly_now_did_not_wait() -> None:
    core = after_slow_start(rate=8.0, level=100.0)
    for i in range(5):
        core.started(0.5 + i * 0.125)  # the last at 1.0: next due at 1.125
    assert core.next_start(1.125) == 1.125  # due now: starts at once, nothing waited
    core.succeeded(1.2, sent_at=1.15)
    assert core.rate == 8.0


def test_in_slow_start_recently_means_four_round_trips() -> None:
    core = AdaptiveRate(None)
    core.rate = 20.0
    for i in range(5):
        core.started(4.92 + i * 0.02)  # 4.92 .. 5.0
    core.next_start(5.0)  # a start waits on the pace at 5.0 ...
    core.succeeded(5.3, sent_at=5.2)  # ... 0.3 s before this answer; round trip 0.1 s: window 0.4 s
    assert core.rate == pytest.approx(24.0)  # + min(5, 0.4 / 0.1)


def test_after_slow_start_recently_means_a_quarter_second_whatever_the_round_trip() -> None:
    core = after_slow_start(rate=20.0, level=100.0)
    for i in range(5):
        core.started(4.92 + i * 0.02)
    core.next_start(5.0)
    core.succeeded(5.3, sent_at=5.2)  # the wait was 0.3 s ago: more than 0.25 s
    assert core.rate == 20.0


def slow_pace_waiting_at_4_55() -> AdaptiveRate:
    core = after_slow_start(rate=5.0, level=100.0)
    for t in (4.1, 4.45, 4.5):
        core.started(t)
    core.next_start(4.55)  # waiting at 4.55 (next due 4.7)
    return core


def test_a_slow_pace_looks_back_two_of_its_intervals() -> None:
    core = slow_pace_waiting_at_4_55()
    core.succeeded(4.85, sent_at=4.8)  # 0.3 s after the wait: within 2 / 5 = 0.4 s
    assert core.rate == pytest.approx(5.0 + 0.1 * 100.0 / 5.0)
    core = slow_pace_waiting_at_4_55()
    core.succeeded(5.0, sent_at=4.95)  # 0.45 s after it: not
    assert core.rate == 5.0


def test_a_wait_exactly_one_window_ago_still_counts() -> None:
    core = after_slow_start(rate=8.0, level=100.0)
    core.started(4.9)
    core.next_start(5.0)  # waiting at 5.0 (due 5.025)
    core.started(5.1)
    core.succeeded(5.25, sent_at=5.2)  # window max(0.25, 2 / 8) = 0.25 s, exactly
    assert core.rate == pytest.approx(8.0 + 0.1 * 100.0 / 8.0)


def test_starts_at_exactly_half_the_rate_are_enough_to_grow() -> None:
    core = after_slow_start(rate=8.0, level=100.0)
    core.started(5.0)  # one start in the last 0.25 s: 4/s, half of 8/s
    core.next_start(5.1)
    core.succeeded(5.2, sent_at=5.15)
    assert core.rate == pytest.approx(8.0 + 0.1 * 100.0 / 8.0)


def test_starts_under_half_the_rate_do_not_grow_it() -> None:
    core = after_slow_start(rate=20.0, level=100.0)
    core.started(5.0)  # 4/s over the last 0.25 s: a fifth of the pace
    core.next_start(5.01)
    core.succeeded(5.1, sent_at=5.05)
    assert core.rate == 20.0


def test_a_start_exactly_a_window_old_is_forgotten() -> None:
    core = AdaptiveRate(None)
    for t in (4.0, 4.25, 4.5, 4.75, 5.0):
        core.started(t)  # 4.0 falls out of the last second when 5.0 starts
    core.next_start(5.0)
    core.succeeded(5.0, sent_at=4.5)  # 0.5 s round trip: a 2 s window; 4 starts in it is 2/s < 2.5/s
    assert core.rate == 5.0


def test_growth_just_under_the_recovery_line_is_fast_and_at_it_is_slow() -> None:
    core = after_slow_start(rate=9.0, level=10.0)
    core.started(5.0)
    core.started(5.1)
    core.next_start(5.15)
    core.succeeded(5.2, sent_at=5.15)  # 9.0 is 0.9 x 10.0: the slow probe step
    assert core.rate == pytest.approx(9.0 + 0.01 * 10.0 / 9.0)


def test_a_success_for_a_request_sent_at_the_instant_of_the_cut_counts() -> None:
    core = after_slow_start(rate=8.0, level=100.0)
    core.throttled(5.0, sent_at=4.5)  # the cut at 5.0: 8/s -> 6.4/s
    assert core.rate == pytest.approx(6.4)
    core.started(5.0)
    core.started(5.1)
    core.next_start(5.15)
    core.succeeded(5.2, sent_at=5.0)
    assert core.rate > 6.4
    assert core.throttled(5.3, sent_at=5.0)  # and so does a throttle of such a request
    assert core.cuts == 3


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


def test_a_cut_reads_an_accepted_rate_under_one_per_second() -> None:
    core = AdaptiveRate(10.0)
    core.succeeded(5.0, sent_at=4.99)  # one success in the last second: 1/s
    assert core.throttled(5.5, sent_at=5.4)
    assert core.level == 1.0
    assert core.rate == pytest.approx(0.8)


def test_the_accepted_rate_of_a_young_crawl_is_over_its_age() -> None:
    core = AdaptiveRate(100.0)
    core.started(10.0)
    for i in range(5):
        core.succeeded(10.1 + i * 0.1, sent_at=10.05 + i * 0.1)
    assert core.accepted(10.5) == pytest.approx(10.0)  # 5 answers in its first half second


def ramp_ended_at_one(rate_before_cut: float) -> AdaptiveRate:
    core = AdaptiveRate(None)
    core.started(0.0)
    core.rate = rate_before_cut
    core.throttled(1.0, sent_at=1.0)  # slow start ends at 1.0, at half that rate
    return core


def test_after_slow_start_the_accepted_rate_spans_the_time_since_it_ended() -> None:
    core = ramp_ended_at_one(1000.0)
    for i in range(5):
        core.succeeded(1.05 + i * 0.05, sent_at=1.01 + i * 0.05)
    assert core.accepted(1.5) == pytest.approx(10.0)  # 5 in the 0.5 s since the ramp


def test_after_slow_start_the_accepted_rate_spans_at_least_a_tenth_of_a_second() -> None:
    core = ramp_ended_at_one(1000.0)
    for t in (0.96, 0.97):
        core.succeeded(t, sent_at=t)
    for t in (1.01, 1.02, 1.03):
        core.succeeded(t, sent_at=t)
    assert core.accepted(1.05) == pytest.approx(50.0)  # 5 in the last 0.1 s


def test_after_slow_start_the_accepted_rate_spans_at_least_four_requests_of_the_pace() -> None:
    core = ramp_ended_at_one(20.0)  # 10/s after the cut: four requests are 0.4 s
    for t in (0.75, 0.9, 1.1, 1.15):
        core.succeeded(t, sent_at=t)
    assert core.accepted(1.2) == pytest.approx(7.5)  # 3 in (0.8, 1.2]


# ---- RateLimiter around its core ---------------------------------------------------------------


def test_a_limiter_is_built_as_asked_and_refuses_no_concurrency_in_words() -> None:
    limiter = RateLimiter(None, 4)
    assert (limiter.concurrency, limiter.name) == (4, "")
    with pytest.raises(ValueError, match=r"^concurrency must be >= 1$"):
        RateLimiter(None, 0)
    with pytest.raises(ValueError, match=r"^ceiling must be > 0$"):
        RateLimiter(-1.0, 4)


def test_on_success_reports_the_clocks_time_and_the_send_time() -> None:
    clock = FakeClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep)
    limiter.on_success(4.98)
    assert limiter.core.rtt == pytest.approx(0.02)
    limiter.on_success()  # no send time: the answer is taken as instant
    assert limiter.core.rtt == pytest.approx(0.8 * 0.02 + 0.2 * 1e-4)


def test_on_throttled_cuts_once_for_the_requests_sent_before_the_cut() -> None:
    clock = FakeClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep)
    limiter.on_throttled(4.9)
    assert limiter.rate == 2.5
    clock.now = 5.1
    limiter.on_throttled(4.95)  # sent before the cut at 5.0: no second cut
    assert limiter.rate == 2.5
    limiter.on_throttled()  # no send time: taken as sent now, after the cut
    assert limiter.rate == 2.0
    assert limiter.core.cuts == 2


def test_a_cut_is_logged_with_the_endpoint_and_both_rates_to_three_places() -> None:
    clock = FakeClock(5.0)
    limiter = RateLimiter(None, 4, clock, clock.sleep, name="http://127.0.0.1:1")
    limiter.core.rate = 7.12345
    with capture_logs() as logs:
        limiter.on_throttled(4.9)
    assert logs == [
        {
            "event": "ratelimit.cut",
            "log_level": "debug",  # a rate cut is the limiter doing its job, not news (issue 16)
            "endpoint": "http://127.0.0.1:1",
            "rate_before": 7.123,
            "rate": 3.562,
        }
    ]


async def test_released_requests_leave_the_initial_window_free_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, 8, clock, clock.sleep)
    assert [await limiter.acquire(), await limiter.acquire()] == [0.0, 0.0]  # two in flight, unpaced
    limiter.release()
    limiter.release()
    starts = [await limiter.acquire() for _ in range(3)]
    assert starts == pytest.approx([0.0, 0.0, 0.2])  # two again unpaced, the third at the pace of 5/s
