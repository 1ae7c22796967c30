"""How many requests per second the emulator itself can answer — so we know who limits a fast crawl.

On a 2-core machine a crawl at no latency is a race between two processes: the client and the emulator.
Before crediting or blaming the client, measure the server alone: a lean load generator (raw keep-alive
HTTP/1.1 over asyncio streams, requests signed up front, no parsing beyond ``Content-Length``) drives the
route the crawl spends most of its requests on, ListFunctionAsyncInvokeConfigs, over up to 2,000
different functions, for a few seconds over several connections. It reports what the
emulator answered per second and its CPU time per request (from ``psutil``): 1 / that is what it could
do with a whole core to itself. Only ``200`` answers count as served: a refusal (a bad signature, an
expired Date, a throttle) is cheap to send, so counting it would flatter the emulator; the refusals are
counted apart (``refused``).

The *floor* of a latency-bound scenario (``measure_floor``) is fcaudit's HTTP stack without fcaudit: the
same requests, signed up front, sent by aiohttp on the same event loop with the same number in flight, the
answers read and parsed and nothing else done with them — the bound's own model (requests × latency ÷
concurrency) run by a client that adds only what aiohttp and the loop cost. What it takes above the bound
is the server's, the machine's and aiohttp's (timer slack, the emulator's own work, loopback), not
fcaudit's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson

from bench._harness import EmulatorProcess
from crawler.wire.signing import FC2_API_VERSION, fc2_signature, http_date


@dataclass(frozen=True, slots=True)
class Capacity:
    requests_per_second: float  # successful (200) answers per second
    server_cpu_per_request: float  # seconds per successful answer
    server_busy: float  # share of one core the emulator used while measured
    refused: int = 0  # answers other than 200 while measured (not counted above)

    @property
    def per_core(self) -> float:
        """Requests/s the emulator would answer with one core to itself."""
        return 1.0 / self.server_cpu_per_request if self.server_cpu_per_request > 0 else 0.0


class Signer:
    """Signed headers per (path, Date second), cached so the load generator spends its CPU on sending."""

    def __init__(self, key_id: str, secret: str) -> None:
        self.key_id, self.secret = key_id, secret
        self._cache: dict[tuple[str, str], dict[str, str]] = {}

    @classmethod
    def of(cls, emulator: EmulatorProcess) -> Signer:
        """Signing with the keys ``emulator`` printed."""
        return cls(
            emulator.env["ALIBABA_CLOUD_ACCESS_KEY_ID"], emulator.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
        )

    def headers(self, path: str) -> dict[str, str]:
        date = http_date(time.time())
        key = (path, date)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 100_000:
                self._cache.clear()
            found = {"Date": date, "Content-Type": "application/json"}
            found["Authorization"] = f"FC {self.key_id}:{fc2_signature(self.secret, 'GET', path, found)}"
            self._cache[key] = found
        return found


def _get(emulator: EmulatorProcess, path: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{emulator.endpoint}{quote(path)}?{query}", headers=Signer.of(emulator).headers(path)
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def _some_functions(emulator: EmulatorProcess, most: int) -> list[tuple[str, str]]:
    base = f"/{FC2_API_VERSION}/services"
    pairs: list[tuple[str, str]] = []
    for service in _get(emulator, base, "limit=100")["services"]:
        name = service["serviceName"]
        listed = _get(emulator, f"{base}/{name}/functions", "limit=100")["functions"]
        pairs += [(name, f["functionName"]) for f in listed]
        if len(pairs) >= most:
            break
    return pairs[:most]


def answer_status(head: bytes) -> int:
    """The status code of a response head (``HTTP/1.1 200 OK``...); 0 when it has none."""
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    return int(parts[1]) if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else 0


async def _connection(
    host: str, port: int, requests: list[bytes], first: int, stop_at: float, counts: list[int]
) -> None:
    """Send ``requests`` in turn until ``stop_at``; ``counts``: [200 answers, any other answer]."""
    reader, writer = await asyncio.open_connection(host, port)
    turn = first
    try:
        while time.monotonic() < stop_at:
            writer.write(requests[turn % len(requests)])
            turn += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[0 if answer_status(head) == 200 else 1] += 1
    finally:
        writer.close()


async def drive_answers(
    host: str, port: int, requests: list[bytes], seconds: float, connections: int
) -> tuple[int, int]:
    """(200 answers, other answers) of ``connections`` connections sending for ``seconds``."""
    counts = [0, 0]
    stop_at = time.monotonic() + seconds
    step = max(1, len(requests) // connections)
    await asyncio.gather(
        *(_connection(host, port, requests, i * step, stop_at, counts) for i in range(connections))
    )
    return counts[0], counts[1]


def config_requests(host: str, port: int, signer: Signer, pairs: list[tuple[str, str]]) -> list[bytes]:
    """One signed ListFunctionAsyncInvokeConfigs request (raw HTTP/1.1 bytes) per (service, function)."""
    requests = []
    for service, function in pairs:
        path = f"/{FC2_API_VERSION}/services/{service}/functions/{function}/async-invoke-configs"
        lines = [f"GET {quote(path)}?limit=100 HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in signer.headers(path).items()]
        requests.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return requests


def measure_capacity(emulator: EmulatorProcess, *, seconds: float = 3.0, connections: int = 16) -> Capacity:
    """Drive the emulator flat out for ``seconds`` (after a short warm-up) and report its capacity."""
    split = urlsplit(emulator.endpoint)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    requests = config_requests(host, port, Signer.of(emulator), _some_functions(emulator, 2000))
    asyncio.run(drive_answers(host, port, requests, 0.5, connections))
    cpu_before = emulator.cpu_seconds()
    started = time.perf_counter()
    done, refused = asyncio.run(drive_answers(host, port, requests, seconds, connections))
    elapsed = time.perf_counter() - started
    server_cpu = emulator.cpu_seconds() - cpu_before
    return Capacity(
        requests_per_second=done / elapsed,
        server_cpu_per_request=server_cpu / done if done else 0.0,
        server_busy=server_cpu / elapsed,
        refused=refused,
    )


@dataclass(frozen=True, slots=True)
class Floor:
    """A latency-bound scenario's floor: ``requests`` sent ``concurrency`` at a time in ``wall`` seconds."""

    requests: int
    concurrency: int
    wall: float
    refused: int = 0
    cpu: float = 0.0  # the client's CPU seconds for them (this process: the probe runs in it)

    @property
    def cpu_per_request(self) -> float:
        return self.cpu / self.requests if self.requests else 0.0

    def over(self, latency_ms: float) -> float:
        """``wall`` ÷ the bound (requests × latency ÷ concurrency)."""
        return self.wall / (self.requests * latency_ms / 1000 / self.concurrency)


async def drive_count(endpoint: str, signer: Signer, paths: list[str], total: int, concurrency: int) -> Floor:
    """``total`` GETs of ``paths`` (in turn) through one aiohttp session, ``concurrency`` workers each
    sending its next request when its answer is read and parsed; non-200 answers are ``refused``."""
    counts = [0, 0]
    left = [total]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(endpoint, connector=connector) as session:

        async def worker(first: int) -> None:
            turn = first
            while left[0] > 0:
                left[0] -= 1
                path = paths[turn % len(paths)]
                turn += 1
                async with session.get(f"{path}?limit=100", headers=signer.headers(path)) as answer:
                    orjson.loads(await answer.read())
                    counts[0 if answer.status == 200 else 1] += 1

        started, cpu = time.perf_counter(), time.process_time()
        step = max(1, len(paths) // concurrency)
        await asyncio.gather(*(worker(i * step) for i in range(concurrency)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    requests = counts[0] + counts[1]
    return Floor(requests=requests, concurrency=concurrency, wall=wall, refused=counts[1], cpu=cpu)


def measure_floor(emulator: EmulatorProcess, requests: int, concurrency: int, runs: int = 1) -> Floor:
    """``requests`` ListFunctionAsyncInvokeConfigs, ``concurrency`` at a time, by aiohttp alone (on uvloop
    when it is installed, as fcaudit runs): what fcaudit's wall time for those requests would be if its
    own work cost nothing. The median by wall time of ``runs`` runs, after one warm-up; the functions are
    listed once for all of them."""
    paths = [
        f"/{FC2_API_VERSION}/services/{service}/functions/{function}/async-invoke-configs"
        for service, function in _some_functions(emulator, 2000)
    ]
    signer = Signer.of(emulator)
    run: Callable[[Coroutine[Any, Any, Floor]], Floor] = asyncio.run
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        run = uvloop.run
    run(drive_count(emulator.endpoint, signer, paths, concurrency * 4, concurrency))  # a warm-up
    floors = [run(drive_count(emulator.endpoint, signer, paths, requests, concurrency)) for _ in range(runs)]
    return sorted(floors, key=lambda f: f.wall)[len(floors) // 2]
