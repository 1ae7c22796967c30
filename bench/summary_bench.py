"""Benchmark ``fcaudit summarize``: records per second and peak memory over a seeded NDJSON file.

Not a test: run by hand and quote the figures. It writes a seeded file of ``--records`` records shaped
like a real crawl (a ``run`` start, batches of configs each followed by its ``function`` record, a
``run`` end), then runs ``python -m crawler summarize FILE --format json`` in a child process ``--repeat``
times and reports the best records/s (by wall time and by CPU time) and the child's peak RSS
(``ru_maxrss``). Run it at two sizes to see that memory stays flat (the fold keeps per-service rows and
bounded tables, nothing per function)::

    python -m bench.summary_bench --records 1000000
    python -m bench.summary_bench --records 100000
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing")


def _destination_pool(rng: random.Random, account: str, size: int) -> list[str]:
    pool = []
    for i in range(size):
        region = rng.choice(REGIONS)
        uid = account if rng.random() < 0.9 else "1999999999999999"
        kind = rng.random()
        if kind < 0.4:
            pool.append(f"acs:mns:{region}:{uid}:/queues/q-{i}/messages")
        elif kind < 0.6:
            pool.append(f"acs:mns:{region}:{uid}:/topics/t-{i}/messages")
        elif kind < 0.8:
            pool.append(f"acs:fc:{region}:{uid}:services/svc-{i % 50}.LATEST/functions/fn-{i}")
        elif kind < 0.9:
            pool.append(f"acs:eventbridge:{region}:{uid}:eventbus/bus-{i}")
        elif kind < 0.97:
            pool.append(f"acs:mq:{region}:{uid}:/instances/mq-{i}/topic/topic-{i}")
        else:
            pool.append(f"arn:bogus:{i}")
    return pool


def _config(
    rng: random.Random, service: str, function: str, qualifier: str, pool: list[str]
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "service": service,
        "function": function,
        "qualifier": qualifier,
        "createdTime": "2024-05-01T10:00:00Z",
        "lastModifiedTime": "2024-06-01T10:00:00Z",
    }
    if rng.random() < 0.9:
        config["maxAsyncRetryAttempts"] = rng.randint(0, 8)
    if rng.random() < 0.9:
        config["maxAsyncEventAgeInSeconds"] = rng.choice((30, 300, 3600, 7200, 86400, 259200, 2592000))
    if rng.random() < 0.5:
        config["statefulInvocation"] = rng.random() < 0.3
    destinations = {}
    if rng.random() < 0.6:
        destinations["onFailure"] = {"destination": rng.choice(pool)}
    if rng.random() < 0.4:
        destinations["onSuccess"] = {"destination": rng.choice(pool)}
    if destinations:
        config["destinationConfig"] = destinations
    return config


def write_file(path: Path, records: int, seed: int) -> int:
    """Write about ``records`` lines; returns the exact number written."""
    rng = random.Random(seed)
    account = "1234567890123456"
    pool = _destination_pool(rng, account, 2000)
    dumps = orjson.dumps
    nl = orjson.OPT_APPEND_NEWLINE
    written = 0
    with path.open("wb") as out:
        out.write(dumps({"type": "run", "phase": "start", "version": "bench", "targets": []}, option=nl))
        written += 1
        fn_index = 0
        while written < records - 1:
            region = REGIONS[fn_index % len(REGIONS)]
            service = f"svc-{rng.randrange(2000)}"
            function = f"fn-{fn_index}"
            fn_index += 1
            base = {"type": "config", "account": account, "region": region, "service": service}
            roll = rng.random()
            status = "ok" if roll < 0.85 else "none" if roll < 0.95 else "gone" if roll < 0.98 else "error"
            n = rng.choice((1, 1, 2, 3, 5)) if status == "ok" else 0
            lines = []
            for q in range(n):
                qualifier = "LATEST" if q == 0 else (str(q) if q % 2 else f"alias-{q}")
                cfg = _config(rng, service, function, qualifier, pool)
                lines.append(
                    dumps({**base, "function": function, "qualifier": qualifier, "config": cfg}, option=nl)
                )
            error = {
                "code": "Timeout",
                "http": None,
                "message": "read timeout",
                "requestId": None,
                "attempts": 6,
            }
            fn = {
                **base,
                "type": "function",
                "function": function,
                "status": status,
                "configs": n,
                "pages": 1,
                "error": error if status == "error" else None,
            }
            lines.append(dumps(fn, option=nl))
            out.write(b"".join(lines))
            written += len(lines)
        out.write(dumps({"type": "run", "phase": "end", "complete": True}, option=nl))
        written += 1
    return written


def measure(path: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (bytes) of one ``fcaudit summarize`` child process.

    CPU time is reported beside wall time because this machine is shared: wall time includes waiting
    for a core, CPU time does not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "crawler", "summarize", str(path), "--format", "json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, after.ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the file here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.ndjson"
        started = time.perf_counter()
        count = write_file(path, args.records, args.seed)
        size = os.path.getsize(path)
        print(f"wrote {count:,} records ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        best = best_cpu = float("inf")
        peak = 0
        for _ in range(args.repeat):
            elapsed, cpu, rss = measure(path)
            best, best_cpu, peak = min(best, elapsed), min(best_cpu, cpu), max(peak, rss)
            print(f"  run: {elapsed:.2f} s wall ({count / elapsed:,.0f} records/s), {cpu:.2f} s CPU")
        print(
            f"best: {count / best:,.0f} records/s wall, {count / best_cpu:,.0f} records/s CPU; "
            f"peak RSS {peak / 2**20:.1f} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
