"""One ``fcaudit crawl`` against a quota that falls far mid-crawl, counted by the emulator (by hand).

The quota-shape grid (``crawl_bench --scenario grid``) has the halving the issue names; this is the fall
beyond it (another tool starts on the account, an operator lowers the quota). It prints each second's
arrivals and admitted requests, then, from ``--judge-after`` seconds after the fall to the last whole
second, arrivals and admitted requests ÷ the new quota and the throttled share, and what the crawl
wrote: every function listed, or how many ended as errors (and with which code).

    python -m bench.quota_fall --shape window --quota 100 --factor 0.2

With ``--back SECONDS`` the quota comes back (to ``--quota``) that long after the first request, and the
judged span is from ``--judge-after`` seconds after that: a drought, with ``--factor 1e-9`` (nothing
admitted; the run must end complete, every function listed).

    python -m bench.quota_fall --shape bucket --quota 100 --factor 1e-9 --at 3 --back 33 --seconds 50

With ``--window SECONDS`` a window counter's window is that long: ``--window 60`` is a quota of N calls
a minute (the form of Alibaba's published API quotas), spent in seconds and then refused to the
minute's end; with ``--factor 1 --at 0`` it never falls.

    python -m bench.quota_fall --shape window --quota 20 --window 60 --factor 1 --at 0 --seconds 150
"""

from __future__ import annotations

import argparse
import collections
import math
import tempfile
from pathlib import Path

import orjson

from bench._harness import EmulatorProcess
from bench._quota_grid import DEFAULT, Cell, start_clients, wait_each


def records(out: Path) -> collections.Counter[str]:
    """Functions written, by outcome: ``listed`` or the error's code."""
    kinds: collections.Counter[str] = collections.Counter()
    for path in out.rglob("*.ndjson"):
        for line in path.read_bytes().splitlines():
            record = orjson.loads(line)
            if record.get("type") == "function":
                error = record.get("error")
                kinds[error.get("code", "error") if isinstance(error, dict) else "listed"] += 1
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shape", choices=("bucket", "window"), default="window")
    parser.add_argument("--quota", type=float, default=100.0, help="requests/s before the fall")
    parser.add_argument("--burst", type=int, help="a bucket's burst (default: a tenth of a second of quota)")
    parser.add_argument("--factor", type=float, default=0.2, help="the quota after the fall, x --quota")
    parser.add_argument("--at", type=float, default=10.0, help="seconds after the first request")
    parser.add_argument("--seconds", type=float, default=30.0, help="the crawl's length at the quota")
    parser.add_argument("--back", type=float, help="seconds after the first request the quota comes back")
    parser.add_argument("--window", type=float, default=1.0, help="a window counter's window, seconds")
    parser.add_argument(
        "--judge-after", type=float, default=5.0, help="seconds after the fall (or the return) not judged"
    )
    args = parser.parse_args(argv)
    if not args.factor > 0:
        parser.error("--factor must be > 0 (1e-9 for a quota that admits nothing)")
    if not args.window > 0:
        parser.error("--window must be > 0 seconds")
    if args.back is not None and not args.back > args.at:
        parser.error("--back must come after --at")
    burst = int(args.quota) if args.shape == "window" else (args.burst or max(1, int(args.quota / 10)))
    changes: tuple[tuple[float, float], ...] = ((args.at, args.factor),)
    if args.back is not None:
        changes += ((args.back, 1.0),)
    cell = Cell(
        "fall", "fall", args.quota, burst, args.shape, changes, seconds=args.seconds, window=args.window
    )
    with EmulatorProcess(cell.account(), cell.knobs) as emulator, tempfile.TemporaryDirectory() as tmp:
        procs = start_clients(cell, emulator, DEFAULT, None, Path(tmp))
        wait_each([proc for proc, _started, _err in procs])
        stats, _origin = emulator.clocked_stats()
        written = records(Path(tmp))
    arrivals: list[int] = stats["per_second"]
    throttled: list[int] = stats["throttled_per_second"]
    first = float(stats["first_arrival_seconds"])
    admitted = [a - t for a, t in zip(arrivals, throttled, strict=True)]
    begin = math.floor(first)
    account = cell.account()
    back = "" if args.back is None else f", back at {args.back:g} s"
    window = "" if args.window == 1.0 else f" a {args.window:g} s window"
    print(
        f"{args.shape}{window} {args.quota:g}/s (burst {burst}) x {args.factor:g} at {args.at:g} s{back}, "
        f"{account}"
    )
    up = stats["uptime_seconds"]
    print(f"requests {stats['requests']}, throttled {stats['throttled']}, emulator up {up:.1f} s")
    print("arrivals per second:", arrivals[begin:])
    print("admitted per second:", admitted[begin:])
    quota, since, event = args.quota * args.factor, args.at, "the fall"
    if args.back is not None:
        quota, since, event = args.quota, args.back, "the return"
    lo, hi = math.ceil(first + since + args.judge_after), len(arrivals) - 1  # the last second is partial
    if hi - lo >= 1:
        came, took = max(1, sum(arrivals[lo:hi])) / (hi - lo), sum(admitted[lo:hi]) / (hi - lo)
        print(
            f"from {args.judge_after:g} s after {event} ({hi - lo} s): arrivals {came / quota:.2f} x the "
            f"quota, admitted {took / quota:.2f} x, throttled {100 * (1 - took / came):.1f}%"
        )
    print("functions:", dict(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
