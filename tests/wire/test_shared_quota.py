"""Endpoints of one account that share a quota, pinned with literal numbers: the phase of a throttle in
another endpoint's pace, the evidence that unites two limiters (``EVIDENCE`` throttles, a mean phase
``Z`` standard errors below a half), what is no evidence, what one limiter pacing both adds up, and the
paces beginning out of step. The simulation (test_ratelimit_simulation.py) holds the outcomes."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from crawler.wire.ratelimit import AdaptiveRate, RateLimiter
from crawler.wire.shared_quota import EVIDENCE, IDLE_REFUSALS, SharedQuota, Z


def account_of(*ceilings: float | None) -> tuple[SharedQuota, list[AdaptiveRate]]:
    account = SharedQuota()
    cores = [AdaptiveRate(c, account, name=f"e{i}") for i, c in enumerate(ceilings)]
    return account, cores


def throttle_after(core: AdaptiveRate, peer: AdaptiveRate, at: float, gap: float) -> None:
    """``peer`` starts at ``at``; a request of ``core``'s sent ``gap`` later is throttled."""
    peer.started(at)
    core.throttled(at + gap + 0.001, sent_at=at + gap)


def test_the_constants() -> None:
    assert (EVIDENCE, Z, IDLE_REFUSALS) == (5, 3.5, 2)


def test_eight_throttles_just_after_the_other_endpoints_starts_unite_the_two() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(EVIDENCE - 1):
        throttle_after(a, b, i * 0.1, 0.004)  # a phase of 0.04 in b's pace of 10/s
    assert (a.lead, b.lead) == (a, b)
    throttle_after(a, b, 0.7, 0.004)
    assert (a.lead, b.lead) == (a, a)


def test_the_verdict_weighs_the_mean_phase_against_its_standard_error() -> None:
    # eight throttles at a phase of 0.09: (0.5 - 0.09) x sqrt(8 x 12) = 4.02, above 3.5
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(8):
        throttle_after(a, b, i * 0.1, 0.009)
    assert b.lead is a
    # at 0.142: (0.5 - 0.142) x sqrt(96) = 3.508, just above; at 0.144: 3.488, just below
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(8):
        throttle_after(a, b, i * 0.1, 0.0142)
    assert b.lead is a
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(8):
        throttle_after(a, b, i * 0.1, 0.0144)
    assert b.lead is b


def test_phases_spread_evenly_never_unite() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(200):
        throttle_after(a, b, i * 0.1, 0.01 * (i % 10) + 0.005)  # phases 0.05, 0.15, ..., 0.95
    assert b.lead is b


def test_evidence_counts_both_ways_between_a_pair() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(4):
        throttle_after(a, b, i * 0.2, 0.005)
        throttle_after(b, a, i * 0.2 + 0.1, 0.005)
    assert (a.lead, b.lead) == (b, b)  # the eighth, b's, united them: the one throttled paces both


def test_a_start_in_the_same_millisecond_is_no_evidence() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(50):
        throttle_after(a, b, i * 0.1, 0.0009)  # in step: limiters alike, or one event-loop wake-up
    assert b.lead is b
    for i in range(EVIDENCE):
        throttle_after(a, b, 5 + i * 0.1, 0.001)  # a millisecond: a phase of 0.01
    assert b.lead is a


def test_an_endpoint_idle_for_its_last_second_is_no_evidence() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    b.started(0.0)
    for i in range(50):
        a.throttled(2 + i * 0.1 + 0.001, sent_at=2 + i * 0.1)  # b's last start 2 s before (pruned)
    assert b.lead is b
    for i in range(EVIDENCE):
        throttle_after(a, b, 10 + i * 0.1, 0.0015)  # counted as if the 50 had not come
    assert b.lead is a


def test_a_phase_is_at_most_one() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    b.started(0.0)
    for i in range(EVIDENCE):
        a.throttled(0.9 + i * 0.01, sent_at=0.5 + i * 0.01)  # 0.5 s after b's start: 5 intervals, counted 1
    for i in range(24):
        throttle_after(a, b, 1 + i * 0.1, 0.0015)
    # (8 x 1 + 24 x 0.015) / 32 = 0.26: (0.5 - 0.26) x sqrt(32 x 12) = 4.6, a verdict; counted at 5
    # each, the mean would be 1.26
    assert b.lead is a


def test_one_limiter_pacing_two_adds_their_rates_and_ceilings() -> None:
    _, (a, b) = account_of(20.0, 30.0)
    a.rate, b.rate = 12.0, 7.0
    a.absorb(b)
    assert (a.rate, a.ceiling, b.lead) == (19.0, 50.0, a)
    _, (a, b) = account_of(20.0, 30.0)
    a.rate, b.rate = 20.0, 30.0 + 5.0  # (a rate above its ceiling is not held, but the sum is)
    a.ceiling = 20.0
    b.ceiling = 25.0
    a.absorb(b)
    assert (a.rate, a.ceiling) == (45.0, 45.0)
    _, (a, b) = account_of(None, None)
    a.absorb(b)
    assert (a.rate, a.ceiling) == (10.0, None)


def test_the_edge_is_found_afresh_once_two_are_paced_as_one() -> None:
    _, (a, b) = account_of(None, None)
    a.throttled(0.0, sent_at=0.0)  # out of slow start
    a._hold = 500.0
    a.absorb(b)
    assert a.slow_start is True
    assert a._hold == 0.0
    _, (a, b) = account_of(40.0, 40.0)  # under a ceiling: no slow start, the recovery without a hold
    a._hold = 500.0
    a.absorb(b)
    assert a.slow_start is False
    assert a._hold == 0.0


def test_the_one_pacing_both_keeps_the_later_schedule() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    a.started(1.0)
    b.started(1.04)
    a.absorb(b)
    assert a.next_start(1.05) == pytest.approx(1.04 + 1 / 20.0)


def test_an_absorbed_limiter_hands_every_call_to_the_one_pacing_it() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    a.absorb(b)
    a.started(1.0)
    assert b.next_start(1.01) == a.next_start(1.01) == pytest.approx(1.05)
    b.started(1.05)
    assert a.start_before(2.0) == 1.05
    b.succeeded(1.1, sent_at=1.05)
    assert a.rtt == pytest.approx(0.05)
    assert b.rtt is None
    cuts = a.cuts
    for i in range(3):
        b.throttled(1.2 + i * 0.01, sent_at=1.1 + i * 0.01)
    assert a.cuts == cuts + 1  # the alarm: three throttles, half the round or more
    assert b.cuts == 0


def test_a_limiter_reads_the_pace_of_the_one_pacing_it() -> None:
    account = SharedQuota()
    first = RateLimiter(10.0, 4, name="e0", account=account)
    second = RateLimiter(10.0, 4, name="e1", account=account)
    first.core.absorb(second.core)
    assert second.rate == first.rate == 20.0


def test_the_endpoints_paces_begin_out_of_step() -> None:
    _, (a, b, c) = account_of(10.0, 10.0, 10.0)
    assert b.next_start(100.0) == pytest.approx(100.0 + 1 / 30.0)  # the first: the account's origin
    assert a.next_start(100.5) == pytest.approx(100.0)
    assert c.next_start(100.5) == pytest.approx(100.0 + 2 / 30.0)


def test_paces_too_fast_for_a_millisecond_step_begin_in_step() -> None:
    _, (a, b) = account_of(600.0, 600.0)  # half an interval: 0.83 ms, finer than the timers keep
    assert a.next_start(100.0) == pytest.approx(100.0)
    assert b.next_start(100.0) == pytest.approx(100.0)
    _, (a, b) = account_of(500.0, 500.0)  # 1 ms: kept
    assert a.next_start(100.0) == pytest.approx(100.0)
    assert b.next_start(100.0) == pytest.approx(100.001)


def test_an_endpoint_alone_in_its_account_starts_at_once() -> None:
    _, (a,) = account_of(10.0)
    assert a.next_start(7.0) == pytest.approx(7.0)
    a.started(7.0)
    assert a.next_start(7.0) == pytest.approx(7.1)


def test_a_third_endpoint_joins_the_two_paced_as_one() -> None:
    _, (a, b, c) = account_of(10.0, 10.0, 10.0)
    for i in range(EVIDENCE):
        throttle_after(a, b, i * 0.1, 0.004)
    assert b.lead is a
    for i in range(EVIDENCE):
        throttle_after(c, a, 1 + i * 0.1, 0.002)  # a now paces b too: a phase of 0.03-0.04
    assert (a.lead, b.lead, c.lead) == (c, c, c)
    assert c.ceiling == 30.0


def test_a_throttle_of_an_absorbed_limiter_counts_once() -> None:
    _, (a, b, c) = account_of(10.0, 10.0, 10.0)
    a.absorb(b)
    for i in range(2):
        throttle_after(b, c, i * 0.1, 0.004)  # handed to a, which weighs it against c's pace
    for i in range(2):
        throttle_after(a, c, 0.2 + i * 0.1, 0.004)
    assert c.lead is c  # four throttles, not six
    throttle_after(a, c, 0.4, 0.004)
    assert (a.lead, b.lead, c.lead) == (a, a, a)


def admitted(core: AdaptiveRate, start: float, end: float, pace: float) -> None:
    """``core`` starts requests at ``pace`` a second from ``start`` to ``end``, each admitted 10 ms on."""
    t = start
    while t < end:
        core.started(t)
        core.succeeded(t + 0.01, sent_at=t)
        t += 1.0 / pace


def refused_idle(core: AdaptiveRate, at: float) -> None:
    core.started(at)
    core.throttled(at + 0.001, sent_at=at)


def test_refusals_running_of_requests_sent_idle_unite_with_the_busiest_admitted_endpoint() -> None:
    _, (a, b, c) = account_of(10.0, 40.0, 40.0)
    for n, at in enumerate((10.0, 12.0)):
        admitted(b, at - 1.5, at, 10.0)  # both busy and admitted; c the busier
        admitted(c, at - 1.5 + 0.013, at, 30.0)  # (phases of a's refusals near a half in both)
        assert (a.lead, b.lead, c.lead) == (a, b, c), n
        refused_idle(a, at)
    assert (a.lead, b.lead, c.lead) == (a, b, a)


def test_an_admitted_request_between_idle_refusals_starts_the_count_again() -> None:
    _, (a, b) = account_of(10.0, 40.0)
    admitted(b, 8.5, 10.0, 10.0)
    refused_idle(a, 10.0)
    a.started(13.0)
    a.succeeded(13.01, sent_at=13.0)
    admitted(b, 13.5, 15.0, 10.0)
    refused_idle(a, 15.0)
    assert b.lead is b
    admitted(b, 15.5, 17.0, 10.0)
    refused_idle(a, 17.0)
    assert b.lead is a


def test_idle_refusals_with_no_endpoint_admitted_in_the_last_second_are_no_evidence() -> None:
    _, (a, b) = account_of(10.0, 40.0)
    for at in (10.0, 12.0, 14.0, 16.0):
        for i in range(10):  # b busy but refused too: an outage, not a quota taken by b
            t = at - 0.9 + i * 0.05
            b.started(t)
            b.throttled(t + 0.001, sent_at=t)
        refused_idle(a, at)
    assert (a.lead, b.lead) == (a, b)


def test_a_refusal_within_a_second_of_the_endpoints_last_start_is_not_idle() -> None:
    _, (a, b) = account_of(10.0, 40.0)
    for at in (10.0, 12.0, 14.0):
        admitted(b, at - 1.5 + 0.05, at, 10.0)  # phases of a half
        a.started(at - 0.99)
        refused_idle(a, at)
    assert (a.lead, b.lead) == (a, b)


def test_the_busiest_is_the_one_admitted_most_over_the_last_second() -> None:
    _, (a, b, c) = account_of(10.0, 40.0, 40.0)
    for at in (10.0, 12.0, 14.0):
        admitted(b, at - 0.99, at - 0.5, 12.0)  # 6 admitted in the second, none in its last half ...
        admitted(c, at - 0.2, at - 0.01, 20.0)  # ... 4, all in its last fifth
        refused_idle(a, at)
    assert (a.lead, b.lead, c.lead) == (a, a, c)


def test_each_endpoint_counts_its_own_idle_refusals() -> None:
    _, (a, b, c) = account_of(10.0, 40.0, 10.0)
    admitted(b, 8.5, 10.0, 10.0)
    refused_idle(a, 10.0)
    admitted(b, 10.5, 12.0, 10.0)
    refused_idle(c, 12.0)  # a second idle refusal, but c's first
    assert (a.lead, b.lead, c.lead) == (a, b, c)


def test_an_idle_refusal_is_weighed_by_its_phase_too() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    admitted(b, 8.5, 10.0, 10.0)
    refused_idle(a, 10.004)  # idle, and 4 ms after b's start: a phase of 0.04
    for i in range(EVIDENCE - 1):
        b.started(11.0 + i * 0.1)
        a.started(11.0 + i * 0.1 - 0.05)  # not idle
        a.throttled(11.0 + i * 0.1 + 0.005, sent_at=11.0 + i * 0.1 + 0.004)
    assert b.lead is a  # the eighth phase: the idle refusal's counted


def test_an_idle_or_in_step_endpoint_does_not_stop_the_others_being_weighed() -> None:
    _, (a, b, c) = account_of(10.0, 10.0, 10.0)
    for i in range(EVIDENCE):
        throttle_after(a, c, i * 0.1, 0.004)  # b never starts: idle
    assert (a.lead, b.lead, c.lead) == (a, b, a)


def test_evidence_is_kept_per_pair() -> None:
    _, (a, b, c) = account_of(10.0, 10.0, 10.0)
    for i in range(EVIDENCE - 1):
        at = i * 0.1
        b.started(at)
        c.started(at + 0.0001)
        a.throttled(at + 0.006, sent_at=at + 0.005)  # a phase of 0.05 in both paces
    assert (b.lead, c.lead) == (b, c)  # four each, not eight


def test_an_absorbed_endpoints_last_starts_are_no_evidence() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    for i in range(5):
        b.started(0.5 + i * 0.1)  # the last at 0.9
    a.absorb(b)
    for i in range(2 * EVIDENCE):  # just after b's last: phases of 0.02 to 0.12, had they counted
        a.throttled(0.9 + 0.003 + i * 0.0011, sent_at=0.9 + 0.002 + i * 0.0011)
    assert a.ceiling == 20.0  # not absorbed twice


def test_a_start_a_millisecond_before_is_evidence() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    b.started(0.0)
    a.throttled(0.002, sent_at=0.001)  # exactly TIMER_GRAIN after b's start: counted
    for i in range(EVIDENCE - 1):
        throttle_after(a, b, 1 + i * 0.1, 0.002)
    assert b.lead is a


def test_evidence_against_a_third_endpoint_is_kept_when_two_unite() -> None:
    _, (a, b, c) = account_of(10.0, 10.0, 10.0)
    for i in range(EVIDENCE - 1):
        throttle_after(a, c, i * 0.1, 0.004)
    a.absorb(b)  # (as a verdict would)
    throttle_after(a, c, 0.7, 0.004)
    assert c.lead is a


def test_a_ceiling_and_no_ceiling_paced_as_one_have_none() -> None:
    _, (a, b) = account_of(10.0, None)
    a.absorb(b)
    assert (a.ceiling, a.slow_start) == (None, True)


def test_an_absorbed_limiter_hands_its_requests_in_flight_to_the_initial_window() -> None:
    _, (a, b) = account_of(None, None)  # both in their first slow start: the window is open
    a.absorb(b)
    a.started(1.0)
    assert b.next_start(1.001, in_flight=1) == 1.001  # under the window: at once
    assert b.next_start(1.001) > 1.001  # (not knowing how many: the pace)


def test_a_start_exactly_a_second_before_is_not_in_the_last_second() -> None:
    _, (a,) = account_of(10.0)
    a.started(0.0)
    assert a.start_before(0.5) == 0.0
    assert a.start_before(1.0) is None


def test_a_limiter_joins_its_account_under_its_name() -> None:
    account = SharedQuota()
    limiter = RateLimiter(10.0, 4, name="https://1.cn-hangzhou.fc.aliyuncs.com", account=account)
    assert account.members == [limiter.core]
    assert limiter.core.name == "https://1.cn-hangzhou.fc.aliyuncs.com"
    assert AdaptiveRate(10.0).name == ""


def test_the_verdict_is_logged_with_the_endpoints_paced_as_one() -> None:
    _, (a, b) = account_of(10.0, 10.0)
    b.rate = 9.99951
    with capture_logs() as logs:
        for i in range(EVIDENCE):
            throttle_after(a, b, i * 0.1, 0.004)
    united = [e for e in logs if e["event"] == "ratelimit.shared_quota"]
    assert len(united) == 1
    assert united[0]["endpoints"] == ["e0", "e1"]
    thousandths = united[0]["rate"] * 1000  # a's rate (cut by its own throttles) + 9.99951, rounded
    assert abs(thousandths - round(thousandths)) < 1e-6
    assert united[0]["rate"] != round(united[0]["rate"])
    assert united[0]["rate"] > 9.99951


def test_refusals_of_requests_sent_in_the_same_instant_are_one_phase() -> None:
    # a burst started at once (a crawl's first listings) and refused: one signal, weighed once (weighed
    # one by one, two 100/s regions with quotas of their own were united in the simulation)
    _, (a, b) = account_of(10.0, 10.0)
    b.started(0.0)
    for i in range(EVIDENCE):
        a.throttled(0.01 + i * 0.001, sent_at=0.004 + i * 0.0002)  # within a millisecond of each other
    for i in range(1, EVIDENCE - 1):
        throttle_after(a, b, i * 0.1, 0.004)
    assert b.lead is b  # EVIDENCE - 1 phases
    throttle_after(a, b, 0.9, 0.004)
    assert b.lead is a


def test_the_phase_in_a_pace_under_one_a_second_is_over_the_second_kept() -> None:
    # b starts every 2 s; only its starts in the last second count, so a refusal half a second after
    # one is halfway through what can be seen (a phase of 0.5, not 0.25: that would unite them)
    _, (a, b) = account_of(10.0, 0.5)
    for i in range(50):
        b.started(i * 2.0)
        a.throttled(i * 2.0 + 0.51, sent_at=i * 2.0 + 0.5)
    assert b.lead is b
    _, (a, b) = account_of(10.0, 0.5)
    for i in range(EVIDENCE):
        b.started(i * 2.0)
        a.throttled(i * 2.0 + 0.05, sent_at=i * 2.0 + 0.04)  # a phase of 0.04
    assert b.lead is a


def test_a_refusal_after_a_second_in_which_each_request_was_refused_counts_as_idle() -> None:
    # a quota of its own would have a token a second after the last request it admitted, however many
    # it refused since: the endpoint need not have been idle
    _, (a, b) = account_of(10.0, 40.0)
    admitted(b, 8.0, 10.5, 10.0)  # (a's requests come halfway between b's starts: phases of a half)
    a.started(9.0)
    a.succeeded(9.01, sent_at=9.0)
    for at in (9.35, 9.65, 9.95):  # within a second of the one admitted
        refused_idle(a, at)
    assert b.lead is b
    refused_idle(a, 10.05)  # the second since 9.05: refusals only
    assert b.lead is b
    refused_idle(a, 10.35)
    assert b.lead is a


def test_a_request_still_unanswered_in_that_second_may_yet_be_admitted() -> None:
    _, (a, b) = account_of(10.0, 40.0)
    admitted(b, 8.0, 12.5, 10.0)
    for at in (10.05, 11.05, 12.05):
        a.started(at - 0.5)  # its answer not in yet
        refused_idle(a, at)
    assert b.lead is b


def test_answers_to_requests_sent_before_two_were_paced_as_one_say_nothing_of_their_pace() -> None:
    _, (a, b) = account_of(None, None)
    a.level, a.share = 6.6, 0.3  # an anchor and a smoothed share that collisions left
    for i in range(10):
        a.started(i * 0.1)
        b.started(i * 0.1 + 0.05)
    a.absorb(b)
    assert a.level is None
    assert (a.share, a.slow_start) == (0.0, True)
    for i in range(10):
        a.throttled(1.0 + i * 0.01, sent_at=0.9)  # sent before the union
    assert a.cuts == 0
    for t in (2.0, 2.05, 2.1):
        a.started(t)
        a.throttled(t + 0.02, sent_at=t)
    assert a.cuts == 1  # slow start's alarm: three throttles, a second after the union


def test_paced_as_one_a_stall_of_either_is_forgotten() -> None:
    # the starved endpoint's refusals ran into a stall measured over its own few admitted requests;
    # kept across the union, its end resumed the pace of all three at 0.2/s (30/s shared, seed 6)
    _, (a, b) = account_of(None, None)
    a.rtt = 0.01
    for i in range(12):
        a.started(0.5 + i * 0.02)
        a.throttled(0.5 + i * 0.02 + 0.001, sent_at=0.5 + i * 0.02)
    assert a.stalled
    a.absorb(b)
    assert (a.stalled, a._refused_run) == (False, 0)
    a.started(1.0)
    a.throttled(1.05, sent_at=1.0)  # the pace's answer, not a probe's
    assert (a._refused_run, a._answers) == (1, 1)


def test_paced_as_one_a_drought_of_either_is_forgotten() -> None:
    _, (a, b) = account_of(None, None)
    a.rtt = 0.01
    for t in (0.5, 0.75):  # two refusals, nothing admitted: a drought begun, the collisions' own
        a.started(t - 0.01)
        a.throttled(t, sent_at=t - 0.01)
    a.absorb(b)
    assert a._dry == 0
    for t in (2.0, 2.01):  # two after the union, a second and a half on: two, not four, and no stall
        a.started(t - 0.005)
        a.throttled(t, sent_at=t - 0.005)
    assert (a._dry, a.stalled) == (2, False)


def test_starts_are_counted_back_two_seconds_and_no_further() -> None:
    _, (a,) = account_of(10.0)
    for i in range(30):
        a.started(i * 0.125)  # 0.0 to 3.625
    assert a.starts_after(2.0) == 13
    assert a.starts_after(1.625) == 16  # exactly two seconds back: what is kept is all after it
    assert a.starts_after(1.6) is None  # further back than kept: not known


def test_paced_as_one_under_ceilings_the_rate_grows_from_the_sum() -> None:
    # no slow start under a ceiling: the recovery grows from the pace of both (with no anchor it never
    # grew, and two endpoints cut by collisions under --rate stayed there)
    _, (a, b) = account_of(20.0, 20.0)
    a.rate = b.rate = 5.0  # cut by collisions
    a.absorb(b)
    assert (a.rate, a.ceiling, a.level, a.slow_start) == (10.0, 40.0, 10.0, False)
    now = 1.0
    while now < 6.0:
        start = max(now, a.next_start(now))  # waiting on the pace: the limiter is the bottleneck
        a.started(start)
        now = start + 0.02
        a.succeeded(now, sent_at=start)
    assert a.rate > 20.0


def test_which_refusals_are_one_burst() -> None:
    account, (a, b) = account_of(10.0, 10.0)

    def counted() -> int:
        return account._phases.get((0, 1), (0, 0.0))[0]

    a.throttled(0.0, sent_at=-0.5)  # b not started yet: no phase, but a refusal on record
    b.started(-0.004)
    a.throttled(0.01, sent_at=0.0)
    a.throttled(0.01, sent_at=0.001)  # a millisecond after: two signals
    assert counted() == 2
    b.started(0.2)
    a.throttled(0.21, sent_at=0.2048)  # answered first ...
    a.throttled(0.21, sent_at=0.2040)  # ... one sent 0.8 ms before it: one burst
    a.throttled(0.21, sent_at=0.2056)  # 0.8 ms after the last (1.6 ms after the first): the burst
    assert counted() == 3
    b.started(0.4)
    a.throttled(0.41, sent_at=0.404)
    a.throttled(0.41, sent_at=0.403)  # answered after the one sent a millisecond later: two
    assert counted() == 5
    c_account, (c, d) = account_of(10.0, 10.0)
    d.started(-0.004)
    c.throttled(0.011, sent_at=0.001)
    c.throttled(0.01, sent_at=0.0)  # answered after the one sent a millisecond later: two
    assert c_account._phases[(0, 1)][0] == 2


def test_each_endpoint_keeps_its_own_refusals() -> None:
    account, (a, b) = account_of(10.0, 10.0)
    a.started(1.0)
    a.throttled(1.01, sent_at=1.0)
    b.started(1.5)
    b.throttled(1.51, sent_at=1.5)
    assert account._refused == {0: [1.0], 1: [1.5]}


def test_a_refusal_answered_after_more_than_a_second_of_later_starts_is_not_judged() -> None:
    _, (a,) = account_of(10.0)
    for i in range(31):
        a.started(i * 0.1)  # 0.0 to 3.0
    # the second before 0.5 reaches back past the two seconds of starts kept: not known, not idle
    assert SharedQuota._refused_for_a_second(a, [0.5], 0.5) is False


def test_starts_after_the_refused_one_are_not_in_its_second() -> None:
    _, (a, b) = account_of(10.0, 40.0)
    admitted(b, 8.5, 10.0, 10.0)
    refused_idle(a, 9.05)  # the first (no start in the second before)
    a.started(9.35)
    a.started(9.65)  # started before the answer to 9.35 came
    a.throttled(9.7, sent_at=9.35)  # its second holds 9.05 and 9.35, both refused
    assert b.lead is a


def test_paced_as_one_under_ceilings_the_recovery_starts_at_the_sum() -> None:
    # the cubic curve from the pace of both, from its start: no second flat, no head start
    _, (a, b) = account_of(20.0, 20.0)
    a.rate = b.rate = 5.0
    a.absorb(b)
    now = 1.0
    for _ in range(10):  # one round: ten answers, the first at 1.02 s, the last at 1.92 s
        start = max(now, a.next_start(now))
        a.started(start)
        now = start + 0.02
        a.succeeded(now, sent_at=start)
    assert a.rate == pytest.approx(10.0 * (1.0 + 0.1 * 0.9**3))  # t = 0.9 s of growth from K = 0


def test_the_first_round_after_a_union_counts_its_own_answers_only() -> None:
    _, (a, b) = account_of(None, None)
    a.started(0.5)
    a.throttled(0.52, sent_at=0.5)  # a round begun before the union: one answer, one throttle
    b.started(0.6)
    a.absorb(b)
    now = 1.0
    for _ in range(9):
        a.started(now)
        a.succeeded(now + 0.02, sent_at=now)
        now += 0.02
    a.started(now)
    a.throttled(now + 0.02, sent_at=now)  # the tenth answer since: a round of one throttle in ten
    assert a.share == pytest.approx(0.25 * 0.1)
    assert a.cuts == 0


def test_after_a_union_the_next_probe_waits_for_what_probing_has_cost_since() -> None:
    _, (a, b) = account_of(20.0, 20.0)
    a.rate = b.rate = 5.0
    for t in (0.1, 0.2):
        a.started(t)
        a.throttled(t + 0.01, sent_at=t)  # collisions: probing's cost, before the union
    a.started(0.5)
    a.absorb(b)  # paced at 10/s, the recovery anchored there
    for i in range(3):
        a.succeeded(1.05 + i * 0.01, sent_at=0.45)  # sent before: not in the round, but admitted
    for i in range(10):  # a round: two throttles in ten answers, the edge where it was (10/s)
        sent = 1.0 + i * 0.1
        a.started(sent)
        if i in (4, 9):
            a.throttled(sent + 0.02, sent_at=sent)
        else:
            a.succeeded(sent + 0.02, sent_at=sent)
    assert a.cuts == 1
    assert a._hold == 2 / 0.01  # the two since the union, not the two collisions before it
