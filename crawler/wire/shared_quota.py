"""Whether endpoints of one account draw on one quota, told from when their throttles come.

Each endpoint has its own limiter (wire/ratelimit.py); an account's endpoints usually have quotas of
their own (one per region), but a quota may be the account's. Where it is a bucket of one request, two
limiters that pace it apart collide on its token: each one's throttled share is the other's rate over the
quota whatever its own rate, so cutting never cures it and both ratchet down. Timing tells the two
apart. The phase of a throttled request in another endpoint's pace (the time since that endpoint's last
start, times its pace) is spread evenly, a mean of a half, when the quota is the endpoint's own; it is
small when the other just took the shared token. Once the mean phase of ``EVIDENCE`` throttles or more
is ``Z`` standard errors below a half, one limiter paces both (``AdaptiveRate.absorb``): the collisions
become a pace too high, which cuts cure. An endpoint starved by the other (a region's first listing,
retried a second apart, or a pace cut to a request or two a second) gives too few phases; but any quota
of its own has a token for a request a second after the last it admitted, so ``IDLE_REFUSALS`` refusals
running of requests sent after a second in which every request of the endpoint was refused, while
another endpoint was admitted, are a verdict too. The reasoning and the measurements: docs/design.md,
"Endpoints that share a quota", and docs/performance.md.

Invariants: a verdict is never undone; a start in the same millisecond as the other's is no evidence
(limiters in step, or one event-loop wake-up, look alike to a shared token), nor is more than one of an
endpoint's refusals sent in the same millisecond (a burst started at once is one signal); the
endpoints' paces begin out of step (the k-th of n, k/n of an interval after the first), so ceilings
that add up under a shared quota are held from the first second.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from crawler.log import get_logger
from crawler.wire.ratelimit import KEPT, TIMER_GRAIN, WINDOW, AdaptiveRate

log = get_logger(__name__)

EVIDENCE = 5  # throttles of one endpoint timed against another's starts before a verdict ...
Z = 3.5  # ... that they share a quota: the mean phase this many standard errors below a half
IDLE_REFUSALS = 2  # or this many refusals running, each sent after a second of nothing but refusals
UNIFORM_SD = 1.0 / math.sqrt(12.0)  # the standard deviation of a phase spread evenly over 0..1


class SharedQuota:
    """The limiters of one account's endpoints (``AdaptiveRate(..., account=...)`` joins them)."""

    def __init__(self) -> None:
        self.members: list[AdaptiveRate] = []
        self._origin: float | None = None
        self._index: dict[AdaptiveRate, int] = {}  # each limiter's index in members
        #: per pair of pacing limiters (indexes into members, lower first): throttles counted, phases summed
        self._phases: dict[tuple[int, int], tuple[int, float]] = {}
        #: per pacing limiter: its refusals running after a second of refusals (starved), since the first
        #: of them was sent
        self._starved: dict[int, tuple[int, float]] = {}
        #: per pacing limiter: when its refused requests of the last two seconds were sent, in order
        self._refused: dict[int, list[float]] = {}

    def join(self, core: AdaptiveRate) -> None:
        self._index[core] = len(self.members)
        self.members.append(core)

    def first_start(self, core: AdaptiveRate, now: float) -> float:
        """The start ``core``'s pace counts its first from: the k-th of n endpoints begins k/n of its
        interval after the account's first start (paces in step collide on a shared token every time),
        where k/n of an interval is a millisecond or more."""
        if self._origin is None:
            self._origin = now
        k, n = self._index[core], len(self.members)
        if 1.0 / (n * core.rate) < TIMER_GRAIN:
            k = 0  # a step finer than the timers keep: the phases would be jitter, in step or not
        return self._origin + (k / n - 1.0) / core.rate

    def throttled(self, core: AdaptiveRate, sent_at: float) -> None:
        """A request of ``core``'s (a limiter pacing itself) sent at ``sent_at`` was refused: weigh its
        phase in each other pace."""
        me = self._index[core]
        refused = self._refused.setdefault(me, [])
        at = bisect_right(refused, sent_at)
        # another refusal of this endpoint's sent in the same instant (a burst of starts at once): one
        # signal, weighed once, or a crawl's first listings outweigh everything after them
        together = (at > 0 and sent_at - refused[at - 1] < TIMER_GRAIN) or (
            at < len(refused) and refused[at] - sent_at < TIMER_GRAIN
        )
        refused.insert(at, sent_at)  # answers come nearly in the order sent: an insert near the end
        if refused[0] <= sent_at - KEPT:
            del refused[: bisect_right(refused, sent_at - KEPT)]
        if self._refused_for_a_second(core, refused, sent_at):
            self._refused_starved(core, me, sent_at)
        if together:
            return
        for other, peer in enumerate(self.members):
            if peer.lead is not peer or peer is core:
                continue  # paced by another limiter, or by this one
            last = peer.start_before(sent_at)
            if last is None or sent_at - last < TIMER_GRAIN:
                # idle (no start in its last second), or started in the same instant (in step, or one
                # event-loop wake-up): either says nothing
                continue
            # of a pace under one a second, only starts in the last second are kept: the phase is
            # over that second (spread evenly over it too, when the quota is the endpoint's own)
            phase = min(1.0, (sent_at - last) / min(1.0 / peer.rate, WINDOW))
            pair = (min(me, other), max(me, other))
            count, total = self._phases.get(pair, (0, 0.0))
            count, total = count + 1, total + phase
            self._phases[pair] = (count, total)
            if count >= EVIDENCE and (0.5 - total / count) * math.sqrt(count) >= Z * UNIFORM_SD:
                self._unite(core, peer)

    @staticmethod
    def _refused_for_a_second(lead: AdaptiveRate, refused: list[float], sent_at: float) -> bool:
        """Whether every request ``lead`` started in the second up to ``sent_at`` (that one included,
        each answered already) was refused: ``refused`` holds when its refused requests were sent."""
        since = sent_at - WINDOW
        started = lead.starts_after(since)
        if started is None or started == 0:
            # further back than the starts are kept (a round trip of seconds): not known; or no start
            # recorded for it
            return False
        # starts after ``sent_at`` are not in the second; refusals after it are theirs
        started -= lead.starts_after(sent_at) or 0
        return started == bisect_right(refused, sent_at) - bisect_right(refused, since)

    def _refused_starved(self, lead: AdaptiveRate, me: int, sent_at: float) -> None:
        """Every request ``lead`` sent in the second up to ``sent_at`` was refused. A quota of its own
        (of a request a second or more) would have had a token for the last of them (none admitted for a
        second); a quota shared with an endpoint admitted in that second may not. ``IDLE_REFUSALS``
        running (no success since the first) unite it with the busiest such endpoint."""
        since = sent_at - WINDOW
        busy = [
            (admitted, other)
            for other, peer in enumerate(self.members)
            if peer.lead is peer and peer is not lead and (admitted := peer.admitted_since(since))
        ]
        if not busy:
            return
        count, first = self._starved.get(me, (0, sent_at))
        if lead.admitted_since(first):
            count, first = 0, sent_at  # a success since the run began: it starts again
        count += 1
        self._starved[me] = (count, first)
        if count >= IDLE_REFUSALS:
            self._unite(lead, self.members[max(busy)[1]])

    def _unite(self, lead: AdaptiveRate, peer: AdaptiveRate) -> None:
        """``lead`` paces ``peer`` and those it paced. (Their evidence is left: a limiter that paces
        no more is never weighed again.)"""
        for member in self.members:
            if member.lead is peer and member is not peer:
                member.lead = lead
        lead.absorb(peer)
        together = [m.name for m in self.members if m.lead is lead]
        log.info("ratelimit.shared_quota", endpoints=together, rate=round(lead.rate, 3))
