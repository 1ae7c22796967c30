"""Whether endpoints of one account draw on one quota, told from when their throttles come.

Each endpoint has its own limiter (wire/ratelimit.py); an account's endpoints usually have quotas of
their own (one per region), but a quota may be the account's. Where it is a bucket of one request, two
limiters that pace it apart collide on its token: each one's throttled share is the other's rate over the
quota whatever its own rate, so cutting never cures it and both ratchet down. Timing tells the two
apart. The phase of a throttled request in another endpoint's pace (the time since that endpoint's last
start, times its pace) is spread evenly, a mean of a half, when the quota is the endpoint's own; it is
small when the other just took the shared token. Once the mean phase of ``EVIDENCE`` throttles or more
is ``Z`` standard errors below a half, one limiter paces both (``AdaptiveRate.absorb``): the collisions
become a pace too high, which cuts cure. The reasoning and the measurements: docs/design.md, "Endpoints
that share a quota", and docs/performance.md.

Invariants: a verdict is never undone; a start in the same millisecond as the other's is no evidence
(limiters in step, or one event-loop wake-up, look alike to a shared token); the endpoints' paces begin
out of step (the k-th of n, k/n of an interval after the first), so ceilings that add up under a shared
quota are held from the first second.
"""

from __future__ import annotations

import math

from crawler.log import get_logger
from crawler.wire.ratelimit import TIMER_GRAIN, AdaptiveRate

log = get_logger(__name__)

EVIDENCE = 8  # throttles of one endpoint timed against another's starts before a verdict ...
Z = 3.5  # ... that they share a quota: the mean phase this many standard errors below a half
UNIFORM_SD = 1.0 / math.sqrt(12.0)  # the standard deviation of a phase spread evenly over 0..1


class SharedQuota:
    """The limiters of one account's endpoints (``AdaptiveRate(..., account=...)`` joins them)."""

    def __init__(self) -> None:
        self.members: list[AdaptiveRate] = []
        self._origin: float | None = None
        #: per pair of pacing limiters (indexes into members, lower first): throttles counted, phases summed
        self._phases: dict[tuple[int, int], tuple[int, float]] = {}

    def join(self, core: AdaptiveRate) -> None:
        self.members.append(core)

    def first_start(self, core: AdaptiveRate, now: float) -> float:
        """The start ``core``'s pace counts its first from: the k-th of n endpoints begins k/n of its
        interval after the account's first start (paces in step collide on a shared token every time)."""
        if self._origin is None:
            self._origin = now
        k, n = self.members.index(core), len(self.members)
        return self._origin + (k / n - 1.0) / core.rate

    def throttled(self, core: AdaptiveRate, sent_at: float) -> None:
        """A request of ``core``'s sent at ``sent_at`` was throttled: weigh its phase in each other pace."""
        lead = core.lead
        me = self.members.index(lead)
        for other, peer in enumerate(self.members):
            if peer.lead is not peer or peer is lead:
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
                self._unite(lead, peer, other)
                return

    def _unite(self, lead: AdaptiveRate, peer: AdaptiveRate, index: int) -> None:
        for member in self.members:
            if member.lead is peer and member is not peer:
                member.lead = lead
        lead.absorb(peer)
        self._phases = {pair: v for pair, v in self._phases.items() if index not in pair}
        together = [m.name for m in self.members if m.lead is lead]
        log.info("ratelimit.shared_quota", endpoints=together, rate=round(lead.rate, 3))
