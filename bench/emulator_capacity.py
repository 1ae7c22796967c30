"""How fast is the emulator? Requests/s it serves on one core, and how long a 100,000-function account takes.

The emulator is the crawler's load-test target, so it must out-run the crawler: if it saturated first,
a benchmark would measure the emulator. This script generates the account in-process (timing the
skeleton, full materialisation and the truth dump separately), then starts ``fcaudit emulator`` in a
subprocess pinned to CPU 0 and drives it from this process, pinned to CPU 1, with aiohttp and our
signer. It reports requests/s per route, the server's CPU use (near 100% means the server, not the load
generator, was the limit), requests per server CPU-second (what one busy core serves, a figure that
holds even when a shared machine starves the load generator), latency percentiles, and the server's own
busiest-second count. Only ``200`` answers count as served (``rps``, ``per_cpu_second``): a refusal is
cheap and would flatter the server; every status is listed in ``statuses``.

    python -m bench.emulator_capacity                    # 100,000 functions, 5 s per route
    python -m bench.emulator_capacity --seconds 10 --concurrency 128 --uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
import psutil

from bench._capacity import Signer
from bench._harness import Account, EmulatorProcess
from crawler.emulator import AccountSpec, Backend, generate_account
from crawler.emulator.fc2_routes import API

T = TypeVar("T")


def pin(pid: int, cpu: int) -> bool:
    """Pin ``pid`` to one CPU when the platform allows; False when it does not."""
    try:
        available = sorted(os.sched_getaffinity(0))
        if len(available) < 2:
            return False
        os.sched_setaffinity(pid, {available[cpu % len(available)]})
        return True
    except (AttributeError, OSError):
        return False


def time_generation(spec: AccountSpec) -> tuple[Backend, dict[str, float]]:
    """The generated account, and how long its skeleton, materialisation and truth dump took."""
    started = time.perf_counter()
    backend = generate_account(spec)
    skeleton = time.perf_counter() - started
    started = time.perf_counter()
    records = sum(1 for _ in backend.truth_records())  # materialises every function
    materialise = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        backend.dump_truth(Path(tmp) / "truth.ndjson")
        dump = time.perf_counter() - started
    return backend, {
        "skeleton_s": skeleton,
        "materialise_all_s": materialise,
        "dump_truth_s": dump,
        "records": records,
    }


def paths_for(backend: Backend, route: str, count: int, rng: random.Random) -> list[str]:
    services = backend.service_names()
    paths = []
    for _ in range(count):
        service = rng.choice(services)
        names = backend.function_names(service)
        if route == "services":
            paths.append(f"{API}/services?limit=100")
        elif route == "functions":
            paths.append(f"{API}/services/{service}/functions?limit=100")
        else:
            paths.append(
                f"{API}/services/{service}/functions/{rng.choice(names)}/async-invoke-configs?limit=100"
            )
    return paths


async def drive(
    endpoint: str, signer: Signer, paths: Sequence[str], seconds: float, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < deadline:
                full = paths[i % len(paths)]
                path = full.split("?", 1)[0]
                started = time.perf_counter()
                async with session.get(endpoint + full, headers=signer.headers(path)) as resp:
                    await resp.read()
                    statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
                latencies.append(time.perf_counter() - started)
                i += concurrency

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for n in range(concurrency):
                group.create_task(worker(n))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    ok = statuses.get("200", 0)
    return {
        "requests": len(latencies),  # every answer, whatever its status
        "ok": ok,
        "rps": ok / elapsed,  # successful answers only
        "statuses": statuses,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


class SkewedEmulator(EmulatorProcess):
    """The harness's emulator process on a skewed account, built whole before serving unless ``lazy``."""

    def __init__(self, account: Account, *, uvloop: bool, lazy: bool) -> None:
        super().__init__(account, uvloop=uvloop)
        self.lazy = lazy

    def command(self) -> list[str]:
        cmd = [*super().command(), "--distribution", "skewed"]
        if not self.lazy:
            cmd.append("--eager")  # steady state: every function built before the first request
        return cmd


def run(coro: Coroutine[Any, Any, T], use_uvloop: bool) -> T:
    """The load generator's loop: uvloop when installed, so the client is not the bottleneck."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            result: T = uvloop.run(coro)  # typed even where uvloop (and its stubs) is absent
            return result
    return asyncio.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--functions", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per route")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--routes", default="configs,functions,services")
    parser.add_argument("--uvloop", action="store_true", help="serve on uvloop")
    parser.add_argument("--lazy", action="store_true", help="do not build functions before serving")
    parser.add_argument(
        "--client-asyncio", action="store_true", help="drive the load on asyncio (default: uvloop, leaner)"
    )
    args = parser.parse_args(argv)

    spec = AccountSpec(
        seed=args.seed, services=args.services, functions=args.functions, distribution="skewed"
    )
    backend, gen = time_generation(spec)
    print(
        f"generate {args.functions:,} functions: skeleton {gen['skeleton_s']:.2f} s; every function "
        f"materialised {gen['materialise_all_s']:.2f} s ({gen['records']:,} truth records); "
        f"dump_truth {gen['dump_truth_s']:.2f} s"
    )

    account = Account(functions=args.functions, services=args.services, seed=args.seed)
    with SkewedEmulator(account, uvloop=args.uvloop, lazy=args.lazy) as emulator:
        results = measure(args, backend, emulator, gen)
    print(orjson.dumps(results).decode())
    return 0


def measure(
    args: argparse.Namespace, backend: Backend, emulator: EmulatorProcess, gen: dict[str, float]
) -> dict[str, Any]:
    """Drive each route of ``emulator`` (serving ``backend``'s account) and print its figures."""
    pinned = pin(emulator.pid, 0) and pin(0, 1)
    server = psutil.Process(emulator.pid)
    signer = Signer.of(emulator)
    rng = random.Random(args.seed)
    results: dict[str, Any] = {
        "generation": gen,
        "pinned": pinned,
        "uvloop": args.uvloop,
        "lazy": args.lazy,
        "client_uvloop": not args.client_asyncio,
        "routes": {},
    }
    for route in args.routes.split(","):
        paths = paths_for(backend, route, 20_000, rng)
        run(
            drive(emulator.endpoint, signer, paths, 1.0, args.concurrency), not args.client_asyncio
        )  # warm-up
        server.cpu_percent(None)
        before = server.cpu_times()
        figures = run(
            drive(emulator.endpoint, signer, paths, args.seconds, args.concurrency),
            not args.client_asyncio,
        )
        after = server.cpu_times()
        figures["server_cpu_percent"] = server.cpu_percent(None)
        cpu_seconds = (after.user - before.user) + (after.system - before.system)
        # what one fully busy core would serve: robust even when the load generator is the limit
        figures["per_cpu_second"] = figures["ok"] / cpu_seconds if cpu_seconds > 0 else 0.0
        results["routes"][route] = figures
        print(
            f"{route:>9}: {figures['rps']:8,.0f} ok req/s  ({figures['per_cpu_second']:,.0f} per server "
            f"CPU-second)  p50 {figures['p50_ms']:.1f} ms  p99 {figures['p99_ms']:.1f} ms  "
            f"server CPU {figures['server_cpu_percent']:.0f}%  statuses {figures['statuses']}"
        )
    busiest = emulator.stats()["max_requests_in_1s"]
    results["server_max_requests_in_1s"] = busiest
    print(
        f"server's busiest 1 s window: {busiest:,} requests "
        f"({'pinned: server CPU 0, load CPU 1' if pinned else 'not pinned'})"
    )
    return results


if __name__ == "__main__":
    raise SystemExit(main())
