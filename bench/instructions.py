"""The CPU a crawl spends per function, in instructions: the measure that neither the machine's load nor its
clock speed moves.

One command (needs valgrind, and the ``bench`` extra: ``pip install -e '.[bench]'``)::

    python -m bench.instructions                          # this tree
    python -m bench.instructions --against ../fcaudit-old # and another checkout, beside it

Each tree's ``fcaudit crawl`` runs under ``valgrind --tool=callgrind`` against the emulator (this tree's, on
uvloop, no latency) for two account sizes; the count per function is the slope between them, so start-up,
the summary's fixed part and the exit cancel out. A tree is a checkout of fcaudit (``--against``, a git
worktree of an older commit, say): its ``crawler`` package runs from its own directory with this
interpreter, so it needs no dependency this one lacks. Each tree's bytecode is compiled first, as an
installed package's is. The runs go tree by tree, run by run, so drift hits every tree alike.

Why instructions: the same 20,000-function crawl measured 0.35–0.45 ms of CPU a request within ten minutes on
this project's shared machine, while aiohttp alone, in the same runs, moved from 0.14 to 0.22 ms
(``docs/performance.md``); callgrind runs of one tree agree within 0.5%. An instruction is not a
nanosecond (cache misses and the event loop's waits are not in it), so the bench's wall-clock CPU per
request (``python -m bench.crawl_bench --scenario b``) stays the target's own figure; this says which
change moved it, and by how much.
"""

from __future__ import annotations

import argparse
import compileall
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench._harness import REPO, Account, EmulatorProcess, _clean_env, crawl_command

#: what callgrind prints at its end: "==123== Collected : 3083831513"
_COLLECTED = re.compile(r"== Collected : (\d+)")


@dataclass(frozen=True, slots=True)
class Count:
    """One callgrind run: the tree, the account's size and the instructions the whole process executed."""

    tree: Path
    functions: int
    instructions: int


def collected(stderr: str) -> int:
    """The instruction count in callgrind's closing lines; ``ValueError`` when the run printed none."""
    found = _COLLECTED.findall(stderr)
    if not found:
        raise ValueError(f"callgrind printed no instruction count; its output ended: {stderr[-500:]!r}")
    return int(found[-1])


def per_function(counts: Sequence[Count]) -> float:
    """Instructions per function: the slope between the smallest and the largest account of ``counts``
    (one run of each), so what every run pays once (start-up, the exit) cancels."""
    small = min(counts, key=lambda c: c.functions)
    large = max(counts, key=lambda c: c.functions)
    if large.functions == small.functions:
        raise ValueError("the runs need two account sizes")
    return (large.instructions - small.instructions) / (large.functions - small.functions)


def count(tree: Path, functions: int, workdir: Path) -> Count:
    """One ``fcaudit crawl`` of a ``functions``-function account from ``tree``, under callgrind."""
    with EmulatorProcess(Account(functions, max(1, functions // 100)), uvloop=True) as emulator:
        callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir / 'callgrind.out'}"]
        cmd = [*callgrind, *crawl_command(emulator, workdir / "crawl.ndjson")]
        done = subprocess.run(
            cmd,
            cwd=tree,  # `-m crawler` imports the tree's own package first
            env={**_clean_env(), **emulator.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the crawl from {tree} exited {done.returncode}: {done.stderr[-500:]}")
    return Count(tree, functions, collected(done.stderr))


def render(results: dict[Path, list[float]]) -> str:
    """A Markdown table: each tree's instructions per function, run by run, and against the first tree."""
    trees = list(results)
    first = statistics.median(results[trees[0]])
    lines = [
        "| tree | instructions per function, run by run | median | ÷ the first |",
        "|---|--:|--:|--:|",
    ]
    for tree in trees:
        runs = results[tree]
        median = statistics.median(runs)
        shown = " / ".join(f"{r / 1000:,.1f} k" for r in runs)
        lines.append(f"| {tree} | {shown} | {median / 1000:,.1f} k | {median / first:.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--against",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="another fcaudit checkout to count beside this one (repeatable)",
    )
    parser.add_argument(
        "--functions",
        type=int,
        nargs=2,
        default=(1000, 5000),
        metavar=("SMALL", "LARGE"),
        help="the two account sizes (default: 1000 5000)",
    )
    parser.add_argument("--runs", type=int, default=2, help="runs of each tree (default: 2)")
    args = parser.parse_args(argv)  # fmt: skip
    if shutil.which("valgrind") is None:
        print("bench.instructions: valgrind is not installed; install it (apt install valgrind), run again")
        return 2
    trees = [REPO, *(t.resolve() for t in args.against)]
    for tree in trees:
        if not (tree / "crawler" / "__main__.py").is_file():
            print(f"bench.instructions: {tree} holds no crawler package; name an fcaudit checkout")
            return 2
        compileall.compile_dir(tree / "crawler", quiet=1)
    small, large = sorted(args.functions)
    results: dict[Path, list[float]] = {tree: [] for tree in trees}
    with tempfile.TemporaryDirectory(prefix="fcaudit-instructions-") as tmp:
        for run in range(1, args.runs + 1):
            for tree in trees:
                counts = [count(tree, n, Path(tmp)) for n in (small, large)]
                results[tree].append(per_function(counts))
                figure = f"{results[tree][-1] / 1000:,.1f} k instructions a function"
                print(f"  run {run}/{args.runs} {tree}: {figure}", flush=True)
    print(f"\n### Instructions per function, {small:,} → {large:,} functions, no latency\n")
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
