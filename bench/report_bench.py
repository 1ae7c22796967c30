"""Benchmark the HTML report at scale: its size, the time to write it, and its load time in Chromium.

Not a test: run by hand and quote the figures (docs/report.md). It writes the emulator's ground truth
for a seeded account of ``--functions`` functions (the records a complete crawl of it would write), runs
``python -m crawler summarize FILE --report PAGE`` in a child process (wall time and peak RSS, with and
without ``--report``), then opens the page from disk in headless Chromium (Debian's ``chromium``, as the
browser test does) ``--repeat`` times and reports, for the best run: the time to the load event, the
time the worklist's script took to read every finding and show its first page, and the time to filter
the worklist to one rule. Then it checks that every finding is in the page (the worklist's count equals
the audit's)::

    python -m bench.report_bench --functions 100000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson

from tests.support.browser_support import Page, chromium, find_chromium, page_session

RULE = "max-age-too-short"


def _child(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``python -m crawler ARGV``, that child's own (``wait4``)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "crawler", *argv], stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped here: Popen must not wait for it again
    return time.perf_counter() - started, usage.ru_maxrss / 1024


async def _measure(port: int, url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        ws = await page_session(session, port)
        async with ws:
            page = Page(ws)
            started = time.perf_counter()
            await page.open(url)
            loaded = time.perf_counter() - started
            figures: dict[str, Any] = await page.evaluate(
                """({worklistMs: Number(document.documentElement.dataset.worklistMs),
                     loadEventMs: performance.getEntriesByType("navigation")[0].loadEventEnd,
                     findings: Number(document.getElementById("wl-list").dataset.findings)})"""
            )
            figures["filterMs"] = await page.evaluate(
                f"""(() => {{ const t = performance.now(); const c = document.getElementById("wl-rule");
                       c.value = {RULE!r}; c.dispatchEvent(new Event("change"));
                       return performance.now() - t; }})()"""
            )
            figures["ruleFindings"] = await page.evaluate(
                'Number(document.getElementById("wl-list").dataset.findings)'
            )
            figures["openSeconds"] = loaded
            figures["problems"] = page.problems()
            return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        sys.exit("chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="fcaudit-report-bench-") as tmp:
        work = Path(tmp)
        truth, page = work / "truth.ndjson", work / "report.html"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "crawler",
                "emulator",
                "--functions",
                str(args.functions),
                "--services",
                str(args.services),
                "--seed",
                str(args.seed),
                "--dump-truth",
                str(truth),
                "--no-serve",
                "--log-format",
                "json",
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        bare_wall, bare_rss = _child(["summarize", str(truth), "--format", "json"])
        summary = work / "summary.json"
        wall, rss = _child(
            ["summarize", str(truth), "--format", "json", "--report", str(page), "--summary", str(summary)]
        )
        total = orjson.loads(summary.read_bytes())["findings"]["total"]
        size = page.stat().st_size
        print(f"account: {args.functions:,} functions in {args.services} services, seed {args.seed}")
        print(f"summarize: {bare_wall:.1f} s, peak RSS {bare_rss:.0f} MB")
        print(f"summarize --report: {wall:.1f} s, peak RSS {rss:.0f} MB")
        print(f"page: {size:,} bytes ({size / 2**20:.1f} MiB)")
        runs = []
        for n in range(args.repeat):
            with chromium(binary, work / f"profile-{n}") as browser:
                runs.append(anyio.run(_measure, browser.port, page.as_uri()))
        best = min(runs, key=lambda r: r["loadEventMs"])
        for run in runs:
            print(
                f"  load event {run['loadEventMs']:.0f} ms (worklist {run['worklistMs']:.0f} ms), "
                f"filter to {RULE} {run['filterMs']:.0f} ms; findings {run['findings']:,}, "
                f"of the rule {run['ruleFindings']:,}; problems {run['problems'] or 'none'}"
            )
        print(
            f"best: load event {best['loadEventMs']:.0f} ms, worklist {best['worklistMs']:.0f} ms, "
            f"filter {best['filterMs']:.0f} ms, {best['findings']:,} findings in the page, "
            f"{total:,} in the audit"
        )
        if best["findings"] != total:
            sys.exit("the page does not hold every finding")


if __name__ == "__main__":
    main()
