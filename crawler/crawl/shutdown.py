"""How a running crawl is stopped: by a signal (gently, then at once) or by its deadline.

``RunControl`` is the crawl's small mutable control state, shared by its tasks on one event loop (no
locks): the cancel scopes of the work and of discovery, whether to stop taking new pairs, and why.

* The first SIGINT/SIGTERM stops discovery and makes the workers take no new pair; the pairs in flight
  get ``grace`` seconds (a deadline on the work scope), then are cancelled — never half-written: a
  function is written whole or not at all, and a resume fetches the unwritten ones again.
* A second signal cancels the work at once. Either way the writer still writes every finished function
  and the end ``run`` record (``complete: false``), so the file stays whole and resumable.
* Refused credentials stop only their own target (``crawler.crawl.pipeline``'s lanes), never the run.
* The run's ``--deadline`` passing is a first signal without a signal: no new pairs, the grace period for
  those in flight, an end record with ``complete: false`` and ``interrupted: "deadline"`` (exit 3).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from crawler.log import get_logger

log = get_logger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(slots=True)
class RunControl:
    work: anyio.CancelScope | None = None
    discovery: anyio.CancelScope | None = None
    stopping: bool = False
    interrupted: signal.Signals | None = None
    #: the run's ``--deadline`` passed (and stopped it, unless it was already stopping)
    deadline_passed: bool = False

    def interrupt(self, signum: signal.Signals, grace: float) -> None:
        """A stop signal: the first one winds down within ``grace`` seconds, a second one stops at once."""
        if self.interrupted is None:
            self.interrupted = signum
            log.warning("crawl.interrupted", signal=signum.name, grace_seconds=grace)
            self._wind_down(grace)
            return
        log.warning("crawl.interrupted_again", signal=signum.name)
        if self.work is not None:
            self.work.cancel()

    def expire(self, deadline: float, grace: float) -> None:
        """The run's deadline (``deadline`` seconds) passed: wind down as on a first signal."""
        if self.stopping:  # already ending (a signal, refused credentials): that is the reason
            return
        self.deadline_passed = True
        log.warning("crawl.deadline_passed", deadline_seconds=deadline, grace_seconds=grace)
        self._wind_down(grace)

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped early, as the end record's ``interrupted`` says it."""
        if self.interrupted is not None:
            return self.interrupted.name
        return "deadline" if self.deadline_passed else None

    def _wind_down(self, grace: float) -> None:
        """No new pairs, discovery stopped; what is in flight gets ``grace`` seconds, then is cancelled."""
        self.stopping = True
        if self.discovery is not None:
            self.discovery.cancel()
        if self.work is not None:
            self.work.deadline = min(self.work.deadline, anyio.current_time() + grace)

    async def expire_after(self, deadline: float, grace: float) -> None:
        """Run until cancelled; ``deadline`` seconds from now, ``expire``."""
        await anyio.sleep(deadline)
        self.expire(deadline, grace)

    async def watch_signals(self, grace: float, signals: AsyncIterator[signal.Signals] | None = None) -> None:
        """Run until cancelled, turning SIGINT/SIGTERM into ``interrupt`` (main thread only). ``signals``:
        a receiver the caller already holds (``fcaudit crawl`` keeps one open past the crawl, so a signal
        that arrives while its outputs are written waits for them instead of killing the process)."""
        if signals is not None:
            async for signum in signals:
                self.interrupt(signum, grace)
            return
        with anyio.open_signal_receiver(*STOP_SIGNALS) as received:
            async for signum in received:
                self.interrupt(signum, grace)
