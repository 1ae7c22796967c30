"""The quota-shape grid of ``crawl_bench`` (issue 17): fcaudit against each quota shape, judged by the server.

Each cell is one quota shape on a fresh emulator (a token bucket with a burst from 1 to 1 s of quota, a
fixed one-second window counter, a quota that halves and doubles mid-crawl, a quota shared by two
clients, 429 with ``Retry-After``, arrival jitter). Each client run gets its own emulator, so every run
meets a full bucket and a schedule counted from its own first request. The clients: ``fcaudit crawl``
(default, adaptive), ``fcaudit crawl --rate`` at 0.9 × the quota, and the official SDK in a 32-thread pool
that retries throttles (``sdk_crawl.py``). For a burst-1 cell above 200 requests/s the bench also sweeps
``--rate`` downwards for the best fixed pace (the highest whose throttled share stays under 3%): there,
arrival jitter alone trips a one-request bucket, so the quota is out of any client's reach.

Everything is read from the emulator's own counts (``/_emulator/stats``): arrivals and throttled answers
per whole second, and the second of the first request. "Steady" is from 5 s after the first request to
the last whole second; the peak window is the most arrivals in one aligned second of that span.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench._harness import REPO, Account, EmulatorProcess, ServerKnobs, _clean_env, crawl_command

SDK_SCRIPT = Path(__file__).resolve().with_name("sdk_crawl.py")
DEFAULT = "fcaudit"
RATE = "fcaudit --rate 0.9q"
POOL = "SDK pool"
CLIENTS = (DEFAULT, RATE, POOL)
WARM_UP = 5.0  # seconds after the first request not judged
CONCURRENCY = 32
CAP = 2.5  # a run is stopped at this many times its planned length


@dataclass(frozen=True, slots=True)
class Cell:
    key: str
    title: str
    quota: float
    burst: int  # for a window counter: the quota (what it lets through at once)
    shape: str = "bucket"
    changes: tuple[tuple[float, float], ...] = ()
    latency_ms: float = 10.0
    jitter_ms: float = 10.0
    arrival_jitter_ms: float = 0.0
    retry_hint: str = "none"
    clients: int = 1  # >1: that many crawls at once share the quota (several endpoints of one account)
    window: float = 1.0  # a window counter's window, seconds
    seconds: float = 15.0  # the crawl's length at the quota

    @property
    def knobs(self) -> ServerKnobs:
        return ServerKnobs(
            latency_ms=self.latency_ms,
            quota_rps=self.quota,
            burst=self.burst,
            quota_shape=self.shape,
            quota_window=self.window,
            quota_changes=self.changes,
            jitter_ms=self.jitter_ms,
            arrival_jitter_ms=self.arrival_jitter_ms,
            retry_hint=self.retry_hint,
        )

    def quota_at(self, t: float) -> float:
        """The quota ``t`` seconds after the first request."""
        factor = 1.0
        for at, f in self.changes:
            if t >= at:
                factor = f
        return self.quota * factor

    def account(self) -> Account:
        # about `seconds` of requests at the quota (one config listing per function, plus the listings)
        admitted = sum(self.quota_at(t + 0.5) for t in range(int(self.seconds)))
        functions = max(40, int(admitted * 0.97 / self.clients))
        return Account(functions, max(2, functions // 50))


GRID: tuple[Cell, ...] = (
    Cell("b1-5", "bucket 5/s, burst 1", 5, 1),
    Cell("b1-20", "bucket 20/s, burst 1", 20, 1),
    Cell("b1-100", "bucket 100/s, burst 1", 100, 1),
    Cell("b1-500", "bucket 500/s, burst 1", 500, 1),
    Cell("b10-100", "bucket 100/s, burst 10", 100, 10),
    Cell("b50-500", "bucket 500/s, burst 50", 500, 50),
    Cell("b1s-500", "bucket 500/s, burst 500 (1 s)", 500, 500),
    Cell("b200-2000", "bucket 2,000/s, burst 200", 2000, 200, seconds=10.0),
    Cell("win-100", "fixed 1 s window, 100/s", 100, 100, shape="window"),
    Cell("half-200", "bucket 200/s, burst 20, halves at 10 s, back at 20 s", 200, 20,
         changes=((10.0, 0.5), (20.0, 1.0)), seconds=30.0),
    Cell("shared-200", "bucket 200/s, burst 20, shared by 2 crawls", 200, 20, clients=2),
    Cell("ra-100", "bucket 100/s, burst 10, 429 with Retry-After", 100, 10, retry_hint="retry-after"),
    Cell("aj1-100", "bucket 100/s, burst 1, 5 ms arrival jitter", 100, 1, arrival_jitter_ms=5.0),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Run:
    client: str
    wall: float
    requests: int
    throttled: int
    cpu: float
    steady: float | None  # accepted requests/s after the warm-up
    peak: int | None  # most arrivals in one aligned second after the warm-up
    recovery: tuple[float | None, ...] = ()  # per quota change: seconds until within 10 % of it
    rate: float | None = None  # the --rate given (None: adaptive)
    stopped: bool = False  # stopped at CAP x its planned length: it had collapsed

    @property
    def share(self) -> float:
        return self.throttled / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class CellOutcome:
    cell: Cell
    runs: tuple[Run, ...]
    sweep: tuple[Run, ...] = field(default=())

    def run(self, client: str) -> Run | None:
        return next((r for r in self.runs if r.client == client), None)

    @property
    def best_fixed(self) -> Run | None:
        """The sweep's fastest run with fewer than 3 % throttled."""
        ok = [r for r in self.sweep if r.share < 0.03 and r.steady is not None]
        return max(ok, key=lambda r: r.steady or 0.0, default=None)


def start_clients(
    cell: Cell, emulator: EmulatorProcess, client: str, rate: float | None, tmp: Path
) -> list[tuple[subprocess.Popen[bytes], float, Path]]:
    """Start ``cell.clients`` runs of ``client`` on ``emulator``: each process, its start, its stderr file."""
    env = {**_clean_env(), **emulator.env}
    procs = []
    for n in range(cell.clients):
        if client == POOL:
            cmd = [sys.executable, str(SDK_SCRIPT), "--endpoint", emulator.endpoint]
            cmd += ["--threads", str(CONCURRENCY)]
        else:
            cmd = crawl_command(emulator, tmp / f"out{n}.ndjson", "-q", "--concurrency", str(CONCURRENCY))
            if rate is not None:
                cmd += ["--rate", f"{rate / cell.clients:.3f}"]
        err = tmp / f"err{n}"  # a file, not a pipe: the SDK logs every throttle and would fill a pipe
        with err.open("wb") as sink:
            started = time.monotonic()
            proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=sink)
        procs.append((proc, started, err))
    return procs


def run_once(cell: Cell, client: str, rate: float | None = None, *, seconds: float | None = None) -> Run:
    """One run of ``client`` on a fresh emulator with ``cell``'s quota; ``seconds`` shortens the account."""
    account = cell.account() if seconds is None else _shorter(cell, seconds, rate)
    with EmulatorProcess(account, cell.knobs) as emulator, tempfile.TemporaryDirectory() as tmp:
        procs = start_clients(cell, emulator, client, rate, Path(tmp))
        # a crawl that collapses would take many times its length: stop it (SIGINT, as a user would) and
        # judge what the server saw until then
        cap = CAP * (seconds if seconds is not None else cell.seconds)
        timers = [threading.Timer(cap, proc.send_signal, (signal.SIGINT,)) for proc, _s, _e in procs]
        for timer in timers:
            timer.start()
        waited = wait_each([proc for proc, _s, _e in procs])
        for proc, _started, err in procs:
            if proc.returncode not in (0, 3, 130, -signal.SIGINT):  # 3: findings (--fail-on)
                last = err.read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"{client} exited {proc.returncode}: {last}")
        for timer in timers:
            timer.cancel()
        ends = [ended for ended, _cpu in waited]
        cpu = sum(used for _ended, used in waited)
        stopped = any(proc.returncode in (130, -signal.SIGINT) for proc, _s, _e in procs)
        wall = max(ends) - min(started for _p, started, _e in procs)
        stats, origin = emulator.clocked_stats()
    # the first end on the emulator's clock (a shared quota)
    until = min(ends) - origin if cell.clients > 1 else None
    return replace(judge(cell, client, stats, wall, cpu, rate, until), stopped=stopped)


def wait_each(procs: Sequence[subprocess.Popen[bytes]], poll: float = 0.01) -> list[tuple[float, float]]:
    """Wait for every child; per child, in ``procs``' order, when it ended (``time.monotonic()``, within
    ``poll``) and the CPU seconds it used (``os.wait4``); sets each ``returncode``. The children are watched
    together: waiting for them one after another would note a child that ended first only once those
    before it had ended, and a shared quota's span would run into the tail one crawl had to itself."""
    done: dict[int, tuple[float, float]] = {}
    while len(done) < len(procs):
        for proc in procs:
            if proc.pid in done:
                continue
            try:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by Popen.send_signal's poll (the cap's SIGINT): CPU lost
                done[proc.pid] = (time.monotonic(), 0.0)
                continue
            if pid:
                done[proc.pid] = (time.monotonic(), usage.ru_utime + usage.ru_stime)
                proc.returncode = os.waitstatus_to_exitcode(status)
        if len(done) < len(procs):
            time.sleep(poll)
    return [done[proc.pid] for proc in procs]


def _shorter(cell: Cell, seconds: float, rate: float | None) -> Account:
    functions = max(40, int(seconds * (rate if rate is not None else cell.quota)))
    return Account(functions, max(2, functions // 50))


def judge(
    cell: Cell,
    client: str,
    stats: dict[str, Any],
    wall: float,
    cpu: float,
    rate: float | None,
    until: float | None = None,
) -> Run:
    """A run's figures from the emulator's stats. ``until``: when the first of several clients sharing
    the quota ended (seconds on the emulator's clock): the steady rate and the peak are of the seconds
    all of them shared it, not of a tail in which the one left finds the quota its own."""
    arrivals: list[int] = stats["per_second"]
    throttled: list[int] = stats.get("throttled_per_second") or [0] * len(arrivals)
    first = stats.get("first_arrival_seconds") or 0.0
    lo, hi = math.ceil(first + WARM_UP), len(arrivals) - 1  # the last second is partial
    if until is not None:
        hi = min(hi, math.floor(until))  # the second in which a client ended is partial too
    steady = peak = None
    if hi - lo >= 2:
        accepted = [arrivals[i] - throttled[i] for i in range(lo, hi)]
        steady = sum(accepted) / (hi - lo)
        peak = max(arrivals[lo:hi])
    recovery = tuple(_recovery(cell, at, arrivals, throttled, first, rate) for at, _f in cell.changes)
    return Run(
        client, wall, int(stats["requests"]), int(stats["throttled"]), cpu, steady, peak, recovery, rate
    )


def _recovery(
    cell: Cell, at: float, arrivals: list[int], throttled: list[int], first: float, rate: float | None = None
) -> float | None:
    """Seconds from the change until a whole second whose accepted count is within 10 % of the new quota
    (of ``--rate`` if lower: a ceiling under the quota is where the run stays) and whose arrivals are not
    more than 10 % above it (None: not before the crawl ended)."""
    target = cell.quota_at(at) if rate is None else min(cell.quota_at(at), rate)
    start = math.ceil(first + at)
    for i in range(start, len(arrivals) - 1):
        accepted = arrivals[i] - throttled[i]
        if accepted >= 0.9 * target and arrivals[i] <= 1.1 * target + cell.burst:
            return i + 1 - (first + at)
    return None


def sweep(cell: Cell, say: Callable[[str], None]) -> tuple[Run, ...]:
    """Fixed ``--rate`` runs from 0.9 × the quota down, until one keeps throttled answers under 3 %,
    then one between it and the last that did not."""
    runs: list[Run] = []
    above: float | None = None
    for factor in (0.9, 0.6, 0.4, 0.25, 0.15, 0.1, 0.06, 0.04):
        rate = factor * cell.quota
        run = run_once(cell, f"fixed --rate {rate:g}", rate, seconds=10.0)
        runs.append(run)
        say(f"    sweep --rate {rate:g}: {run.share * 100:.1f}% throttled, steady {run.steady}")
        if run.share < 0.03:
            if above is not None:
                mid = (rate + above) / 2
                runs.append(run_once(cell, f"fixed --rate {mid:g}", mid, seconds=10.0))
                say(f"    sweep --rate {mid:g}: {runs[-1].share * 100:.1f}% throttled")
            break
        above = rate
    return tuple(runs)


def run_cell(cell: Cell, clients: Sequence[str], say: Callable[[str], None]) -> CellOutcome:
    say(f"cell {cell.key}: {cell.title}")
    runs = []
    for client in clients:
        rate = 0.9 * cell.quota if client == RATE else None
        run = run_once(cell, client, rate)
        runs.append(run)
        say(
            f"  {client}: {run.wall:.1f} s, {run.requests} requests, {run.share * 100:.1f}% throttled, "
            f"steady {run.steady}, peak {run.peak}, recovery {run.recovery}"
        )
    best: tuple[Run, ...] = ()
    if cell.burst == 1 and cell.quota > 200 and not cell.changes:
        best = sweep(cell, say)
    return CellOutcome(cell, tuple(runs), best)


# -- the targets --------------------------------------------------------------------------------------


#: a share of the quota the steady rate cannot tell apart (requests counted in one second or the next)
RESOLUTION = 0.005


def targets(o: CellOutcome, run: Run) -> list[tuple[str, bool]]:
    """Each issue-17 target this run is held to: (label with the figure, met)."""
    cell, out = o.cell, []
    q = cell.quota_at(WARM_UP) if not cell.changes else cell.quota
    if run.steady is not None and not cell.changes:
        if cell.burst >= 10 or cell.shape == "window":
            goal, why = 0.9 * q, "0.9×quota"
        elif cell.quota <= 200:
            goal, why = 0.8 * q, "0.8×quota"
        elif o.best_fixed is not None and o.best_fixed.steady is not None:
            goal, why = 0.9 * o.best_fixed.steady, f"0.9×best fixed pace {o.best_fixed.steady:.0f}/s"
        else:
            goal, why = 0.9 * q, "0.9×quota (no sweep)"
        if run.rate is not None:
            # --rate below the quota is a ceiling, never a trap: the run stays at --rate (0.9 x it, as
            # the quota's own target), or, on a one-request bucket, meets the burst-1 rule above; the
            # SDK pool, which sits at the quota, is no yardstick for a client capped under it
            ceiling = f"0.9×--rate {run.rate:.0f}/s"
            if cell.burst == 1 and cell.shape != "window":
                goal, why = min(goal, 0.9 * run.rate), f"{ceiling} or {why}"
            else:
                goal, why = 0.9 * run.rate, ceiling
        out.append((f"accepted {run.steady:.0f}/s ≥ {why}", run.steady >= goal))
        pool = o.run(POOL)
        if run.client != POOL and run.rate is None and pool is not None and pool.steady is not None:
            # within the measure's resolution: the steady rate averages whole requests counted per second
            # over a few seconds, so two clients both at the quota differ by a few tenths of a percent
            out.append((f"≥ SDK pool {pool.steady:.0f}/s", run.steady >= pool.steady - RESOLUTION * q))
    out.append((f"throttled {run.share * 100:.1f}% < 3%", run.share < 0.03))
    if run.peak is not None:
        limit = 1.2 * max(cell.quota_at(t) for t in (0.0, *[a for a, _ in cell.changes])) + cell.burst
        out.append((f"peak 1 s {run.peak} ≤ {limit:.0f}", run.peak <= limit))
    for (at, factor), took in zip(cell.changes, run.recovery, strict=True):
        label = f"×{factor:g} at {at:g} s: {'—' if took is None else f'{took:.1f} s'} < 5 s"
        out.append((label, took is not None and took < 5.0))
    return out


def bound(cell: Cell, run: Run) -> float:
    """Requests ÷ quota (with changes: when the schedule has admitted that many)."""
    need, t = float(run.requests - run.throttled), 0.0
    while need > 0:
        need -= cell.quota_at(t) * 0.01
        t += 0.01
    return max(t, 1e-9)


HEADER = (
    "| cell | client | wall ÷ bound | accepted ÷ quota | throttled | peak 1 s ÷ (quota+burst) "
    "| CPU ms/req | targets |"
)
RULE = "|---|---|--:|--:|--:|--:|--:|---|"


def render(outcomes: Sequence[CellOutcome]) -> str:
    lines = [HEADER, RULE]
    for o in outcomes:
        cell = o.cell
        for run in (*o.runs, *([o.best_fixed] if o.best_fixed else [])):
            q = cell.quota
            accepted = "—" if run.steady is None else f"{run.steady / q:.2f}"
            peak = "—" if run.peak is None else f"{run.peak / (q + cell.burst):.2f}"
            verdict = (
                "; ".join(f"{'met' if ok else 'MISSED'}: {label}" for label, ok in targets(o, run))
                if run in o.runs and run.client != POOL
                else "(yardstick)"
            )
            cpu = 1000 * run.cpu / run.requests if run.requests else 0.0
            ratio = f"{run.wall / bound(cell, run):.2f}" + (" (stopped)" if run.stopped else "")
            lines.append(
                f"| {cell.title} | {run.client} | {ratio} | {accepted} "
                f"| {run.share * 100:.1f}% | {peak} | {cpu:.3f} | {verdict} |"
            )
    return "\n".join(lines)


def dump(outcomes: Sequence[CellOutcome], path: Path) -> None:
    """The raw figures as JSON, to compare before and after."""
    data = [{"cell": o.cell.key, "runs": [asdict(r) for r in (*o.runs, *o.sweep)]} for o in outcomes]
    path.write_text(json.dumps(data, indent=1))


def run_grid(
    keys: Sequence[str] | None, clients: Sequence[str], say: Callable[[str], None]
) -> list[CellOutcome]:
    cells = [c for c in GRID if keys is None or c.key in keys]
    return [run_cell(c, clients, say) for c in cells]
