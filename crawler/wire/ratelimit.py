"""One limiter per endpoint, shared by every worker: a pace (requests/s) and a cap on requests in flight.

FC publishes no control-plane quota, so by default the limiter finds what the server admits and holds
just under it, whatever the quota's shape (a token bucket of any burst, a fixed one-second window, a
quota shared with other endpoints, one that changes mid-crawl). The clock is injected so tests are
exact; tests/support/rate_simulation.py runs it against every shape in virtual time. The parts:

* **pacing, not bursts**: requests start one at a time ``1/rate`` apart, so an idle limiter never fires
  a burst; a start late by a timer's overshoot (at most ``LATE_CREDIT``) keeps the schedule;
  a wait of half a ``TIMER_GRAIN`` or less is a whole one (uvloop wakes it at once: the pacer would spin);
* **slow start** (no ``--rate``): from ``INITIAL_RATE``, each success adds up to ``SLOW_START_GAIN``
  requests/s (at most e^``SLOW_START_PER_RTT`` per round trip); until the first throttle a request
  starts at once while fewer than a window are in flight: ``INITIAL_WINDOW``, one more for each answer
  (TCP's slow start: the window doubles a round trip, so a crawl with no quota in sight reaches its
  workers' pace in a few round trips). The first throttle closes the window and, if it had grown, takes
  the pace the window really sent as the rate the cut starts from; if it had not, the requests started
  with the refused one are one refusal, not several (a bucket that holds no burst admits one of them);
* **rounds, and the share of throttled answers** (DCTCP): answers to requests sent since the last cut
  are counted in rounds (``ROUND_ANSWERS`` answers and two round trips, or ``ROUND_MAX`` seconds); the
  share of throttled answers is smoothed over rounds (``SHARE_GAIN``). A lone throttle, or a smoothed
  share up to ``TOLERATED``, is arrival jitter and tolerated; a higher one cuts, once per round;
* **the cut, from what the server admits** (BBR's delivery rate): the pace less the round's throttled
  share, or the pace of the last clean round, or the successes over the last second, whichever says
  more; then below it by half the smoothed share (at least ``MIN_CUT``). A one-request bucket paced
  just past its edge throttles every other request yet admits nearly the whole pace a little slower,
  and a window counter throttles everything to the end of its second: read from the share alone,
  both collapsed the rate. For a second from the first of a run of cuts, none goes lower than half
  its anchor (a second, not for as long as the cuts keep coming: a quota that fell to a fifth kept
  them coming), nor any cut below half the last second's successes;
* **a stall, when the server admits nothing** (a window counter's spent second, a minute's quota
  spent, a server silenced for a while): ``STALL_RUN`` refusals running since the last cut, a round
  trip after the first of them and none admitted of the requests sent since it; or, with few
  requests in flight, ``DRY_RUN`` refusals over ``DRY_SPAN`` with nothing admitted at all, cuts or not.
  Then one probe at a time, at gaps doubling up to ``STALL_GAP`` (``LONG_STALL_GAP`` past its first two
  seconds), whose refusals are no round's (they say nothing of the pace); the first admitted resumes
  the pace as a cut would, below what the second before the stall admitted by send time, or for a
  drought the second before it began. Past the stall's first second the probes are not what probing
  cost, and a stall over two seconds holds no probe. A throttle answered while stalled is the
  endpoint's, not the call's (``wire.retry``);
* **recovery and probing** (CUBIC, anchored at the last cut): fast back towards the anchor, flat just
  under it — held there, when the edge was found where it was before, until the answers since the
  cut pay for the throttles the last probe cost at ``PROBE_SHARE``, or ``MAX_HOLD`` seconds at most
  far under the highest edge found twice (a quota that fell may come back) — then faster and faster above it,
  since the quota may have grown; twice the anchor slow start left without a throttle is slow start
  again (its end was jitter);
* the rate never exceeds ``--rate`` (a ceiling, never a trap: with it the limiter starts there and
  only a throttle moves it), never drops below ``MIN_RATE``, and grows only while the limiter is the
  bottleneck (requests waiting on the pace): a rate far above what the workers use would be a burst.

``AdaptiveRate`` is the pure state machine (every method takes ``now``); ``RateLimiter`` wraps it with a
fair ``anyio.Lock`` for the pace, a semaphore for the in-flight cap, and the injected clock and sleep.
Per answer the work is O(1) amortised (deques pruned from the left, one binary search).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from crawler.log import get_logger

log = get_logger(__name__)

# The constants below were chosen with the seeded simulation in tests/support/rate_simulation.py (token
# buckets with bursts of 1 request to 1 s of quota, a fixed 1 s window, a quota that halves and doubles,
# quotas shared by several endpoints, Retry-After, arrival jitter; quotas 5..2,000 requests/s, latency
# 2..100 ms); tests/wire/test_ratelimit_simulation.py keeps it as a regression test of issue 17's targets.
INITIAL_RATE = 5.0  # requests/s at the start of slow start ...
INITIAL_WINDOW = 2  # ... above this many in flight, one more per answer (until the first throttle)
SLOW_START_GAIN = 10.0  # requests/s added per success in slow start, so the rate grows as e^(10 t) ...
SLOW_START_PER_RTT = 0.4  # ... but by at most e^0.4 = 1.5 times per round trip (less overshoot)
TOLERATED = 0.025  # a smoothed throttled share up to this is arrival jitter, not a rate too high
SHARE_GAIN = 0.25  # weight of the latest round in the smoothed throttled share (DCTCP's g)
ROUND_SECONDS = 0.1  # a round lasts at least this and two round trips ...
ROUND_ANSWERS = 10  # ... with at least this many answers, or ...
ROUND_MAX = 1.0  # ... this long with at least ROUND_MIN_ANSWERS answers ...
ROUND_MIN_ANSWERS = 3
ALARM = 3  # ... or ends at once with this many throttled answers, half or more of the round's
MIN_CUT = 0.01  # a cut takes the rate at least this far below the accepted rate ...
MAX_CUT = 0.5  # ... and at most this far
CUBIC = 0.1  # after a cut the rate follows anchor x (1 + CUBIC x (t - K)^3), t in seconds of growth
PROBE_SHARE = 0.01  # probing above the anchor may cost this share of the answers
SAME_LEVEL = 0.15  # a cut within this share of the last one's anchor has found the same edge
HOLD_SECONDS = (0.015 / CUBIC) ** (1.0 / 3.0)  # held at 0.985 x the anchor: this far before K
MAX_HOLD = 10.0  # seconds at the anchor, at most, before the next probe, if it is under ...
FALLEN = 0.5  # ... this share of the highest edge found twice
RESTART = 2.0  # slow start again at this multiple of the anchor without a throttle since the cut
MAX_GROWTH = 0.5  # and grows by at most this share per second ...
MAX_ROUND_GROWTH = 0.25  # ... and per round
MIN_RATE = 0.2
LATE_CREDIT = 0.01  # seconds of lateness a start may make up on the schedule (timer overshoot)
# (made up at once: spacing the make-up over the starts that follow, so that two starts are never
# nearly back to back, leaked the pace on a busy machine and the controller overshot; see
# test_ratelimit_simulation's busy-machine tests)
TIMER_GRAIN = 0.001  # uvloop's timers count whole milliseconds
WINDOW = 1.0  # seconds over which recent starts and successes are counted
KEPT = 2.0 * WINDOW  # starts are kept this long (a throttle is answered after later starts: shared_quota.py)
SHORT_SPAN = 0.1  # right after slow start, successes are counted over at least this ...
MIN_COUNTED = 10  # ... and over at least this many
BUSY_WINDOW = 0.25  # growth needs requests waiting on the pace, and half the rate used, this recently ...
SLOW_START_ROUNDS = 4.0  # ... or, in slow start, this many round trips (the rate outgrows a fixed window)
MIN_RECHECK = 0.002  # in slow start a waiting start looks again after a round trip, at least this long
STALL_RUN = 8  # this many refusals running, none admitted since, and the server admits nothing now ...
DRY_RUN = 3  # ... (or this many refusals, cuts or not, with nothing admitted at all ...
DRY_SPAN = 0.5  # ... over this many seconds and a round trip: few requests in flight) ...
STALL_GAP = 0.25  # ... so one probe at a time, at gaps doubling up to this, until one is admitted ...
LONG_STALL_GAP = 1.0  # ... or up to this after a stall's first 2 s (not a one-second window's: a minute's)


class Account(Protocol):
    """The endpoints of one account (``SharedQuota``): told of each limiter's first start and throttles,
    it may find two that share a quota and have one pace both (``AdaptiveRate.absorb``)."""

    def join(self, core: AdaptiveRate) -> None: ...
    def first_start(self, core: AdaptiveRate, now: float) -> float: ...
    def throttled(self, core: AdaptiveRate, sent_at: float) -> None: ...


class AdaptiveRate:
    """The pacing and the controller's arithmetic, free of clocks and tasks; times are seconds on one
    monotonic axis."""

    def __init__(self, ceiling: float | None, account: Account | None = None, *, name: str = "") -> None:
        if ceiling is not None and not ceiling > 0:
            raise ValueError("ceiling must be > 0")
        self.name = name
        #: the endpoints of the same account, which may share this one's quota (wire/shared_quota.py)
        self.account = account
        #: what paces this endpoint: itself, or the limiter of the endpoints found to share its quota
        self.lead = self
        self.ceiling = ceiling
        self.rate: float = ceiling if ceiling is not None else INITIAL_RATE
        self.slow_start = ceiling is None
        #: the accepted rate at the last cut, the anchor of the recovery (None until a cut)
        self.level: float | None = None
        self._highest = 0.0  # the highest edge found twice (an anchor within SAME_LEVEL of the last)
        self.cuts = 0
        #: the smoothed share of throttled answers (DCTCP's alpha)
        self.share = 0.0
        self.rtt: float | None = None
        self._last_start = -math.inf
        self._last_cut = -math.inf
        self._backlogged_at = -math.inf
        self._starts: deque[float] = deque()
        self._successes: deque[float] = deque()
        self._admitted_sent: deque[float] = deque()  # the send times of the successes (answer order)
        self._ramp_end = -math.inf  # when slow start ended
        self._from_start = False  # the anchor is where slow start ended
        self._episode = 0.0  # the anchor of the first of the cuts in the last second
        self._episode_at = -math.inf  # when that cut came
        self._round_start: float | None = None
        self._answers = 0
        self._throttles = 0
        self._grown = 0.0  # seconds of growth since the last cut (only while the limiter held requests)
        self._clean: float | None = None  # the pace of the last round without a throttle since the last cut
        self._window_open = self.slow_start  # the initial window: until the first throttle
        self._window = INITIAL_WINDOW
        self._window_shut = -math.inf  # when the initial window shut (its first throttle)
        self._probe_cost = 0  # throttled answers since the last cut
        self._since_cut = 0  # answers to requests sent since the last cut
        self._hold = 0.0  # answers since the last cut before the rate may probe above the anchor
        self._k = 0.0  # CUBIC's K: seconds of growth from the cut back to the anchor
        self._refused_run = 0  # refusals running (sent since the last cut, none admitted since the first) ...
        self._run_from = -math.inf  # ... since this time, the first of them sent at this one
        self._run_sent = -math.inf
        self._refused_sent = -math.inf  # when the last refused request was sent
        self._stalled = False  # the server admits nothing: probes only (STALL_RUN) ...
        self._stall_at = math.inf  # ... since this time, having admitted this many a second before it
        self._stall_admitted = 0.0
        self._probe_gap = 0.0
        self._dry = 0  # refusals since the last admitted answer, cuts or not ...
        self._dry_from = math.inf  # ... the first of them answered at this time, when the last second
        self._dry_admitted = 0.0  # had admitted this many a second
        if account is not None:
            account.join(self)

    # -- pacing -------------------------------------------------------------------------------------
    def next_start(self, now: float, in_flight: int | None = None) -> float:
        """The earliest time the next request may start (``<= now`` means at once), given how many
        requests are in flight (``None``: not known, so no initial window)."""
        if self.lead is not self:
            return self.lead.next_start(now, in_flight)
        if self._last_start == -math.inf and self.account is not None:
            self._last_start = self.account.first_start(self, now)
        due = self._last_start + 1.0 / self.rate
        if self._stalled:
            # a probe at a time; the wait looks again a round trip on (the stall ends with an answer)
            due = max(due, min(self._last_start + self._probe_gap, now + max(self.rtt or 0.0, MIN_RECHECK)))
        if due > now - min(LATE_CREDIT, 0.5 / self.rate):
            # waiting on the pace, or starting when it is due after waiting on it: at a pace under one a
            # second, a wait counted from its beginning ended more than a second before its answer
            self._backlogged_at = now
        if due > now:
            if self._window_open and in_flight is not None and in_flight < self._window:
                return now
            if self.slow_start and self.rtt is not None:
                # the rate may grow with every answer: look again a round trip from now, not at a due
                # time computed from a pace that is already out of date
                return min(due, now + max(self.rtt, MIN_RECHECK))
        return due

    def started(self, now: float) -> None:
        if self.lead is not self:
            return self.lead.started(now)
        due = self._last_start + 1.0 / self.rate
        # on schedule (late by a timer's overshoot at most): keep the schedule, or the rate leaks away
        self._last_start = due if 0.0 <= now - due <= LATE_CREDIT else now
        if self._stalled:
            self._last_start = now
            # a one-second window's stall ends within the second, and a late probe would lose its next
            # second; a minute's quota spent (N calls a minute) keeps refusing for up to a minute
            gap = STALL_GAP if now - self._stall_at < 2.0 * WINDOW else LONG_STALL_GAP
            self._probe_gap = min(2.0 * self._probe_gap, gap)
        self._starts.append(now)
        while self._starts[0] <= now - KEPT:
            self._starts.popleft()

    @property
    def stalled(self) -> bool:
        """Whether the server admits nothing now (a stall): one probe at a time until one is admitted."""
        return self._stalled

    @property
    def stall_admitted(self) -> float:
        """What the second before the stall admitted (requests/s, by send time)."""
        return self._stall_admitted

    def start_before(self, when: float) -> float | None:
        """The last start at or before ``when``, if it came less than a second before it."""
        index = bisect_right(self._starts, when) - 1
        return self._starts[index] if index >= 0 and self._starts[index] > when - WINDOW else None

    def starts_after(self, when: float) -> int | None:
        """Requests started after ``when``; None if that is further back than the starts are kept."""
        times = self._starts
        if times and when < times[-1] - KEPT:
            return None
        return len(times) - bisect_right(times, when)

    def admitted_since(self, when: float) -> int:
        """Requests admitted after ``when`` (counted over the last second or ten, at least)."""
        return len(self._successes) - bisect_right(self._successes, when)

    def absorb(self, other: AdaptiveRate) -> None:
        """Pace ``other``'s requests too, from now on: the two share one quota. The rates and ceilings
        add up; the cuts so far answered collisions, not the quota's edge, so the edge is found afresh
        (slow start, or the recovery without a hold under a ceiling)."""
        other.lead = self
        self.ceiling = None if self.ceiling is None or other.ceiling is None else self.ceiling + other.ceiling
        self.rate += other.rate
        if self.ceiling is not None:
            self.rate = min(self.rate, self.ceiling)
        self._last_start = max(self._last_start, other._last_start)
        self.slow_start, self._hold = self.ceiling is None, 0.0
        # as after a cut: answers to requests sent before (collisions, most throttled) say nothing of
        # the pace of both, and the anchor, the smoothed share and what probing cost were collisions'
        # (kept, a cut just after found "the same edge" and held the pace there for 200 answers)
        self._last_cut = self._last_start
        # under a ceiling there is no slow start: the recovery grows from the pace of both, no hold
        self.level = None if self.slow_start else self.rate
        self.share, self._clean, self._k, self._grown = 0.0, None, 0.0, 0.0
        self._probe_cost, self._highest = 0, 0.0
        self._round_start, self._answers, self._throttles = None, 0, 0
        self._refused_run, self._stalled, self._stall_at, self._dry = 0, False, math.inf, 0

    def _recent(self, now: float, seconds: float) -> float:
        """Starts per second over the last ``seconds`` (at most ``WINDOW``)."""
        times = self._starts
        # in order: a binary search, not a walk over up to a second of requests
        return (len(times) - bisect_right(times, now - seconds)) / seconds

    def _busy(self, now: float) -> bool:
        """Whether the limiter (not the workers) is what holds requests back."""
        window = BUSY_WINDOW if not self.slow_start or self.rtt is None else SLOW_START_ROUNDS * self.rtt
        busy = min(max(window, 2.0 / self.rate), WINDOW)
        return now - self._backlogged_at <= busy and self._recent(now, busy) >= 0.5 * self.rate

    # -- feedback -----------------------------------------------------------------------------------
    def throttled(self, now: float, sent_at: float) -> bool:
        """A throttled answer to a request sent at ``sent_at``; True when it cut the rate."""
        if self.lead is not self:
            return self.lead.throttled(now, sent_at)
        if self.account is not None:
            self.account.throttled(self, sent_at)
        return self._answer(now, sent_at, throttled=True)

    def succeeded(self, now: float, sent_at: float) -> None:
        """A successful answer."""
        if self.lead is not self:
            return self.lead.succeeded(now, sent_at)
        rtt = max(now - sent_at, 1e-4)
        self.rtt = rtt if self.rtt is None else 0.8 * self.rtt + 0.2 * rtt
        if self._window_open and self.slow_start:
            self._window += 1  # TCP's slow start: one more in flight for each answer, doubling a round trip
        if self.slow_start and sent_at >= self._last_cut and self._busy(now):
            grown = self.rate + min(SLOW_START_GAIN, SLOW_START_PER_RTT / self.rtt)
            self.rate = min(self.ceiling if self.ceiling is not None else math.inf, grown)
        self._answer(now, sent_at, throttled=False)

    def accepted(self, now: float, span: float | None = None) -> float:
        """Successful answers per second over the last ``span`` seconds (at most ``WINDOW``; by default
        the last second, or since slow start ended if that is shorter, at least ``SHORT_SPAN``: before,
        they may have run on a bucket's burst)."""
        times = self._successes
        while len(times) > MIN_COUNTED and times[0] <= now - WINDOW:
            times.popleft()
        if span is None:
            span = min(WINDOW, max(now - self._ramp_end, SHORT_SPAN))
        if len(times) >= MIN_COUNTED and now - times[-MIN_COUNTED] > span:
            # a slow pace: a second holds a handful of answers, too few to tell 5/s from 6/s
            return MIN_COUNTED / max(now - times[-MIN_COUNTED], 1e-3)
        return (len(times) - bisect_right(times, now - span)) / span

    def _answer(self, now: float, sent_at: float, *, throttled: bool) -> bool:
        """Count an answer into the current round; at the round's end, decide. True when it cut."""
        if not throttled:
            times = self._successes
            times.append(now)
            while len(times) > MIN_COUNTED and times[0] <= now - WINDOW:
                times.popleft()  # a second (or ten) of successes, whatever the crawl's length
            sent = self._admitted_sent
            sent.append(sent_at)
            while sent and sent[0] <= now - WINDOW:
                sent.popleft()  # a stall counts the last second's (by send time)
            if self._stalled:
                if self._stall_at - WINDOW < sent_at < self._stall_at:
                    self._stall_admitted += 1.0 / WINDOW  # in flight when the stall began: that second's too
                if sent_at > self._refused_sent:
                    self._resume(now)
            self._dry = 0
            if sent_at > self._run_sent:
                self._refused_run = 0  # admitted one sent during the run: the server admits some
        else:
            if self._stall(now, sent_at):
                return False  # a stall's probe, refused: the server still admits nothing, whatever the pace
            if self._window_open and self.slow_start:
                if self._window > 2 * INITIAL_WINDOW:
                    # the window started requests faster than the pace: the pace is what it really sent
                    span = min(WINDOW, max(2.0 * (self.rtt or 0.0), ROUND_SECONDS))
                    self.rate = max(self.rate, self._recent(now, span))
                else:
                    self._window_shut = now
            elif sent_at < self._window_shut:
                # started together by the initial window with the one whose refusal shut it: a bucket
                # that holds no burst refuses all of them but one, which is one signal, not several (a
                # crawl's first listings, a handful at once, were cutting 5/s to 2/s)
                return False
            self._probe_cost += 1  # every throttle since the last cut, old pace or new: what probing cost
            self._window_open = False  # requests started together are what a one-request bucket refuses
        if sent_at < self._last_cut:
            return False  # sent at the old pace: it says nothing of the new one
        self._since_cut += 1
        if self._round_start is None:
            self._round_start = now
        self._answers += 1
        self._throttles += throttled
        elapsed = now - self._round_start
        n, k = self._answers, self._throttles
        full = n >= ROUND_ANSWERS and elapsed >= max(ROUND_SECONDS, 2.0 * (self.rtt or 0.0))
        late = n >= ROUND_MIN_ANSWERS and elapsed >= ROUND_MAX
        # the alarm is for a sudden change; right after a cut a round runs its length, or a window counter's
        # throttles, bunched at the end of each window, would cut again and again for one overshoot
        alarm = k >= ALARM and (2 * k >= n or self.slow_start) and now - self._last_cut >= WINDOW
        if not (full or late or alarm):
            return False
        return self._end_round(now, elapsed, n, k)

    def _stall(self, now: float, sent_at: float) -> bool:
        """Count a refusal into the run of refusals; True if it answered a probe of a stall."""
        if sent_at >= self._stall_at:
            # what probing cost, over a window counter's second; past it the probes wait out a server
            # that admits nothing (a quota withdrawn, a minute's spent), which says nothing of the edge
            self._probe_cost += now - self._stall_at <= WINDOW
            return True
        if sent_at < self._last_cut:
            return False  # sent at the old pace: the cut may have been enough
        self._refused_sent = max(self._refused_sent, sent_at)
        if self._refused_run == 0:
            self._run_from, self._run_sent = now, sent_at
        self._refused_run += 1
        # with few requests in flight the cuts that refusals bring (a round of three answers each)
        # restart the run, and a call's attempts ran out before eight: three refusals over half a second
        # with nothing admitted at all, cuts or not, is a server that admits nothing too (a minute's
        # quota spent, at --concurrency 1, ended calls as ResourceExhausted)
        if self._dry == 0:
            self._dry_from, self._dry_admitted = now, self.accepted(now, WINDOW)
        self._dry += 1
        dry = self._dry >= DRY_RUN and now - self._dry_from >= max(DRY_SPAN, self.rtt or 0.0)
        # a round trip of refusals and none admitted: far over a bucket's quota, runs of refusals are
        # many and short; a window counter's or a silenced server's last until it admits again
        run = self._refused_run >= STALL_RUN and now - self._run_from >= (self.rtt or 0.0)
        if (run or dry) and not self._stalled:
            self._stalled, self._stall_at = True, now
            # what the second before admitted, by send time (at a long round trip a second of answers
            # holds two windows' admitted requests); for a drought, the second before it began
            self._stall_admitted = sum(1 for t in self._admitted_sent if t > now - WINDOW) / WINDOW
            if not run:
                self._stall_admitted = max(self._stall_admitted, self._dry_admitted)
            self._probe_gap = max(1.0 / self.rate, self.rtt or 0.0, MIN_RECHECK)
        return False

    def _resume(self, now: float) -> None:
        """A probe admitted: the stall is over. The pace resumes at most at what the server admitted in
        the second before it (a window counter admits its quota a second, whatever the pace)."""
        long, self._stalled, self._stall_at = now - self._stall_at > 2.0 * WINDOW, False, math.inf
        admitted = max(self._stall_admitted, MIN_RATE)
        if self.rate <= admitted:
            return
        # the edge found again holds the next probe, as after a cut; not after a stall of more than a
        # window counter's second or two: a server that admitted nothing for longer says nothing of it
        self._hold = 0.0 if long else self._hold_at(admitted)
        self.level = admitted
        self.rate = admitted * (1.0 - self._depth())  # as a cut below it
        self.slow_start, self._window_open = False, False
        self._k, self._grown, self._clean = 0.0, 0.0, None
        self._probe_cost, self._since_cut = 0, 0
        self._last_cut = now
        self._round_start, self._answers, self._throttles = None, 0, 0

    def _depth(self) -> float:
        """How far a cut goes below what the server admits: half the smoothed share (DCTCP), at least
        ``MIN_CUT``, at most ``MAX_CUT``."""
        return min(MAX_CUT, max(MIN_CUT, self.share / 2.0))

    def _hold_at(self, admitted: float) -> float:
        """Answers before the next probe above a new anchor ``admitted``: if it is the edge found again
        where it was (within ``SAME_LEVEL`` of the last anchor), until the answers since pay for the
        throttles the last probe cost, at ``PROBE_SHARE``; none for an edge found elsewhere. Far under
        the highest edge found twice, at most ``MAX_HOLD`` seconds; an edge found twice is recorded."""
        again = self.level is not None and abs(admitted - self.level) <= SAME_LEVEL * self.level
        if not again:
            return 0.0
        hold = self._probe_cost / PROBE_SHARE
        if admitted < FALLEN * self._highest:
            # far under an edge found twice before: that quota may come back (a neighbour's load gone),
            # so probe at least every MAX_HOLD seconds, not every 300 answers (a minute at 5/s)
            hold = min(hold, MAX_HOLD * admitted)
        self._highest = max(self._highest, admitted)
        return hold

    def _end_round(self, now: float, elapsed: float, n: int, k: int) -> bool:
        share = k / n
        self.share += SHARE_GAIN * (share - self.share)
        self._round_start, self._answers, self._throttles = now, 0, 0
        # a throttle with the smoothed share above the tolerated one, or two with the round's share well
        # above it, say the pace is too high; a lone throttle now and then is jitter
        lone = k == 1 and not self.slow_start  # in slow start a lone throttle is jitter at a low pace
        if (lone and self.share > TOLERATED) or (
            k >= 2 and (self.share > TOLERATED or share > 2 * TOLERATED)
        ):
            self._cut(now, share, full=n >= ROUND_ANSWERS)
            return True
        if k == 0:
            self._clean = self.rate
        if share <= TOLERATED:
            self._grow(now, elapsed)
        return False

    def _cut(self, now: float, share: float, *, full: bool) -> None:
        """DCTCP's proportional decrease below what the server admits.

        What it admits: the round's pace less its throttled share (a token bucket whose burst is spent
        admits exactly its quota), or, when more, the pace of the last round without a throttle since
        the previous cut, or the successes over the last second. A one-request bucket paced just past
        its edge throttles every other request, yet admits the whole pace a little slower; a window
        counter throttles everything from the moment its second's quota is spent to the next second
        (read from the round's share alone, both collapsed the rate). If the edge was not there (the
        quota halved), the next rounds cut again: no clean round since, and the last second empties."""
        # a round of few answers (an alarm) may overstate the share: it cuts by MAX_CUT at most
        floor = 0.0 if full else self.rate * (1.0 - MAX_CUT)
        # no cut goes lower than MAX_CUT below what the last second admitted, and for a second from the
        # first of a run of cuts (an episode) none goes lower than MAX_CUT below that one's anchor: the
        # throttles a window counter bunches up to its next second are one signal, not many. A second
        # from the first, not from the last: a quota far below the rate throttles every round, so the
        # cuts never stop coming, and an episode that lasted while they came held the rate over it
        bottom = max(MIN_RATE, (1.0 - MAX_CUT) * self.accepted(now, WINDOW))
        if not self.slow_start:  # slow start's clean rounds may have run on a bucket's burst
            floor = max(floor, self._clean or 0.0, self.accepted(now))
            if now - self._episode_at < WINDOW:
                bottom = max(bottom, self._episode * (1.0 - MAX_CUT))
        admitted = max(self.rate * (1.0 - share), min(self.rate, floor))
        if now - self._episode_at >= WINDOW:  # (slow start may have overshot a burst many times over)
            self._episode = 0.0 if self.slow_start else admitted
            self._episode_at = now
        if self.slow_start:
            # the edge was crossed up to a round trip before its answers came back, and slow start
            # grows the rate up to e^SLOW_START_PER_RTT times a round trip
            admitted = min(admitted, self.rate * math.exp(-SLOW_START_PER_RTT))
            self._ramp_end = now
        cut = self._depth()
        self._hold = self._hold_at(admitted)
        self.level = admitted
        admitted = max(admitted, MIN_RATE)
        self.rate = min(self.rate, max(bottom, admitted * (1.0 - cut)))
        if now - self._ramp_end < WINDOW:
            # the cuts that follow slow start's, in its last second: held up by the floor (the last
            # second admitted more than a window counter's throttled rounds say), recover from there
            self.level = max(self.level, self.rate)
        self._from_start, self.slow_start = self.slow_start, False
        self._clean = None
        self._last_cut = now
        self._grown = 0.0
        # CUBIC's K: the seconds of growth that bring the rate back to the anchor
        self._k = ((1.0 - self.rate / admitted) / CUBIC) ** (1.0 / 3.0) if admitted > self.rate else 0.0
        self._probe_cost, self._since_cut, self._refused_run = 0, 0, 0
        self.cuts += 1

    def _grow(self, now: float, elapsed: float) -> None:
        """CUBIC's recovery, anchored at the accepted rate of the last cut: fast back towards it, flat
        near it (held just under it until the last probe is paid for), then faster and faster above it:
        the quota may have grown."""
        if self.slow_start or self.level is None or not self._busy(now):
            return
        ceiling = self.ceiling if self.ceiling is not None else math.inf
        if self.rate >= ceiling:
            return
        self._grown += elapsed
        if self._since_cut < self._hold:
            self._grown = min(self._grown, self._k - HOLD_SECONDS)
        t = self._grown - self._k
        target = self.level * (1.0 + CUBIC * t * t * t)
        step = min(MAX_ROUND_GROWTH, MAX_GROWTH * elapsed)
        self.rate = min(ceiling, max(self.rate, min(target, self.rate * (1.0 + step))))
        if self._from_start and self.rate >= RESTART * self.level and self._probe_cost == 0:
            # twice the anchor slow start left, without a throttle: what ended it was jitter at a low
            # pace (a one-request bucket), so find the edge again as at the start (the cubic curve
            # would take seconds)
            self.slow_start = True


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """The shared limiter of one endpoint: ``sent_at = await limiter.acquire()`` before each request,
    ``limiter.release()`` once its answer is in.

    ``rate`` is the ceiling in requests/s (``None``: no ceiling, find the server's pace); ``concurrency``
    the most requests in flight. Report each answer with ``on_throttled(sent_at)`` or
    ``on_success(sent_at)`` so the pace adapts.
    """

    def __init__(
        self,
        rate: float | None,
        concurrency: int,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        *,
        name: str = "",
        account: Account | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.core = AdaptiveRate(rate, account, name=name)
        self.concurrency = concurrency
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._in_flight = anyio.Semaphore(concurrency)
        self._pace = anyio.Lock()
        self._running = 0  # requests started and not yet released (those waiting on the pace are not)

    @property
    def rate(self) -> float:
        return self.core.lead.rate

    async def acquire(self) -> float:
        """Wait for a free in-flight slot and then for the pace; returns the start time.

        Neither the slot nor the pace lock yields to the event loop when it is free at once (anyio's
        ``acquire`` always does, a full loop turn per request on the hot path): the request that
        follows is the await that lets other tasks run.
        """
        try:
            self._in_flight.acquire_nowait()
        except anyio.WouldBlock:
            await self._in_flight.acquire()
        try:
            try:
                self._pace.acquire_nowait()
            except anyio.WouldBlock:
                await self._pace.acquire()
            try:
                while True:
                    now = self._clock()
                    due = self.core.next_start(now, self._running)
                    if due <= now:
                        break
                    wait = due - now
                    if wait <= TIMER_GRAIN / 2:
                        # uvloop rounds a sleep to whole milliseconds and wakes this one at once: the
                        # pacer would spin through the loop until ``due``. A grain (the late start that
                        # follows is made up by the pacing credit)
                        wait = TIMER_GRAIN
                    await self._sleep(wait)
                self.core.started(now)
            finally:
                self._pace.release()
        except BaseException:
            self._in_flight.release()
            raise
        self._running += 1
        return now

    def release(self) -> None:
        self._running -= 1
        self._in_flight.release()

    def on_throttled(self, sent_at: float | None = None) -> bool:
        """A quota throttle; True when the endpoint is stalled after it (the server admits nothing)."""
        now = self._clock()
        before, stalled = self.rate, self.core.lead.stalled
        if self.core.throttled(now, now if sent_at is None else sent_at):
            log.debug(
                "ratelimit.cut", endpoint=self.name, rate_before=round(before, 3), rate=round(self.rate, 3)
            )
        if self.core.lead.stalled and not stalled:
            log.debug("ratelimit.stall", endpoint=self.name, admitted=self.core.lead.stall_admitted)
        return self.core.lead.stalled

    def on_success(self, sent_at: float | None = None) -> None:
        now = self._clock()
        self.core.succeeded(now, now if sent_at is None else sent_at)
