"""Whether endpoints of one account draw on one quota, told from when their throttles come.

Each endpoint has its own limiter (wire/ratelimit.py); an account's endpoints usually have quotas of
their own (one per region), but a quota may be the account's. Where it is a bucket of one request, two
limiters that pace it apart collide on its token: each one's throttled share is the other's rate over the
quota whatever its own rate, so cutting never cures it and both ratchet down. Timing tells the two
apart. The phase of a throttled request in another endpoint's pace (the time since that endpoint's last
start, times its pace) is spread evenly, a mean of a half, when the quota is the endpoint's own; it is
small when the other just took the shared token. Once the mean phase of ``EVIDENCE`` throttles or more
is ``Z`` standard errors below a half, one limiter paces both (``AdaptiveRate.absorb``): the collisions
become a pace too high, which cuts cure. A lone request (a region's first listing, retried a second
apart) gives too few phases; but one sent after a second without a start finds a token in any quota of
its own, so ``IDLE_REFUSALS`` of those running, while another endpoint was admitted, are a verdict too.
The reasoning and the measurements: docs/design.md, "Endpoints that share a quota", and
docs/performance.md.

Invariants: a verdict is never undone; a start in the same millisecond as the other's is no evidence
(limiters in step, or one event-loop wake-up, look alike to a shared token); the endpoints' paces begin
out of step (the k-th of n, k/n of an interval after the first), so ceilings that add up under a shared
quota are held from the first second.
"""

from __future__ import annotations

import math

from crawler.log import get_logger
from crawler.wire.ratelimit import TIMER_GRAIN, WINDOW, AdaptiveRate

log = get_logger(__name__)

EVIDENCE = 8  # throttles of one endpoint timed against another's starts before a verdict ...
Z = 3.5  # ... that they share a quota: the mean phase this many standard errors below a half
IDLE_REFUSALS = 3  # or this many refusals running of requests sent after a second without a start
UNIFORM_SD = 1.0 / math.sqrt(12.0)  # the standard deviation of a phase spread evenly over 0..1


class SharedQuota:
    """The limiters of one account's endpoints (``AdaptiveRate(..., account=...)`` joins them)."""

    def __init__(self) -> None:
        self.members: list[AdaptiveRate] = []
        self._origin: float | None = None
        self._index: dict[AdaptiveRate, int] = {}  # each limiter's index in members
        #: per pair of pacing limiters (indexes into members, lower first): throttles counted, phases summed
        self._phases: dict[tuple[int, int], tuple[int, float]] = {}
        #: per pacing limiter: its refusals running while idle, since the first of them was sent
        self._idle: dict[int, tuple[int, float]] = {}

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
        if core.start_before(math.nextafter(sent_at, -math.inf)) is None:
            self._refused_idle(core, me, sent_at)
        for other, peer in enumerate(self.members):
            if peer.lead is not peer or peer is core:
                continue  # paced by another limiter, or by this one
            last = peer.start_before(sent_at)
            if last is None or sent_at - last < TIMER_GRAIN:
                # idle (no start in its last second), or started in the same instant (in step, or one
                # event-loop wake-up): either says nothing
                continue
            phase = min(1.0, (sent_at - last) * peer.rate)
            pair = (min(me, other), max(me, other))
            count, total = self._phases.get(pair, (0, 0.0))
            count, total = count + 1, total + phase
            self._phases[pair] = (count, total)
            if count >= EVIDENCE and (0.5 - total / count) * math.sqrt(count) >= Z * UNIFORM_SD:
                self._unite(core, peer)

    def _refused_idle(self, lead: AdaptiveRate, me: int, sent_at: float) -> None:
        """A request sent after a second without a start of ``lead``'s was refused. A quota of its own
        (of a request a second or more) would have had a token for it; a quota shared with an endpoint
        admitted in the last second may not. ``IDLE_REFUSALS`` running (no success since the first)
        unite it with the busiest such endpoint."""
        since = sent_at - WINDOW
        busy = [
            (admitted, other)
            for other, peer in enumerate(self.members)
            if peer.lead is peer and peer is not lead and (admitted := peer.admitted_since(since))
        ]
        if not busy:
            return
        count, first = self._idle.get(me, (0, sent_at))
        if lead.admitted_since(first):
            count, first = 0, sent_at  # a success since the run began: it starts again
        count += 1
        self._idle[me] = (count, first)
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
