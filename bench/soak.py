"""Soak: one 100,000-function crawl with faults and a quota — nothing lost, memory flat, connections capped.

One command (needs the ``bench`` extra: ``pip install -e '.[bench]'``)::

    python -m bench.soak                      # 100,000 functions (a few minutes on a small machine)
    python -m bench.soak --functions 5000     # a quick look

The emulator runs in its own process (``fcaudit emulator``, with ``--dump-truth`` of the account as it is
before the crawl) and ``fcaudit crawl`` in another; while the crawl runs, this script samples the crawl's
resident memory and its open TCP connections every half second. At the end it checks the output against
the truth — every function exactly once, no config twice, the ``ok``/``none`` functions identical to the
truth, as many ``gone`` as the emulator deleted — and prints a Markdown table with the wall time, requests,
throttled answers, retries, peak memory, the memory at each quarter of the crawl and the most connections
seen, with the verdicts: memory flat and connections never above ``--concurrency``. The quarters are of the
crawl, up to its end record in the output: what follows is the summary, built once from the state the crawl
kept (its transient peak is in the peak RSS), and then the process leaves without the interpreter's teardown
(``crawler.cli.entry``), so a last sample after the end record would read the summary's peak, not the
crawl's state. Memory flat: the
last quarter's RSS at most 1.15× the first's (allocator noise; the bounded caches, such as the
destination counts, still filling) plus ``AUDIT_BYTES_PER_FUNCTION`` for each function crawled after the
first quarter: the state the live summary keeps and says it keeps. Per function, a 64-bit hash for it
and for each version/alias config (``crawler.audit.keyflags``: at most 27 bytes each), about 120 bytes
per FC-function destination (``crawler.audit.crossref``); per service, its row of counters (about 1.5 KB
with its names), and this estate has a service per 100 functions: about 105 bytes a function traced
(tracemalloc), 128 allowed. A leak of a few hundred bytes a function, or any per request, fails it
(``tests/bench/test_soak_verdict.py``); ``tests/audit/test_fold_memory.py`` holds the summary itself
to its stated state more tightly.
Requests, throttled answers and injected faults are the emulator's own counts (``/_emulator/stats``,
after the crawl less before it), not what the crawl says of itself; the crawl's own counts are shown
beside them.

Random 503s are left out of the default faults: the client reads a 503 as throttling and the adaptive
limiter then backs off for each one (see the fault-matrix tests); the quota supplies the throttling.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

from bench._harness import REPO, Account, EmulatorProcess, ServerKnobs, _clean_env, crawl_command

DEFAULT_FAULTS = (
    "500=0.01",
    "reset=0.01",
    "truncated=0.005",
    "malformed=0.005",
    "repeat-token=0.01",
    "delete=0.001",
)


class FaultyEmulator(EmulatorProcess):
    """The harness's emulator process, with faults, jitter and the truth dumped before serving."""

    def __init__(self, account: Account, knobs: ServerKnobs, faults: tuple[str, ...], truth: Path) -> None:
        super().__init__(account, knobs)
        self.faults = faults
        self.truth = truth

    def command(self) -> list[str]:
        cmd = super().command()
        for fault in self.faults:
            cmd += ["--fault", fault]
        cmd += ["--jitter-ms", "5", "--dump-truth", str(self.truth)]
        return cmd


#: the live summary's stated per-function state (see the module docstring), with a little room
AUDIT_BYTES_PER_FUNCTION = 128
#: the rest of the crawl's memory may vary this much between the first quarter and the last
RSS_SLACK = 1.15


def memory_limit(first_quarter: int, functions: int) -> float:
    """The most RSS the last quarter may show for the memory to count as flat (bytes)."""
    return RSS_SLACK * first_quarter + AUDIT_BYTES_PER_FUNCTION * functions * 3 / 4


@dataclass(slots=True)
class Samples:
    rss: list[tuple[float, int]] = field(default_factory=list)
    max_connections: int = 0
    #: the first sample's time at which the output held its end record (the crawl over, the summary next)
    crawl_ended: float | None = None


#: how the crawl's end record begins (``crawler.store.records.RunRecord``, ``phase: end``)
END_RECORD = b'{"type":"run","phase":"end"'


def has_end_record(out: Path, tail: int = 1 << 20) -> bool:
    """Whether the last ``tail`` bytes of ``out`` hold a line that begins the end record."""
    try:
        with out.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - tail))
            return b"\n" + END_RECORD in b"\n" + handle.read()
    except FileNotFoundError:
        return False


def sample(pid: int, samples: Samples, stop: threading.Event, out: Path | None = None) -> None:
    try:
        proc = psutil.Process(pid)
        while not stop.is_set():
            rss = proc.memory_info().rss
            now = time.monotonic()
            if samples.crawl_ended is None and out is not None and has_end_record(out):
                samples.crawl_ended = now
            if rss > 0:  # 0: the crawl has exited (a zombie has no memory), not a flat line
                samples.rss.append((now, rss))
            established = [c for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED]
            samples.max_connections = max(samples.max_connections, len(established))
            stop.wait(0.5)
    except psutil.NoSuchProcess:
        return


@dataclass(frozen=True, slots=True)
class Crawl:
    exit_code: int
    wall: float
    peak_rss: int
    samples: Samples


def run_crawl(emulator: EmulatorProcess, out: Path, concurrency: int, timeout: float) -> Crawl:
    cmd = crawl_command(emulator, out, "-q", "--concurrency", str(concurrency))
    env = {**_clean_env(), **emulator.env}
    samples, stop = Samples(), threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    sampler = threading.Thread(target=sample, args=(proc.pid, samples, stop, out), daemon=True)
    sampler.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
        stop.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Crawl(proc.returncode, time.perf_counter() - started, usage.ru_maxrss * 1024, samples)


def check(out: Path, truth: Path, deleted: int) -> tuple[dict[str, Any], list[str]]:
    """The output against the truth; (the end record, the problems found)."""
    problems: list[str] = []
    want_functions: dict[tuple[str, ...], tuple[str, int]] = {}
    want_configs: dict[tuple[str, ...], bytes] = {}
    for line in truth.read_bytes().splitlines():
        r = orjson.loads(line)
        ident = (r["account"], r["region"], r["service"], r["function"])
        if r["type"] == "function":
            want_functions[ident] = (r["status"], r["configs"])
        else:
            want_configs[(*ident, r["qualifier"])] = orjson.dumps(r["config"], option=orjson.OPT_SORT_KEYS)
    seen: Counter[tuple[str, ...]] = Counter()
    got_configs: dict[tuple[str, ...], bytes] = {}
    statuses: dict[tuple[str, ...], tuple[str, int]] = {}
    end: dict[str, Any] = {}
    for line in out.read_bytes().splitlines():
        r = orjson.loads(line)
        if r["type"] == "run":
            end = r if r["phase"] == "end" else end
            continue
        ident = (r["account"], r["region"], r["service"], r["function"])
        if r["type"] == "config":
            key = (*ident, r["qualifier"])
            if key in got_configs:
                problems.append(f"config written twice: {key}")
            got_configs[key] = orjson.dumps(r["config"], option=orjson.OPT_SORT_KEYS)
        else:
            seen[ident] += 1
            statuses[ident] = (r["status"], r["configs"])
    problems += [f"function written {n} times: {k}" for k, n in seen.items() if n > 1]
    if set(statuses) != set(want_functions):
        problems.append(f"{len(set(want_functions) ^ set(statuses))} functions differ from the truth's set")
    exact = {k for k, (status, _) in statuses.items() if status in ("ok", "none")}
    for k in exact:
        if statuses[k] != want_functions.get(k):
            problems.append(f"{k}: {statuses[k]} != truth {want_functions.get(k)}")
    wrong = [c for c in want_configs if c[:4] in exact and got_configs.get(c) != want_configs[c]]
    problems += [f"config differs or is missing: {c}" for c in wrong[:10]]
    gone = sum(1 for status, _ in statuses.values() if status == "gone")
    if gone != deleted:
        problems.append(f"{gone} functions gone, the emulator deleted {deleted}")
    return end, problems


@dataclass(frozen=True, slots=True)
class Served:
    """What the emulator counted during the crawl (its ``/_emulator/stats``, after less before)."""

    requests: int
    throttled: int
    faults: int
    deleted: int


def served_during(before: dict[str, Any], after: dict[str, Any]) -> Served:
    faults = sum(int(n) for n in after["faults"].values()) - sum(int(n) for n in before["faults"].values())
    return Served(
        requests=int(after["requests"]) - int(before["requests"]),
        throttled=int(after["throttled"]) - int(before["throttled"]),
        faults=faults,
        deleted=int(after["deleted"]["functions"]) - int(before["deleted"]["functions"]),
    )


def quarters(samples: Samples) -> list[int]:
    """Resident memory at the end of each quarter of the crawl (the samples before its end record)."""
    ended = samples.crawl_ended
    rss = [r for t, r in samples.rss if ended is None or t < ended]
    if not rss:
        return []
    return [rss[min(len(rss) - 1, (len(rss) * q) // 4)] for q in (1, 2, 3, 4)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=0, help="default: functions / 100")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quota", type=float, default=2000.0, help="emulator quota, requests/s")
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--fault", action="append", help=f"KIND=RATE (default: {' '.join(DEFAULT_FAULTS)})")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)
    account = Account(functions=args.functions, services=args.services or max(1, args.functions // 100))
    faults = tuple(args.fault or DEFAULT_FAULTS)
    with tempfile.TemporaryDirectory() as tmp:
        truth, out = Path(tmp) / "truth.ndjson", Path(tmp) / "out.ndjson"
        knobs = ServerKnobs(latency_ms=args.latency_ms, quota_rps=args.quota)
        with FaultyEmulator(account, knobs, faults, truth) as emulator:
            before = emulator.stats()
            crawl = run_crawl(emulator, out, args.concurrency, args.timeout)
            served = served_during(before, emulator.stats())
        end, problems = check(out, truth, served.deleted)
    rss = quarters(crawl.samples)
    limit = memory_limit(rss[0], args.functions) if rss else 0.0
    flat = len(rss) == 4 and 0 < rss[3] <= limit
    capped = crawl.samples.max_connections <= args.concurrency
    mib = 1024 * 1024
    print(f"## Soak: {args.functions:,} functions, faults {' '.join(faults)}, quota {args.quota:g}/s\n")
    print("| figure | value |\n|---|---|")
    rows = [
        ("exit code", crawl.exit_code),
        ("wall", f"{crawl.wall:.1f} s"),
        ("functions", end.get("functions")),
        ("configs", f"{end.get('configs', 0):,}"),
        ("requests (emulator)", f"{served.requests:,} ({served.requests / crawl.wall:,.0f}/s)"),
        ("throttled (emulator)", f"{served.throttled:,}"),
        ("faults injected (emulator)", f"{served.faults:,}"),
        (
            "requests / throttled / retries (the crawl's own count)",
            f"{end.get('requests', 0):,} / {end.get('throttled', 0):,} / {end.get('retries', 0):,}",
        ),
        ("peak RSS", f"{crawl.peak_rss / mib:.0f} MiB"),
        ("RSS by quarter of the crawl", " / ".join(f"{r / mib:.0f}" for r in rss) + " MiB"),
        ("most connections", f"{crawl.samples.max_connections} (concurrency {args.concurrency})"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    print()
    print(f"- output matches the truth: {'yes' if not problems else 'NO'}")
    for problem in problems[:20]:
        print(f"  - {problem}")
    print(
        f"- memory flat (last quarter ≤ {RSS_SLACK:.2f} × first + {AUDIT_BYTES_PER_FUNCTION} B × 3/4 of the "
        f"functions = {limit / mib:.0f} MiB): {'yes' if flat else 'NO'}"
    )
    print(f"- connections never above --concurrency: {'yes' if capped else 'NO'}")
    return 0 if not problems and flat and capped and crawl.exit_code in (0, 3) else 1


if __name__ == "__main__":
    raise SystemExit(main())
