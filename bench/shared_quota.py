"""One ``fcaudit crawl`` of an account whose regions draw on one quota, counted by the emulator (by hand).

The quota-shape grid shares a quota between separate crawls (processes that cannot coordinate); this
is one crawl whose endpoints share it: an account-wide quota over several regions, each region served
on its own port (the tests' estate harness, in this process's background thread). It prints the
account's arrivals and admitted requests second by second, then, from ``--judge-after`` seconds to the
last whole second, admitted requests ÷ the quota and the throttled share, the crawl's wall time, and
whether the crawl found its endpoints sharing the quota (the ``ratelimit.shared_quota`` event).

    python -m bench.shared_quota --quota 40 --regions 2 --functions 400
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench._harness import REPO, _clean_env
from crawler.emulator.faults import FaultConfig
from tests.support.estate_support import AccountEmulator, RegionSpec, targets_toml

REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen")
ACCOUNT = "1234567890123456"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quota", type=float, default=40.0, help="the account's requests/s")
    parser.add_argument("--burst", type=int, default=1, help="the bucket's burst (default 1)")
    parser.add_argument("--regions", type=int, default=2, choices=range(2, len(REGIONS) + 1))
    parser.add_argument("--functions", type=int, default=400, help="functions per region")
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="fcaudit's --rate (per endpoint)")
    parser.add_argument("--seed", type=int, default=1, help="the account's seed")
    parser.add_argument("--judge-after", type=float, default=5.0, help="seconds not judged")
    parser.add_argument(
        "--own", action="store_true", help="each region a quota of its own (none shared): the control"
    )
    parser.add_argument("--log", type=Path, help="write the crawl's JSON log here, each rate cut included")
    args = parser.parse_args(argv)
    shared = FaultConfig(
        seed=args.seed,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        quota_rps=args.quota,
        quota_burst=args.burst,
        retry_hint="retry-after",
    )
    regions = [
        RegionSpec(
            region,
            args.seed * 10 + n,
            services=max(1, args.functions // 50),
            functions=args.functions,
            faults=shared if args.own else None,
        )
        for n, region in enumerate(REGIONS[: args.regions])
    ]
    with AccountEmulator(ACCOUNT, args.seed, regions, shared_quota=None if args.own else shared) as account:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "estate.toml"
            config.write_text(targets_toml({"ACCT": account}) + "\n[crawl]\nconcurrency = 32\n")
            env = {**_clean_env(), **account.env("ACCT")}
            command = [sys.executable, "-m", "crawler", "crawl", "--config", str(config)]
            verbose = ["--verbose"] * (2 if args.log is not None else 1)  # with a log: each cut too
            command += ["--output", str(Path(tmp) / "out.ndjson"), "-q", "--log-format", "json", *verbose]
            if args.rate is not None:
                command += ["--rate", str(args.rate)]
            began = time.monotonic()
            done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, check=False)
            wall = time.monotonic() - began
            if args.log is not None:
                args.log.write_bytes(done.stderr)
        stats = [account.stats(r.region) for r in regions]
    arrivals, throttled = _summed(stats, "per_second"), _summed(stats, "throttled_per_second")
    admitted = [a - t for a, t in zip(arrivals, throttled, strict=True)]
    first = min(float(s["first_arrival_seconds"]) for s in stats if s["first_arrival_seconds"] is not None)
    begin = math.floor(first)
    events = [orjson.loads(line) for line in done.stderr.splitlines() if line.startswith(b"{")]
    united = [e for e in events if e.get("event") == "ratelimit.shared_quota"]
    quota = f"{args.quota:g}/s (burst {args.burst})"
    share = "each with" if args.own else "sharing"
    print(f"{args.regions} regions, {share} {quota}, {args.functions} functions each")
    print(f"exit {done.returncode}, wall {wall:.1f} s, requests {sum(arrivals)}, throttled {sum(throttled)}")
    print("arrivals per second:", arrivals[begin:])
    print("admitted per second:", admitted[begin:])
    lo, hi = math.ceil(first + args.judge_after), len(arrivals) - 1  # the last second is partial
    if hi - lo >= 1:
        came, took = max(1, sum(arrivals[lo:hi])), sum(admitted[lo:hi])
        print(
            f"from {args.judge_after:g} s ({hi - lo} s): admitted {took / (hi - lo) / args.quota:.2f} x the "
            f"quota, throttled {100 * (1 - took / came):.1f}%"
        )
    for event in united:
        print(f"paced as one: {event.get('endpoints')} at {event.get('rate')}/s")
    if not united:
        print("paced as one: never")
    if done.returncode != 0:
        print(done.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
    return 0 if done.returncode == 0 else 1


def _summed(stats: list[dict[str, Any]], key: str) -> list[int]:
    """Per-second counts of every region, added up (the regions' clocks start within milliseconds)."""
    series = [(int(s["per_second_offset"]), [int(n) for n in s[key]]) for s in stats]
    total = [0] * max(offset + len(counts) for offset, counts in series)
    for offset, counts in series:
        for i, n in enumerate(counts):
            total[offset + i] += n
    return total


if __name__ == "__main__":
    raise SystemExit(main())
