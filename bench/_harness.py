"""Shared machinery of the crawl benchmark: the emulator in its own process, and measured client runs.

The numbers only mean something if the server and the client do not share a process (or a GIL), so the
emulator runs as ``python -m crawler emulator`` in a child process, and every client — ``fcaudit crawl``
and the official-SDK baselines alike — runs as another child. A client's CPU time and peak RSS come from
``os.wait4`` on that child (exact, kernel-accounted, nothing sampled); the requests and throttled answers it
caused come from the emulator's ``/_emulator/stats`` before and after; the emulator's own CPU time over the
run (``psutil``) says whether the server or the client was the bottleneck.

Clients run from the repository's source tree (``cwd=REPO``), so its bytecode is compiled first, as
``pip install`` compiles an installed package: an environment with ``PYTHONDONTWRITEBYTECODE`` set would
otherwise have every run compile every module again, a start-up cost no installed fcaudit pays.
"""

from __future__ import annotations

import compileall
import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
PEAK = Path(__file__).resolve().with_name("_peak.py")


@dataclass(frozen=True, slots=True)
class Account:
    """The seeded account the emulator serves (``fcaudit emulator`` flags)."""

    functions: int
    services: int
    seed: int = 11


@dataclass(frozen=True, slots=True)
class ServerKnobs:
    latency_ms: float = 0.0
    quota_rps: float | None = None
    burst: int | None = None  # the emulator's default: the quota rounded up
    quota_shape: str = "bucket"
    quota_window: float = 1.0
    quota_changes: tuple[tuple[float, float], ...] = ()
    jitter_ms: float = 0.0
    arrival_jitter_ms: float = 0.0
    retry_hint: str = "none"


@functools.cache
def compile_bytecode() -> None:
    """Compile the package's bytecode once per bench run (written to ``__pycache__``, which git ignores)."""
    compileall.compile_dir(REPO / "crawler", quiet=1)


class EmulatorProcess:
    """``python -m crawler emulator`` on a free loopback port, as a context manager.

    After ``__enter__``: ``endpoint``, ``account_id``, ``region``, ``env`` (the ``ALIBABA_CLOUD_*``
    variables a client needs), ``stats()`` and ``cpu_seconds()``.
    """

    def __init__(self, account: Account, knobs: ServerKnobs = ServerKnobs(), *, uvloop: bool = False) -> None:
        self.account = account
        self.knobs = knobs
        self.uvloop = uvloop
        self.endpoint = ""
        self.account_id = ""
        self.region = ""
        self.env: dict[str, str] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in __exit__

    def command(self) -> list[str]:
        a, k = self.account, self.knobs
        cmd = [sys.executable, "-m", "crawler", "emulator", "--port", "0", "--log-format", "json"]
        cmd += ["--seed", str(a.seed), "--services", str(a.services), "--functions", str(a.functions)]
        if k.latency_ms:
            cmd += ["--latency-ms", str(k.latency_ms)]
        if k.quota_rps is not None:
            cmd += ["--quota", str(k.quota_rps), "--quota-shape", k.quota_shape]
            if k.quota_window != 1.0:
                cmd += ["--quota-window", str(k.quota_window)]
            if k.burst is not None:
                cmd += ["--burst", str(k.burst)]
            for at, factor in k.quota_changes:
                cmd += ["--quota-change", f"{at}={factor}"]
        if k.jitter_ms:
            cmd += ["--jitter-ms", str(k.jitter_ms)]
        if k.arrival_jitter_ms:
            cmd += ["--arrival-jitter-ms", str(k.arrival_jitter_ms)]
        if k.retry_hint != "none":
            cmd += ["--retry-hint", k.retry_hint]
        if self.uvloop:
            cmd.append("--uvloop")
        return cmd

    def __enter__(self) -> EmulatorProcess:
        proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=REPO, env=_clean_env()
        )
        self._proc = proc
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            if line.startswith("# fcaudit emulator serving "):
                self.endpoint = line.split()[4]
            elif line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
            elif line.startswith("# then:"):
                break
            if time.monotonic() > deadline:
                break
        if not self.endpoint or "ALIBABA_CLOUD_ACCOUNT_ID" not in exports:
            self.__exit__(None, None, None)
            self._log.seek(0)
            raise RuntimeError(f"the emulator did not start: {self._log.read()[-2000:]}")
        self.env = exports
        self.account_id = exports["ALIBABA_CLOUD_ACCOUNT_ID"]
        self.region = exports["ALIBABA_CLOUD_REGION_ID"]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        self._log.close()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/_emulator/stats", timeout=30) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def clocked_stats(self) -> tuple[dict[str, Any], float]:
        """``stats()`` and where the emulator's clock (its ``uptime_seconds``, the origin of its per-second
        series) starts on this process's ``time.monotonic()``: the middle of the request, less the uptime."""
        asked = time.monotonic()
        data = self.stats()
        answered = time.monotonic()
        return data, (asked + answered) / 2 - float(data["uptime_seconds"])

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)


def crawl_command(emulator: EmulatorProcess, output: Path | str, *args: str) -> list[str]:
    """``fcaudit crawl`` of ``emulator``'s account (this interpreter, ``-m crawler``) into ``output``, then
    ``args``."""
    return [
        sys.executable, "-m", "crawler", "crawl", "--endpoint", emulator.endpoint,
        "--account", emulator.account_id, "--region", emulator.region, "--output", str(output), *args,
    ]  # fmt: skip


def _clean_env() -> dict[str, str]:
    """The bench's environment without credentials or fcaudit settings a user may have exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "FCAUDIT_"))}


@dataclass(frozen=True, slots=True)
class RunResult:
    """One measured client run (or the median of several: see ``median``)."""

    client: str
    wall: float
    requests: int
    throttled: int
    cpu: float  # client user + system seconds
    peak_rss: int  # bytes
    server_cpu: float  # emulator CPU seconds during the run
    functions: int
    configs: int
    #: the run covered only part of the account; figures of time are scaled by this to the whole
    scale: float = 1.0
    walls: tuple[float, ...] = field(default=())

    @property
    def full_wall(self) -> float:
        return self.wall * self.scale

    @property
    def full_requests(self) -> int:
        return round(self.requests * self.scale)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_per_1k(self) -> float:
        return 1000.0 * self.cpu / self.requests if self.requests else 0.0

    @property
    def server_busy(self) -> float:
        return self.server_cpu / self.wall if self.wall > 0 else 0.0

    @property
    def noise(self) -> float:
        """Half the spread of the wall times, relative to their median."""
        if len(self.walls) < 2:
            return 0.0
        return (max(self.walls) - min(self.walls)) / 2 / statistics.median(self.walls)


def median(results: Sequence[RunResult]) -> RunResult:
    """Each figure the median of the runs (so one figure may come from another run than the next)."""
    if not results:
        raise ValueError("no runs")

    def med(values: Sequence[float]) -> float:
        return float(statistics.median(values))

    first = results[0]
    return replace(
        first,
        wall=med([r.wall for r in results]),
        requests=round(med([r.requests for r in results])),
        throttled=round(med([r.throttled for r in results])),
        cpu=med([r.cpu for r in results]),
        peak_rss=round(med([r.peak_rss for r in results])),
        server_cpu=med([r.server_cpu for r in results]),
        functions=round(med([r.functions for r in results])),
        configs=round(med([r.configs for r in results])),
        scale=med([r.scale for r in results]),
        walls=tuple(r.wall for r in results),
    )


@dataclass(frozen=True, slots=True)
class ChildUsage:
    exit_code: int
    wall: float
    cpu: float
    peak_rss: int


def run_child(
    cmd: Sequence[str], *, env: dict[str, str], stdout: Any, stderr: Any, timeout: float
) -> ChildUsage:
    """Run ``cmd``; its wall time, its exact CPU time from ``wait4``, and its peak RSS.

    A Python ``cmd`` runs under ``_peak.py``, which records the child's own high-water mark at exit:
    ``ru_maxrss`` would include the pages of this (larger) process the child was forked from.
    """
    with tempfile.TemporaryDirectory(prefix="fcaudit-bench-peak-") as tmp:
        peak_file = Path(tmp) / "peak"
        argv = list(cmd)
        if argv and argv[0] == sys.executable:
            argv = [sys.executable, str(PEAK), str(peak_file), *argv[1:]]
        compile_bytecode()
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr, cwd=REPO)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped by wait4: tell Popen so it does not wait again
        try:
            peak = int(peak_file.read_text())
        except (OSError, ValueError):
            peak = usage.ru_maxrss * 1024  # kilobytes on Linux; an upper bound (see above)
    return ChildUsage(exit_code=code, wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_rss=peak)


def measured(
    emulator: EmulatorProcess,
    client: str,
    cmd: Sequence[str],
    *,
    extra_env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> tuple[RunResult, str, str]:
    """Run one client against ``emulator``: its ``RunResult`` (counts zero) and its stdout and stderr."""
    env = {**_clean_env(), **emulator.env, **(extra_env or {})}
    before = emulator.stats()
    server_before = emulator.cpu_seconds()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        usage = run_child(cmd, env=env, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    server_cpu = emulator.cpu_seconds() - server_before
    after = emulator.stats()
    if usage.exit_code != 0:
        # the last line only: the SDK logs request headers (the signature) on its way out
        last = stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"{client} exited with {usage.exit_code}: {last[0][:500]}")
    result = RunResult(
        client=client,
        wall=usage.wall,
        requests=int(after["requests"]) - int(before["requests"]),
        throttled=int(after["throttled"]) - int(before["throttled"]),
        cpu=usage.cpu,
        peak_rss=usage.peak_rss,
        server_cpu=server_cpu,
        functions=0,
        configs=0,
    )
    return result, stdout, stderr


def measured_crawl(
    emulator: EmulatorProcess, client: str, args: Sequence[str], *, extra_env: dict[str, str] | None = None
) -> RunResult:
    """``fcaudit crawl`` (the real command) of ``emulator``'s account with ``args``: its ``RunResult`` with
    the functions and configs its end record counts. A crawl that did not finish completely is an error."""
    with tempfile.TemporaryDirectory(prefix="fcaudit-bench-") as tmp:
        output = Path(tmp) / "out.ndjson"
        cmd = crawl_command(emulator, output, *args)
        result, _out, _err = measured(emulator, client, cmd, extra_env=extra_env)
        end = json.loads(output.read_bytes().rstrip().rsplit(b"\n", 1)[-1])
    if end.get("type") != "run" or end.get("phase") != "end" or end.get("complete") is not True:
        raise RuntimeError(f"{client} did not finish completely: {end}")
    functions = sum(int(n) for n in end["functions"].values())
    return replace(result, functions=functions, configs=int(end["configs"]))
