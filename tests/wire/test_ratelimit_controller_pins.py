"""The rate controller's rules at their exact edges, with literal numbers worked out by hand (issue 18: an
expected value computed from the module's own constants passes whatever the constant is).

``AdaptiveRate`` is a pure state machine: every method takes ``now``, so each test feeds it answers at
chosen instants (binary fractions where a boundary is compared exactly) and reads the rate, the anchor
(``level``) and the hold. Pinned here: when a round ends (full, late, the alarm, exactly at each
threshold), which answers count after a cut, when a round cuts and when it grows, the anchor and the
bottom of quick successive cuts, CUBIC's K and the hold before probing, the ceiling during recovery,
slow start's restart, the accepted rate's slow-pace reading, and how much history the limiter keeps.
"""

from __future__ import annotations

import anyio
import pytest

from crawler.wire import ratelimit
from crawler.wire.ratelimit import AdaptiveRate, RateLimiter
from tests.support.limiter_support import VirtualClock


def past_slow_start(rate: float, level: float | None, ceiling: float | None = None) -> AdaptiveRate:
    """A core out of slow start at ``rate``, anchored at ``level``, no round begun."""
    core = AdaptiveRate(ceiling)
    core.slow_start, core.rate, core.level = False, rate, level
    return core


def busy(core: AdaptiveRate, now: float, starts: int = 25) -> None:
    """Make the limiter the bottleneck at ``now``: ``starts`` starts over the last 0.2 s and a start
    waiting on the pace."""
    for i in range(starts):
        core.started(now - 0.2 + i * 0.2 / starts)
    core.next_start(now - 1e-6)


def answers(core: AdaptiveRate, times: list[float], throttled: set[int], rtt: float = 0.01) -> list[bool]:
    """One answer at each of ``times`` (those at the indices in ``throttled`` throttled), each sent
    ``rtt`` before it came; the cut flag of each."""
    out = []
    for i, t in enumerate(times):
        if i in throttled:
            out.append(core.throttled(t, sent_at=t - rtt))
        else:
            core.succeeded(t, sent_at=t - rtt)
            out.append(False)
    return out


# ---- when a round ends -----------------------------------------------------------------------------


def test_a_round_of_ten_answers_ends_exactly_at_its_tenth_of_a_second() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    # nine answers from 0.0 to 0.08, the tenth at exactly 0.1 s after the first; the last three throttled
    times = [i * 0.01 for i in range(9)] + [0.1]
    assert answers(core, times, {7, 8, 9}) == [False] * 9 + [True]


def test_a_round_lasts_two_round_trips_not_three() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    # 100 ms round trips: ten answers 25 ms apart end the round at 0.225 s (over 0.2 s, under 0.3 s)
    times = [1.0 + i * 0.025 for i in range(10)]
    assert answers(core, times, {7, 8, 9}, rtt=0.1) == [False] * 9 + [True]


def test_a_late_round_ends_with_three_answers_exactly_a_second_long() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    # two throttles of three (not an alarm, not a full round): the round ends at 1.0 s and cuts
    assert answers(core, [0.0, 0.5, 1.0], {1, 2}) == [False, False, True]
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [0.0, 0.5, 0.875], {1, 2}) == [False, False, False]  # under a second: goes on


def test_the_alarm_rings_at_half_the_answers_throttled() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    # six answers within 50 ms, the last three throttled: three is half of six, and it cuts at once
    times = [i * 0.01 for i in range(6)]
    assert answers(core, times, {3, 4, 5}) == [False] * 5 + [True]


@pytest.mark.usefixtures("no_stall")
def test_the_alarm_rings_again_exactly_a_second_after_the_last_cut() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [0.5, 0.75, 1.0], {0, 1, 2}) == [False, False, True]  # an alarm: cut at 1.0
    # a clean round ends at 1.375 (round start 1.0, ten answers), so the next round starts there
    assert answers(core, [1.25 + i / 128 for i in range(10)], set()) == [False] * 10
    # three throttles, the third exactly 1.0 s after the cut: 0.625 s into the round, so only the alarm
    assert answers(core, [1.875, 1.9375, 2.0], {0, 1, 2}) == [False, False, True]


@pytest.mark.usefixtures("no_stall")
def test_answers_to_requests_sent_at_the_cut_instant_count() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [0.5, 0.75, 1.0], {0, 1, 2}) == [False, False, True]  # cut at 1.0
    # three throttled answers to requests sent exactly at 1.0: the new pace's, so a second alarm
    assert [core.throttled(t, sent_at=1.0) for t in (2.0, 2.0, 2.0)] == [False, False, True]


# ---- when a round cuts, and when it grows -------------------------------------------------------------


def test_two_throttles_cut_only_when_the_rounds_share_is_over_twice_the_tolerated_one() -> None:
    # 30 answers, two throttled: 6.7% of the round, over 5% (the smoothed share is only 1.7%): it cuts
    core = past_slow_start(rate=100.0, level=100.0)
    times = [i * 0.003 for i in range(29)] + [0.125]  # the round is full only at its 30th answer
    assert answers(core, times, {28, 29})[-1] is True
    # 40 answers, two throttled: exactly 5%, not over it, and 1.25% smoothed: no cut
    core = past_slow_start(rate=100.0, level=100.0)
    times = [i * 0.002 for i in range(39)] + [0.125]
    assert answers(core, times, {38, 39}) == [False] * 40
    assert core.share == 0.0125
    assert core.rate == 100.0


def test_a_smoothed_share_exactly_at_the_tolerated_one_does_not_cut() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [i * 0.02 for i in range(10)], {9}) == [False] * 10  # a lone throttle: 2.5%
    assert core.share == 0.025
    # 80 answers, two throttled: 2.5% this round, 2.5% smoothed: at the tolerated share, not over it
    times = [0.19 + i * 0.001 for i in range(79)] + [0.5]  # the round began at 0.18
    assert answers(core, times, {78, 79}) == [False] * 80
    assert core.share == 0.025
    assert core.rate == 100.0
    # a clean round pulls the smoothed share down by a quarter of the way to 0
    assert answers(core, [0.75 + i * 0.02 for i in range(10)], set()) == [False] * 10
    assert core.share == pytest.approx(0.01875)


def test_a_round_exactly_at_the_tolerated_share_still_grows() -> None:
    core = past_slow_start(rate=90.0, level=100.0)  # K = 0: the curve is at the anchor from the start
    times = [i * 0.002 for i in range(39)] + [0.125]  # 40 answers, one throttled: 2.5%
    busy(core, 0.125)
    assert answers(core, times, {20}) == [False] * 40
    # 0.125 s of growth: the curve says 100.02, the step at most 0.5 x 0.125 = 6.25%: 90 x 1.0625
    assert core.rate == pytest.approx(95.625)


def test_no_growth_when_the_workers_not_the_limiter_hold_requests_back() -> None:
    core = past_slow_start(rate=90.0, level=100.0)
    assert answers(core, [i * 0.02 for i in range(10)], set()) == [False] * 10  # nothing waited
    assert core.rate == 90.0


def test_slow_start_again_leaves_the_cubic_curve_alone() -> None:
    core = past_slow_start(rate=50.0, level=100.0)
    core.slow_start = True  # as after a restart: slow start grows the rate per success, not per round
    busy(core, 5.0)
    core._grow(5.0, 0.2)
    assert core.rate == 50.0


def test_a_start_waiting_exactly_a_quarter_second_ago_still_counts() -> None:
    core = past_slow_start(rate=8.0, level=100.0)
    core.started(4.875)
    core.next_start(4.9375)  # due at 5.0: a start waits on the pace at 4.9375
    core.started(5.0)
    # 0.25 s after the wait, one start in the last 0.25 s: 4/s, half of 8/s
    assert core._busy(5.1875)
    assert not core._busy(5.25)


# ---- the cut: the anchor and the bottom ----------------------------------------------------------------


@pytest.fixture
def no_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    """The episode's arithmetic alone: every answer of these rounds is refused, so eight of them running,
    or three over half a second with nothing admitted, would be a stall first (its own pins are below),
    and the refusals after it probes, not rounds."""
    monkeypatch.setattr(ratelimit, "STALL_RUN", 10**9)
    monkeypatch.setattr(ratelimit, "DRY_RUN", 10**9)


@pytest.fixture
def no_dry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's own arithmetic: these refusals span half a second or more with nothing admitted, which
    the drought's rule would call a stall first (its own pins follow the run's)."""
    monkeypatch.setattr(ratelimit, "DRY_RUN", 10**9)


@pytest.mark.usefixtures("no_stall")
def test_cuts_in_quick_succession_hold_at_half_the_first_anchor_even_with_nothing_admitted() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    # 1.0: an alarm (three throttles of three): the anchor is at most halved: 50, the rate 50 x 0.875
    answers(core, [1.0 + i * 0.02 for i in range(10)], set(range(10)))
    assert (core.level, core.rate) == (50.0, 43.75)
    # 1.34: a full round of ten throttles (the seven left of the first burst and three more), under a
    # second after the cut: nothing admitted, so the anchor is 0; the rate holds at half of 50
    answers(core, [1.3 + i * 0.02 for i in range(10)], set(range(10)))
    assert core.level == 0.0
    assert core.rate == 25.0
    assert core.cuts == 2


def test_a_quick_second_cut_under_half_the_first_anchor_stops_at_that_half_and_recovers_from_it() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    times = [1.0 + i * 0.02 for i in range(10)]
    assert answers(core, times, {8, 9})[-1]  # 20% throttled: anchored at 80, the rate 80 x 0.975 = 78
    assert core.level == pytest.approx(80.0)
    assert core.rate == pytest.approx(78.0)
    # 0.3 s later, 60% of a full round throttled: 78 x 0.4 = 31.2 admitted, but the bottom is 80 / 2
    times = [1.3 + i * 0.02 for i in range(10)]
    assert answers(core, times, {4, 5, 6, 7, 8, 9})[-1]
    assert core.level == pytest.approx(31.2)
    assert core.rate == 40.0
    # the rate is above the anchor, so the curve starts at the anchor (K = 0): 31.2 x 1.1 after 1 s of
    # growth (under 40), 31.2 x 1.8 = 56.16 after 2 s, capped at 25% a round: 50
    busy(core, 3.0)
    core._grow(3.0, 1.0)
    assert core.rate == 40.0
    core._grow(3.0, 1.0)
    assert core.rate == pytest.approx(50.0)


@pytest.mark.usefixtures("no_stall")
def test_a_cut_exactly_a_second_after_the_last_starts_a_new_episode() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [0.5, 0.75, 1.0], {0, 1, 2})[-1]  # cut at 1.0: anchor 50, rate 43.75
    # three throttles up to exactly 2.0: a late round; an alarm round caps the anchor at half the pace,
    # 21.875, and no bottom from the last episode (not under a second since): 21.875 x (1 - 0.21875)
    assert answers(core, [1.5, 1.75, 2.0], {0, 1, 2})[-1]
    assert core.level == 21.875
    assert core.rate == pytest.approx(17.08984375)
    # a full round of throttles 0.64 s later: the new episode's bottom is half of 21.875
    assert answers(core, [2.5 + i / 64 for i in range(10)], set(range(10)))[-1]
    assert core.rate == pytest.approx(10.9375)


@pytest.mark.usefixtures("no_stall")
def test_an_episode_lasts_a_second_from_its_first_cut_however_often_the_cuts_come() -> None:
    """A quota far below the rate throttles every round, so the cuts come under a second apart for as
    long as the rate is over it. Held while they kept coming, the bottom (half the first anchor) kept
    a rate at 2.5 x a quota that fell to a fifth, 60% throttled, to the end of the crawl."""
    core = past_slow_start(rate=100.0, level=100.0)
    # rounds of ten throttles a quarter second apart: the alarm at 1.03125 anchors at 50 (rate 43.75),
    # then full rounds at 1.28125, 1.53125 and 1.78125, nothing admitted: held at half of 50
    for start in (1.0, 1.25, 1.5, 1.75):
        assert answers(core, [start + i / 64 for i in range(10)], set(range(10)))[2]
        assert core.rate == (43.75 if start == 1.0 else 25.0)
    # 2.03125, exactly a second after the episode's first cut (a quarter after the last): a new episode,
    # anchored at what this round admitted (nothing), so the rate falls to the floor
    assert answers(core, [2.0 + i / 64 for i in range(10)], set(range(10)))[2]
    assert core.level == 0.0
    assert core.rate == pytest.approx(0.2)


@pytest.mark.usefixtures("no_stall")
def test_a_quick_cut_after_slow_start_has_no_episode_bottom() -> None:
    core = AdaptiveRate(None)
    core.rate = 40.0
    # slow start ends on an alarm at 0.54: anchored at half of 40 (under 40 / e^0.4), the rate 17.5
    assert answers(core, [0.5, 0.52, 0.54], {0, 1, 2})[-1]
    assert (core.level, core.rate) == (20.0, 17.5)
    # a full round of throttles 0.35 s later: slow start may have overshot many times over, so no
    # bottom from the anchor it found: the rate falls to the floor, 0.2/s
    assert answers(core, [0.75 + i / 64 for i in range(10)], set(range(10)))[-1]
    assert core.rate == pytest.approx(0.2)


def test_right_after_slow_start_the_bottom_counts_successes_over_a_whole_second() -> None:
    core = AdaptiveRate(None)
    core.rate = 40.0
    assert answers(core, [0.96, 0.98, 1.0], {0, 1, 2})[-1]  # slow start ends at 1.0: rate 17.5
    for i in range(10):  # ten answers to requests of the old pace by 1.04: they count as admitted
        core.succeeded(1.0 + (i + 1) / 256, sent_at=0.999)
    # a full round at 1.1: nine successes and one throttle, a lone one but the smoothed share is
    # 0.25 + 0.25 x (0.1 - 0.25) = 0.2125: a cut of 10.625%. Admitted: 19 successes in the 0.1 s since
    # slow start (190/s), so the whole 17.5; the bottom is half of the last whole second's 19, not of 190
    times = [1.04 + i * 0.005 for i in range(9)] + [1.1]
    assert answers(core, times, {9})[-1]
    assert core.level == 17.5
    assert core.rate == pytest.approx(15.640625)  # 17.5 x 0.89375


def test_an_edge_found_within_fifteen_percent_holds_the_probe_for_the_throttles_it_cost() -> None:
    core = past_slow_start(rate=85.0, level=80.0)
    # 20% of a full round throttled: 85 x 0.8 = 68 admitted, exactly 15% under the last anchor: the same
    # edge, so the next probe waits for 2 throttles / 1% = 200 answers
    assert answers(core, [1.0 + i * 0.02 for i in range(10)], {8, 9})[-1]
    assert core.level == 68.0
    assert core._hold == 200.0


def test_an_edge_found_twice_is_recorded_as_the_highest_and_an_edge_found_elsewhere_is_not() -> None:
    core = past_slow_start(rate=85.0, level=80.0)
    assert core._hold_at(100.0) == 0.0  # 25% over the anchor: an edge elsewhere, not found twice
    assert core._highest == 0.0
    core._probe_cost = 2
    assert core._hold_at(68.0) == 200.0  # exactly 15% under: the same edge, found twice
    assert core._highest == 68.0
    assert core._hold_at(92.0) == 200.0  # exactly 15% over: the same edge, and the highest now
    assert core._highest == 92.0
    core.level = 40.0
    assert core._hold_at(40.0) == 200.0  # under the highest, which stays
    assert core._highest == 92.0


def test_a_hold_far_under_the_highest_edge_found_twice_lasts_at_most_ten_seconds() -> None:
    core = past_slow_start(rate=9.0, level=10.0)
    core._highest, core._probe_cost = 20.5, 3  # 300 answers: 30 s at 10/s
    # 10 is under half of 20.5: the quota fell, and it may come back, so 10 s at 10/s, 100 answers
    assert core._hold_at(10.0) == pytest.approx(100.0)
    core._highest = 20.0
    assert core._hold_at(10.0) == 300.0  # exactly half: not fallen far, the hold of what probing cost
    core._highest, core._probe_cost = 40.0, 0
    assert core._hold_at(10.0) == 0.0  # nothing paid for: no hold, capped or not
    core._probe_cost = 1
    assert core._hold_at(10.0) == 100.0  # 1 throttle / 1% = 100 answers, under 10 s of 10/s anyway


def test_the_union_of_endpoints_forgets_the_highest_edge_found_twice() -> None:
    core, other = past_slow_start(rate=10.0, level=10.0), past_slow_start(rate=10.0, level=10.0)
    core._highest = 30.0  # found by collisions, not the quota's edge
    core.absorb(other)
    assert core._highest == 0.0


def test_the_hold_lasts_exactly_its_number_of_answers() -> None:
    core = past_slow_start(rate=85.0, level=80.0)
    assert answers(core, [1.0 + i * 0.02 for i in range(10)], {8, 9})[-1]  # cut at 1.18, hold 200
    assert core.rate == pytest.approx(66.3)  # 68 x (1 - 0.025)
    # 198 answers within the round's first 0.1 s, the 199th ends it: held at 0.985 x 68 = 66.98
    times = [1.2] * 198 + [1.375]
    busy(core, 1.375)
    answers(core, times, set())
    assert core.rate == pytest.approx(66.98)
    # ten more (209 since the cut) end the next round, 0.125 s long: paid for, the curve goes on from
    # the hold: t = -0.5313 + 0.125, 68 x (1 + 0.1 x t^3) = 67.5438
    busy(core, 1.5)
    answers(core, [1.4 + i * 0.01 for i in range(9)] + [1.5], set())
    assert core.rate == pytest.approx(67.5438, rel=1e-5)


def test_held_growth_stops_just_under_the_anchor() -> None:
    core = past_slow_start(rate=90.0, level=100.0)
    core._k, core._hold = 1.0, 100.0  # K 1 s; 100 answers to go before the next probe
    busy(core, 5.0)
    core._grow(5.0, 2.0)  # 2 s of growth, held at K less the hold: 0.985 x 100
    assert core.rate == pytest.approx(98.5)


# ---- recovery after a cut: K, the ceiling, slow start again ------------------------------------------


def test_after_a_cut_the_curve_starts_k_seconds_before_the_anchor() -> None:
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [1.0 + i * 0.02 for i in range(10)], {7, 8, 9})[-1]
    assert core.level == pytest.approx(70.0)
    assert core.rate == pytest.approx(67.375)
    # K = (0.0375 / 0.1)^(1/3) = 0.72112 s; a clean round 0.2 s long: t = -0.52112,
    # 70 x (1 + 0.1 x t^3) = 69.00936 (under the 10% step)
    busy(core, 1.38)
    answers(core, [1.2 + i * 0.02 for i in range(10)], set())
    assert core.rate == pytest.approx(69.00936, rel=1e-6)


def test_recovery_never_passes_the_ceiling() -> None:
    core = past_slow_start(rate=9.5, level=10.0, ceiling=10.0)  # K = 0
    busy(core, 5.0)
    core._grow(5.0, 1.0)  # the curve says 11, the step 9.5 x 1.25: the ceiling says 10
    assert core.rate == 10.0


def test_slow_start_again_only_at_twice_the_anchor() -> None:
    core = AdaptiveRate(None)
    core.rate = 40.0
    assert answers(core, [0.5, 0.52, 0.54], {0, 1, 2})[-1]  # slow start ends: anchor 20, rate 17.5
    busy(core, 3.0, 100)
    core._grow(3.0, 0.25)  # grown a little, far from 40: no slow start
    assert not core.slow_start
    core.rate = 40.0
    core._grow(3.0, 0.1)  # at twice the anchor without a throttle since: slow start again
    assert core.slow_start


def test_after_slow_start_resumes_an_answer_sent_at_the_cut_grows_the_rate() -> None:
    core = AdaptiveRate(None)
    core.rate = 40.0
    assert answers(core, [0.5, 0.52, 0.54], {0, 1, 2})[-1]  # cut at 0.54
    core.rate = 40.0
    busy(core, 3.0, 100)
    core._grow(3.0, 0.1)
    assert core.slow_start
    busy(core, 3.0, 100)
    core.succeeded(3.0, sent_at=0.54)  # sent exactly at the cut: at the new pace, so it grows the rate
    # a 2.46 s round trip: slow start adds 0.4 / 2.46 requests/s (e^0.4 a round trip), not 10
    assert core.rate == pytest.approx(40.16260, rel=1e-6)


def test_a_start_exactly_the_credit_late_keeps_the_schedule() -> None:
    core = AdaptiveRate(100.0)
    core.started(0.0)
    core.started(0.02)  # due at 0.01: late by exactly the 10 ms credit (0.02 - 0.01 == 0.01 exactly)
    # on schedule: counted as started at 0.01, so the next is due at 0.02, already past
    assert core.next_start(0.021) == pytest.approx(0.02)


# ---- the accepted rate, and how much history is kept -----------------------------------------------


def test_the_accepted_rate_at_a_slow_pace_counts_ten_answers_over_their_span() -> None:
    core = AdaptiveRate(None)
    for i in range(12):
        core.succeeded(i / 16, sent_at=i / 16 - 0.01)
    # the tenth-last answer exactly a span before now: it is not inside the span: 9 in 0.5625 s
    assert core.accepted(0.6875, span=0.5625) == 16.0
    slow = AdaptiveRate(None)
    for i in range(10):
        slow.succeeded(i / 32, sent_at=i / 32 - 0.01)
    # ten answers over 0.28125 s, more than the span: ten over their own span
    assert slow.accepted(0.28125, span=0.125) == pytest.approx(10 / 0.28125)


def test_the_limiter_keeps_exactly_the_last_seconds_successes_and_two_of_starts() -> None:
    core = AdaptiveRate(None)
    for i in range(100):
        core.started(i / 32)
        core.succeeded(i / 32, sent_at=i / 32)
    # at 99/32 s the last second is (67/32, 99/32]: 32 successes (the one at exactly 67/32 is out);
    # starts over two seconds, (35/32, 99/32]: 64 (a throttle's answer comes after later starts)
    assert (len(core._starts), len(core._successes)) == (64, 32)
    core.accepted(99 / 32 + 0.5)  # half a second later: (83/32, 115/32] holds 16
    assert len(core._successes) == 16


def test_on_throttled_without_a_send_time_takes_the_answer_as_sent_now() -> None:
    class Clock:
        now = 5.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    limiter = RateLimiter(None, 4, clock)
    for t in (5.0, 5.01, 5.02):
        clock.now = t
        limiter.on_throttled()
    assert limiter.core.cuts == 1


@pytest.mark.parametrize(
    ("rate", "asked"),
    [
        (2500.0, 0.001),  # 0.4 ms to wait: under half a millisecond, a whole one is asked for
        (2000.0, 0.001),  # exactly 0.5 ms: still a whole millisecond
        (500.0, 0.002),  # 2 ms: asked for as it is
    ],
)
def test_the_pacer_asks_for_at_least_a_millisecond_beyond_half_of_one(rate: float, asked: float) -> None:
    clock = VirtualClock()
    limiter = RateLimiter(rate, 4, clock, clock.sleep)

    async def two_starts() -> None:
        await limiter.acquire()
        await limiter.acquire()

    anyio.run(two_starts)
    assert clock.waits[0] == pytest.approx(asked, abs=1e-12)


# ---- slow start's window ---------------------------------------------------------------------------


def window_after(answered: int, rtt: float = 0.015625) -> AdaptiveRate:
    """A core in slow start whose window has taken ``answered`` answers (2 + ``answered`` wide), with
    ``rtt`` as its round trip, and 64 starts 1/256 s apart up to 1.0 s (256/s over any span)."""
    core = AdaptiveRate(None)
    for _ in range(answered):
        core.succeeded(0.5, sent_at=0.5 - rtt)
    for i in range(64):
        core.started(1.0 - (63 - i) / 256)
    return core


def test_the_first_throttle_takes_the_windows_pace_only_once_it_is_past_twice_its_start() -> None:
    at_four = window_after(2)  # a window of 4: no wider than twice its start of 2
    at_four.throttled(1.0, sent_at=0.99)
    assert at_four.rate == 5.0
    at_five = window_after(3)  # 5: wider, so the pace it sent (starts over the last 0.1 s) is the rate
    at_five.throttled(1.0, sent_at=0.99)
    assert at_five.rate == pytest.approx(26 / 0.1)  # the 26 starts after 0.9: 1.0 - k/256, k < 25.6


def test_the_windows_pace_is_read_over_two_round_trips_when_longer_than_a_tenth_of_a_second() -> None:
    core = window_after(3, rtt=0.125)  # two round trips: 0.25 s
    core.throttled(1.0, sent_at=0.99)
    assert core.rate == pytest.approx(64 / 0.25)  # all 64 starts, the first at 0.7539, are after 0.75


def cascade(now: float) -> AdaptiveRate:
    """A cut at ``now``, slow start having ended at 4.0 and the last cut at 4.5 anchored at 200/s: the
    round read 90% throttled at 300/s (admits 30/s), but a cut so soon after another goes no lower than
    half that anchor (100/s)."""
    core = past_slow_start(rate=300.0, level=200.0)
    core._ramp_end, core._last_cut, core._episode, core._episode_at = 4.0, 4.5, 200.0, 4.5
    core._cut(now, 0.9, full=True)
    assert core.rate == 100.0
    return core


def test_within_a_second_of_slow_starts_end_a_cut_held_up_by_the_floor_anchors_at_the_rate() -> None:
    assert cascade(4.96875).level == 100.0  # recover from the 100/s the floor left, not from 30/s
    assert cascade(5.0).level == pytest.approx(30.0)  # a second after: the anchor is what the round admitted


# ---- the initial window's requests, started together ----------------------------------------------


def test_requests_the_initial_window_started_together_are_one_refusal_not_three() -> None:
    """A crawl's first listings (ListServices answered, then a handful of ListFunctions at once) on a
    bucket that holds no burst: it admits one and refuses the others, which says the bucket holds no
    burst, not that 5/s is too fast. Counted as three, they were an alarm that cut 5/s to 2.266/s, and
    the crawl spent seconds climbing back."""
    core = AdaptiveRate(None)
    core.started(0.0)
    core.succeeded(0.02, sent_at=0.0)
    for _ in range(4):  # four listings at once
        core.started(0.02)
    core.succeeded(0.04, sent_at=0.02)
    cuts = [core.throttled(0.0400 + i / 1024, sent_at=0.02) for i in range(3)]
    assert cuts == [False, False, False]
    assert core.rate == 5.0
    assert core.slow_start


def test_after_the_window_shut_a_request_sent_on_its_own_counts_again() -> None:
    core = AdaptiveRate(None)
    core.started(0.0)
    core.succeeded(0.02, sent_at=0.0)
    core.throttled(0.04, sent_at=0.02)  # shuts the window at 0.04
    core.throttled(0.045, sent_at=0.02)  # together with it: not counted
    # two throttles of requests sent since: with the first, three in the round, an alarm in slow start
    assert core.throttled(0.05, sent_at=0.04) is False
    assert core.throttled(0.06, sent_at=0.045) is True
    assert core.rate == pytest.approx(2.266, abs=0.001)


def test_a_window_that_grew_takes_every_refusal_of_its_requests() -> None:
    """Past twice the initial window the requests started at the window's pace, not together: each
    refusal counts (slow start overshot, and the cut must see by how much)."""
    core = AdaptiveRate(None)
    for i in range(4):  # four answers: the window is 6, more than twice the initial 2
        core.started(i / 100)
        core.succeeded(i / 100 + 0.02, sent_at=i / 100)
    cuts = [core.throttled(0.1 + i / 1024, sent_at=0.07) for i in range(3)]
    assert cuts == [False, False, True]


# ---- a stall: the server admits nothing ------------------------------------------------------------


def cut_at_one_second() -> AdaptiveRate:
    """A core cut by an alarm at 1.0 (three refusals): anchored at 50, paced at 43.75, no run."""
    core = past_slow_start(rate=100.0, level=100.0)
    assert answers(core, [0.5, 0.75, 1.0], {0, 1, 2})[-1]
    assert (core.level, core.rate, core._refused_run) == (50.0, 43.75, 0)
    return core


def test_three_refusals_over_half_a_second_with_nothing_admitted_are_a_stall_a_cut_between_or_not() -> None:
    # one request in flight (--concurrency 1): the run of eight never came, the cuts restarted it
    core = past_slow_start(rate=40.0, level=40.0)
    core.rtt = 1 / 64
    core.throttled(1.0, sent_at=1.0 - 1 / 64)
    core.throttled(1.25, sent_at=1.25 - 1 / 64)
    assert core.throttled(1.5 - 1 / 128, sent_at=1.5 - 1 / 64)  # an alarm cuts; three, under 1/2 s
    assert not core._stalled
    core.throttled(1.5, sent_at=1.5 - 1 / 256)  # sent after the cut, half a second after the first
    assert (core._stalled, core._stall_at, core._refused_run, core.cuts) == (True, 1.5, 1, 1)


def test_a_refusal_sent_before_the_last_cut_is_not_counted_towards_a_drought() -> None:
    core = past_slow_start(rate=40.0, level=40.0)
    core.rtt = 1 / 64
    core.throttled(1.0, sent_at=1.0 - 1 / 64)
    core.throttled(1.25, sent_at=1.25 - 1 / 64)
    assert core.throttled(1.5 - 1 / 128, sent_at=1.5 - 1 / 64)  # the cut at 1.5 - 1/128
    core.throttled(1.5, sent_at=1.5 - 1 / 64)  # sent at the old pace
    assert (core._stalled, core._dry) == (False, 3)


def test_any_admitted_answer_ends_a_drought() -> None:
    core = past_slow_start(rate=40.0, level=40.0)
    core.rtt = 1 / 64
    core.throttled(1.0, sent_at=1.0 - 1 / 64)
    core.throttled(1.25, sent_at=1.25 - 1 / 64)
    core.succeeded(1.3, sent_at=0.5)  # sent long before: still, the server admitted one
    core.throttled(1.5, sent_at=1.5 - 1 / 64)
    core.throttled(1.75, sent_at=1.75 - 1 / 64)
    assert (core._stalled, core._dry) == (False, 2)
    core.throttled(2.0, sent_at=2.0 - 1 / 64)  # three from 1.5: half a second
    assert core._stalled


def test_a_droughts_half_second_is_at_least_a_round_trip() -> None:
    core = past_slow_start(rate=40.0, level=40.0)
    core.rtt = 0.75
    for t in (1.0, 1.25, 1.5):
        core.throttled(t, sent_at=t - 1 / 64)
    assert not core._stalled
    core.throttled(1.75, sent_at=1.75 - 1 / 64)
    assert core._stalled
    fresh = past_slow_start(rate=40.0, level=40.0)  # no answer admitted yet: no round trip known
    for t in (1.0, 1.25, 1.5):
        fresh.throttled(t, sent_at=t - 1 / 64)
    assert fresh._stalled  # half a second, no round trip to wait for


def test_a_drought_resumes_at_most_at_what_the_whole_second_before_it_admitted() -> None:
    core = past_slow_start(rate=40.0, level=40.0)
    core.rtt = 1 / 64
    for i in range(32):  # answered from 0.15 to 1.11875, a 32nd of a second apart
        core.succeeded(0.15 + i / 32, sent_at=0.15 + i / 32 - 1 / 64)
    core._ramp_end = 0.75  # slow start ended half a second before the drought: a whole second all the same
    for t in (1.25, 1.5, 1.75):
        core.throttled(t, sent_at=t - 1 / 64)
    assert core._stalled
    # the second before the stall, by send time, holds 12 of them; the second before the drought, 28
    # (answered after 0.25); over the half second since slow start it would read 24 a second
    assert core._stall_admitted == 28.0


@pytest.mark.usefixtures("no_dry")
def test_eight_refusals_running_since_the_cut_are_a_stall_seven_are_not() -> None:
    core = cut_at_one_second()
    times = [1.25 + i / 128 for i in range(8)]
    answers(core, times[:7], set(range(7)))
    assert not core._stalled
    answers(core, times[7:], {0})
    assert core._stalled
    assert core._stall_at == times[7]
    assert core._stall_admitted == 0.0  # nothing admitted in the second before
    assert core.cuts == 1  # no round ended: seven answers, under a second after the cut


def test_before_any_cut_the_eighth_refusal_is_a_stall_not_the_seventh() -> None:
    # ten admitted, then refusals within a tenth of a second: no round ends (a round lasts 0.1 s) and no
    # alarm rings (the refusals are under half of the round), so no cut resets the run
    core = past_slow_start(rate=512.0, level=512.0)
    core.rtt = 1 / 256
    answers(core, [1.0 + i / 1024 for i in range(10)], set(), rtt=1 / 256)
    answers(core, [1.01 + i / 1024 for i in range(7)], set(range(7)), rtt=1 / 2048)
    assert (core._refused_run, core._stalled, core.cuts) == (7, False, 0)
    answers(core, [1.02], {0}, rtt=1 / 2048)
    assert (core._stalled, core.cuts) == (True, 0)


@pytest.mark.usefixtures("no_dry")
def test_refusals_of_requests_sent_before_the_cut_do_not_run_towards_a_stall() -> None:
    core = cut_at_one_second()
    for i in range(8):
        core.throttled(1.25 + i / 128, sent_at=0.9375)
    assert (core._stalled, core._refused_run) == (False, 0)
    assert core._probe_cost == 8  # what probing cost, though
    core.throttled(1.5, sent_at=1.0)  # sent at the cut instant: counts
    assert core._refused_run == 1


@pytest.mark.usefixtures("no_dry")
def test_a_success_sent_after_the_runs_first_refusal_breaks_the_run_one_sent_before_it_does_not() -> None:
    core = cut_at_one_second()
    for i in range(5):
        core.throttled(1.25 + i / 128, sent_at=1.125 + i / 128)
    core.succeeded(1.3, sent_at=1.125)  # sent with the first refused one (answered after its round trip)
    assert core._refused_run == 5
    core.succeeded(1.3, sent_at=1.125 + 1 / 1024)  # admitted, sent during the run: the server admits
    assert core._refused_run == 0


@pytest.mark.usefixtures("no_dry")
def test_eight_refusals_are_a_stall_only_a_round_trip_after_the_first() -> None:
    # far over a bucket's quota, refusals come back at once and the admitted ones a round trip later:
    # eight refusals in a few milliseconds say nothing yet
    core = cut_at_one_second()
    core.rtt = 0.015625
    answers(core, [1.25 + i / 1024 for i in range(8)], set(range(8)), rtt=1 / 2048)
    assert (core._refused_run, core._stalled) == (8, False)
    core.throttled(1.25 + 1 / 64 - 1 / 1024, sent_at=1.25 + 1 / 64 - 1 / 512)
    assert not core._stalled
    core.throttled(1.25 + 1 / 64, sent_at=1.25 + 1 / 64 - 1 / 2048)  # a round trip after the first
    assert core._stalled


@pytest.mark.usefixtures("no_dry")
def test_a_stall_probes_one_at_a_time_at_gaps_doubling_up_to_a_quarter_second() -> None:
    core = cut_at_one_second()
    core.rtt = 0.03125
    core.started(1.25)
    answers(core, [1.25 + i / 128 for i in range(8)], set(range(8)), rtt=1 / 256)
    # the first gap: the round trip (over 1/43.75 and the 2 ms recheck), from the last start
    assert core.next_start(1.3125) == 1.28125
    core.started(1.3125)  # late by more than the credit: the probe's own time
    assert core._probe_gap == 0.0625  # doubled
    # the next, 1/16 s after it; a wait looks again a round trip on, whichever comes first
    assert core.next_start(1.3125) == 1.34375
    assert core.next_start(1.34375) == 1.375
    core.started(1.375)
    assert core._probe_gap == 0.125
    assert core.next_start(1.375) == 1.40625  # a round trip on
    assert core.next_start(1.46875) == 1.5
    core.started(1.5)
    assert core._probe_gap == 0.25
    core.started(1.75)
    assert core._probe_gap == 0.25  # 1/4 s, and no more
    assert core.next_start(1.96875) == 2.0


def test_past_a_stalls_first_two_seconds_the_gaps_double_on_up_to_a_second() -> None:
    core = cut_at_one_second()
    core.rtt = 0.03125
    answers(core, [1.25 + i / 128 for i in range(8)], set(range(8)), rtt=1 / 256)
    at = core._stall_at
    core._probe_gap = 0.25
    core.started(at + 2.0 - 1 / 1024)  # under two seconds in: a window counter's stall, 1/4 s at most
    assert core._probe_gap == 0.25
    core.started(at + 2.0)  # two seconds in: a minute's quota spent, say; the gaps go on doubling
    assert core._probe_gap == 0.5
    core.started(at + 2.5)
    assert core._probe_gap == 1.0
    core.started(at + 3.5)
    assert core._probe_gap == 1.0  # a second, and no more
    assert core.next_start(at + 4.46875) == at + 4.5  # the next probe a second after the last


@pytest.mark.usefixtures("no_dry")
def test_a_stalls_first_gap_is_the_pace_when_slower_than_the_round_trip_and_never_under_2_ms() -> None:
    core = cut_at_one_second()  # 43.75/s
    core.rtt = 0.015625
    answers(core, [1.25 + i / 128 for i in range(8)], set(range(8)), rtt=1 / 256)
    assert core._probe_gap == pytest.approx(1 / 43.75)
    fast = past_slow_start(rate=1000.0, level=1000.0)  # no answer admitted yet: no round trip known
    fast._last_cut = 0.5  # (under a second since a cut: no alarm)
    answers(fast, [1.0 + i / 1024 for i in range(8)], set(range(8)), rtt=1 / 2048)
    assert fast._stalled
    assert fast._probe_gap == 0.002  # MIN_RECHECK, over 1/1000
    fast.started(1.0078125)
    assert fast.next_start(1.0078125) == pytest.approx(1.0098125)  # looks again 2 ms on


def test_a_refused_probe_neither_cuts_nor_counts_in_a_round_but_is_what_probing_cost() -> None:
    core = cut_at_one_second()
    answers(core, [1.25 + i / 128 for i in range(8)], set(range(8)), rtt=1 / 256)
    stalled_at, answered, cost = core._stall_at, core._answers, core._probe_cost
    for i in range(30):
        assert not core.throttled(1.5 + i / 64, sent_at=stalled_at + i / 64)
    assert (core.cuts, core.rate, core._answers) == (1, 43.75, answered)
    assert core._probe_cost == cost + 30


def window_stall() -> AdaptiveRate:
    """A core that admitted 96 requests between 0.5 and 1.25 (a window's second), then met eight
    refusals running after the cut they brought: stalled with 96 a second admitted."""
    core = past_slow_start(rate=200.0, level=200.0)
    core.succeeded(0.34375, sent_at=0.3359375)  # sent exactly a second before the stall: not that second's
    for i in range(96):
        core.succeeded(0.5 + i / 128, sent_at=0.5 + i / 128 - 1 / 64)
    cuts = answers(core, [1.25 + i / 128 for i in range(12)], set(range(12)), rtt=1 / 256)
    assert cuts.index(True) == 3  # a round of nine successes and four refusals ends: a cut
    assert core._stalled
    assert core._stall_at == 1.25 + 11 / 128  # then eight more
    assert core._stall_admitted == 96.0
    return core


def test_successes_in_flight_when_the_stall_began_are_counted_as_that_seconds() -> None:
    core = window_stall()
    core.succeeded(1.375, sent_at=1.25)  # sent before the last refusal, and before the stall
    assert core._stalled
    assert core._stall_admitted == 97.0
    core.succeeded(1.375, sent_at=0.3359375)  # exactly a second before the stall: not that second's
    assert core._stall_admitted == 97.0
    core.succeeded(1.375, sent_at=core._refused_sent)  # with the last refused one, not after it
    assert core._stalled


def test_the_first_probe_admitted_resumes_at_what_the_second_before_the_stall_admitted() -> None:
    core = window_stall()
    assert core.level is not None
    assert core.level != pytest.approx(96.0, rel=0.15)  # not the same edge: no hold
    cuts, share = core.cuts, core.share
    assert share == pytest.approx(0.25 * 4 / 13)  # that round's share of refusals, smoothed
    core._probe_cost, core._grown, core._since_cut, core._throttles = 5, 0.5, 7, 2
    core.succeeded(2.0, sent_at=core._stall_at)  # a probe sent at the stall's instant: a probe's
    assert not core._stalled
    assert core.level == 96.0  # not 97: the probe is not the second before's
    assert core.rate == pytest.approx(96.0 * (1 - share / 2))  # a cut's depth under it
    assert (core._hold, core._k, core._grown, core._last_cut) == (0.0, 0.0, 0.0, 2.0)
    assert (core._probe_cost, core._since_cut, core._answers, core._throttles) == (0, 0, 0, 0)
    assert core.cuts == cuts  # a stall's end is not a cut


def test_a_stall_that_finds_the_same_edge_holds_the_next_probe_for_what_it_cost() -> None:
    core = window_stall()
    core.level, core._stall_admitted = 80.0, 92.0  # exactly 15% over the anchor: the same edge
    core._highest = 184.0  # 92 is half of it: not fallen far, so the hold is not capped
    for i in range(12):
        core.throttled(1.5 + i / 64, sent_at=core._stall_at + i / 64)
    cost = core._probe_cost
    core.succeeded(2.0, sent_at=1.984375)
    assert core._hold == pytest.approx(cost / 0.01)


def test_a_probe_admitted_at_a_pace_already_under_the_seconds_admitted_only_ends_the_stall() -> None:
    core = window_stall()
    core.rate = 96.0  # exactly what the second before admitted
    level = core.level
    core.succeeded(2.0, sent_at=1.984375)
    assert not core._stalled
    assert (core.rate, core.level) == (96.0, level)


def test_a_stall_in_slow_start_ends_it_and_its_window() -> None:
    core = AdaptiveRate(None)
    core.rtt = 0.015625
    for i in range(40):
        core._answer(0.5 + i / 64, 0.5 + i / 64 - 1 / 128, throttled=False)  # a second's 40, no growth
    core._window_shut = 2.0  # (the window's refusals are its own rule: out of the way)
    answers(core, [1.25 + i / 128 for i in range(12)], set(range(12)), rtt=1 / 256)
    assert core._stalled
    assert core.slow_start or core.cuts >= 1
    core.slow_start, core._window_open, core.rate = True, True, 100.0  # as if slow start had not ended
    core.succeeded(2.0, sent_at=1.984375)
    assert (core.slow_start, core._window_open) == (False, False)


def test_past_the_stalls_first_second_refused_probes_are_not_what_probing_cost() -> None:
    core = cut_at_one_second()
    answers(core, [1.25 + i / 128 for i in range(8)], set(range(8)), rtt=1 / 256)
    stalled_at, cost = core._stall_at, core._probe_cost
    core.throttled(stalled_at + 1.0, sent_at=stalled_at + 0.5)  # exactly a second in: counts
    core.throttled(stalled_at + 1.5, sent_at=stalled_at + 1.25)  # past it: waiting, not probing
    assert core._probe_cost == cost + 1


def test_a_stall_of_more_than_two_seconds_resumes_with_no_hold_even_at_the_same_edge() -> None:
    core = window_stall()
    core.level, core._stall_admitted = 90.0, 96.0  # within 15%: the same edge
    core.succeeded(core._stall_at + 2.0, sent_at=core._stall_at + 1.984375)  # exactly two seconds
    assert core._hold > 0.0
    late = window_stall()
    late.level, late._stall_admitted = 90.0, 96.0
    late.succeeded(late._stall_at + 2.03125, sent_at=late._stall_at + 2.0)
    assert (late._hold, late.level) == (0.0, 96.0)
