"""A seeded sweep of random quota shapes through the rate simulation: which ones overrun or collapse.

The regression cells (``tests/wire/test_ratelimit_simulation.py``) are chosen by hand; this draws cases at
random (by hand, never in CI): a quota of 5-2,000 requests/s, a token bucket with a burst of 1, a tenth
of a second or a second of quota, or a fixed one-second window; 2-100 ms of latency; half of them with a
quota that changes mid-crawl by x0.1-x3; two in five with a ``--rate`` of 0.3-10 x the quota; one to
three endpoints sharing it. Each case is judged over its last 10 s of 40:

- OVER: arrivals above 1.2 x the quota then, or more than 10% of them throttled;
- LOW: under 0.8 x what is reachable (the quota, or ``--rate`` if lower); for a one-request bucket, under
  half the best fixed pace a single client holds there (at high quotas the quota itself is out of reach).

    python -m bench.rate_sweep --seed 1 --cases 60         # a line per case, then the count flagged
    python -m bench.rate_sweep --seed 1 --cases 60 --only 34 --only 47   # those cases, second by second
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import dataclass

from crawler.emulator.faults import QuotaShape
from tests.support.rate_simulation import Shape, best_fixed_pace, enough_workers, simulate

DURATION = 40.0
JUDGED = 10  # the last whole seconds judged


@dataclass(frozen=True, slots=True)
class Case:
    index: int
    shape: Shape
    ceiling: float | None
    clients: int
    seed: int

    def describe(self) -> str:
        s = self.shape
        change = "".join(f", x{f:.2f} at {at:.1f} s" for at, f in s.changes)
        ceiling = "" if self.ceiling is None else f", --rate {self.ceiling / s.quota:.2f} x quota"
        return (
            f"{s.kind} {s.quota:.1f}/s burst {s.burst}, {s.latency * 1000:g} ms{change}{ceiling}, "
            f"{self.clients} endpoint(s), seed {self.seed}"
        )


def draw(rng: random.Random, index: int) -> Case:
    quota = math.exp(rng.uniform(math.log(5), math.log(2000)))
    kind: QuotaShape = rng.choice(["bucket", "bucket", "window"])
    tenth = max(1, int(quota / 10))
    burst = max(1, int(quota)) if kind == "window" else rng.choice([1, tenth, max(1, int(quota))])
    latency = rng.choice([0.002, 0.01, 0.02, 0.05, 0.1])
    changes: tuple[tuple[float, float], ...] = ()
    if rng.random() < 0.5:
        changes = ((rng.uniform(6, 14), math.exp(rng.uniform(math.log(0.1), math.log(3)))),)
    ceiling = None if rng.random() < 0.6 else quota * math.exp(rng.uniform(math.log(0.3), math.log(10)))
    clients = rng.choice([1, 1, 1, 2, 3])
    shape = Shape(quota, burst, kind, changes, latency=latency, jitter=latency / 2)
    return Case(index, shape, ceiling, clients, rng.randrange(1000))


def judge(case: Case, arrivals: tuple[int, ...], accepted: tuple[int, ...]) -> tuple[str, str]:
    """(flag, figures) over the last JUDGED whole seconds."""
    shape = case.shape
    quota = shape.quota_at(DURATION)
    lo, hi = int(DURATION) - JUDGED, int(DURATION)
    came, took = sum(arrivals[lo:hi]) / JUDGED, sum(accepted[lo:hi]) / JUDGED
    reachable = quota if case.ceiling is None else min(quota, case.ceiling)
    throttled = 1.0 - took / came if came else 0.0
    figures = (
        f"accepted {took / reachable:.2f} x reachable, arrivals {came / quota:.2f} x quota, "
        f"throttled {throttled:.1%}"
    )
    if came > 1.2 * quota + (shape.burst / JUDGED if shape.kind == "bucket" else 0.0) or throttled > 0.10:
        return "OVER", figures
    if took < 0.8 * reachable:
        if shape.burst > 1 or shape.kind == "window":
            return "LOW", figures
        best = best_fixed_pace(Shape(quota, 1, latency=shape.latency, jitter=shape.jitter))
        if took < 0.5 * min(best, reachable):
            return "LOW", figures + f" (best fixed pace {best / quota:.2f} x quota)"
    return "", figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="draws the cases (default 1)")
    parser.add_argument("--cases", type=int, default=60, help="how many (default 60)")
    parser.add_argument("--only", type=int, action="append", help="run only this case (repeatable)")
    args = parser.parse_args(argv)
    if args.cases < 1:
        parser.error("--cases must be >= 1")
    rng = random.Random(args.seed)
    cases = [draw(rng, i) for i in range(args.cases)]
    flagged = 0
    for case in cases:
        if args.only and case.index not in args.only:
            continue
        result = simulate(
            case.shape,
            ceiling=case.ceiling,
            clients=case.clients,
            duration=DURATION,
            workers=enough_workers(case.shape, case.clients),
            seed=case.seed,
        )
        flag, figures = judge(case, result.arrivals, result.accepted)
        flagged += bool(flag)
        print(f"{case.index:3d} {flag or 'ok':4s} {case.describe()}: {figures}", flush=True)
        if args.only:
            print("     admitted per second:", list(result.accepted[: int(DURATION)]))
            print("     arrivals per second:", list(result.arrivals[: int(DURATION)]))
    print(f"flagged {flagged} of {len(args.only) if args.only else args.cases}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
