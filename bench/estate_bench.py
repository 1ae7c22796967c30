"""FC 2.0 against FC 3.0 on the same account: requests and wall time of ``fcaudit crawl --api fc2|fc3``.

FC 2.0 needs one ListFunctionAsyncInvokeConfigs listing per function; FC 3.0 lists a region's configs in
one paged listing. This runs both on one seeded emulator account (``fcaudit emulator`` in its own
process, each crawl a child process, interleaved run by run) and prints one Markdown row per API — the
median of ``--runs`` runs — with the configs each crawl wrote, which must be equal::

    python -m bench.estate_bench --functions 2000 --latency-ms 10 --runs 3

``--quick`` runs a 40-function account once.
"""

from __future__ import annotations

import argparse
import sys

from bench._harness import Account, EmulatorProcess, RunResult, ServerKnobs, measured_crawl, median

APIS = ("fc2", "fc3")


def crawl_once(emulator: EmulatorProcess, api: str, concurrency: int) -> RunResult:
    return measured_crawl(emulator, f"--api {api}", ["--api", api, "--concurrency", str(concurrency), "-qq"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="40 functions, one run")
    args = parser.parse_args(argv)
    if args.quick:
        args.functions, args.services, args.runs = 40, 4, 1
    account = Account(functions=args.functions, services=args.services)
    runs: dict[str, list[RunResult]] = {api: [] for api in APIS}
    with EmulatorProcess(account, ServerKnobs(latency_ms=args.latency_ms)) as emulator:
        for _ in range(args.runs):
            for api in APIS:
                runs[api].append(crawl_once(emulator, api, args.concurrency))
    results = {api: median(found) for api, found in runs.items()}
    print(
        f"\n{args.functions} functions in {args.services} services, {args.latency_ms:g} ms latency, "
        f"concurrency {args.concurrency}, median of {args.runs}\n"
    )
    print("| API | requests | wall s | requests/s | configs | functions |")
    print("|---|---:|---:|---:|---:|---:|")
    for api, r in results.items():
        rate = r.requests_per_second
        print(f"| {api} | {r.requests} | {r.wall:.2f} | {rate:.0f} | {r.configs} | {r.functions} |")
    fc2, fc3 = results["fc2"], results["fc3"]
    share, speed = fc3.requests / fc2.requests, fc3.wall / fc2.wall
    print(f"\nfc3/fc2: {share:.3f} of the requests, {speed:.2f} of the wall time")
    if (fc2.configs, fc2.functions) != (fc3.configs, fc3.functions):
        print("MISMATCH: the two crawls wrote different numbers of configs or functions", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
