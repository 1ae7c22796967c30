"""Run a Python module (``-m NAME``) or script in this process and record its peak RSS when it exits.

Why not ``ru_maxrss`` from ``wait4``: Linux carries a process's high-water mark across ``exec``, so a
child forked from a large parent (the benchmark, after it has driven the emulator) reports at least the
parent's size. ``VmHWM`` in ``/proc/self/status`` belongs to the address space the child built after
``exec``, so the client is measured alone. Usage::

    python bench/_peak.py PEAK_FILE -m crawler crawl ...
    python bench/_peak.py PEAK_FILE bench/sdk_crawl.py --threads 32 ...
    python bench/_peak.py PEAK_FILE -c "x = bytearray(50_000_000)"

At exit (normal, ``sys.exit`` or an exception) the peak in bytes is written to ``PEAK_FILE``.
"""

from __future__ import annotations

import atexit
import resource
import runpy
import sys
from pathlib import Path


def peak_rss_bytes() -> int:
    """This process's peak RSS: ``VmHWM`` where ``/proc`` has it, else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: _peak.py PEAK_FILE (-m MODULE | -c CODE | SCRIPT) [ARGS...]")
    peak_file = Path(sys.argv[1])
    atexit.register(lambda: peak_file.write_text(str(peak_rss_bytes())))
    if sys.argv[2] == "-m":
        module = sys.argv[3]
        sys.argv = [module, *sys.argv[4:]]
        sys.path[0] = ""  # as ``python -m`` has it: the current directory
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    elif sys.argv[2] == "-c":
        code = sys.argv[3]
        sys.argv = ["-c", *sys.argv[4:]]
        sys.path[0] = ""
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
    else:
        script = sys.argv[2]
        sys.argv = [script, *sys.argv[3:]]
        sys.path[0] = str(Path(script).resolve().parent)
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
