"""The way out of a real ``fcaudit`` process (``crawler.cli.entry.leave``): the exit code is the command's,
``atexit`` callbacks run and stdout is flushed whole, the interpreter's teardown is skipped, and a thread
still running takes Python's ordinary exit.

A ``sitecustomize`` module on the child's path stands for everything a process may hold: an ``atexit``
callback (as coverage and logging register) and a module global whose finaliser runs only in the
interpreter's teardown.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.support.audit_support import batch, config, lines_of, run_records

SITECUSTOMIZE = """
import atexit, sys

class _Witness:
    def __del__(self):
        sys.stderr.write("witness: torn down\\n")
        sys.stderr.flush()

witness = _Witness()
atexit.register(lambda: sys.stderr.write("witness: atexit ran\\n"))
"""

TIMEOUT = 30.0


def _env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    repo = Path(__file__).resolve().parents[2]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(repo)])}


def _records(tmp_path: Path, functions: int = 1) -> Path:
    batches = [batch(config(retries=0), function=f"fn-{i}") for i in range(functions)]
    path = tmp_path / "run.ndjson"
    path.write_bytes(b"".join(lines_of(run_records(batches))))
    return path


def _fcaudit(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return _python(["-m", "crawler", *argv], tmp_path)


def _python(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, *argv], env=_env(tmp_path), capture_output=True, timeout=TIMEOUT)


def test_the_code_is_the_commands_atexit_runs_stdout_is_whole_and_the_teardown_is_skipped(
    tmp_path: Path,
) -> None:
    # 400 functions with a finding each: a JSON summary far larger than stdout's buffer
    path = _records(tmp_path, functions=400)
    done = _fcaudit(["summarize", str(path), "--format", "json", "--fail-on", "high"], tmp_path)
    assert done.returncode == 1, done.stderr  # the findings at --fail-on high
    summary = orjson.loads(done.stdout)
    assert summary["totals"]["functions"] == 400
    assert b"witness: atexit ran" in done.stderr
    assert b"witness: torn down" not in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_reader_that_has_gone_is_not_an_error(tmp_path: Path) -> None:
    path = _records(tmp_path, functions=400)
    with subprocess.Popen(
        [sys.executable, "-m", "crawler", "summarize", str(path), "--format", "json", "--fail-on", "none"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        child.stdout.read(1)
        child.stdout.close()  # `| head -c 1`
        err = child.stderr.read()
        assert child.wait(timeout=TIMEOUT) == 0
    assert b"BrokenPipeError" not in err
    assert b"Exception ignored" not in err
    assert b"witness: atexit ran" in err


def test_a_thread_still_running_takes_pythons_ordinary_exit(tmp_path: Path) -> None:
    script = (
        "import threading, time, sys\n"
        "from crawler.cli.entry import leave\n"
        "def late():\n"
        "    time.sleep(0.2)\n"
        "    sys.stdout.write('the thread finished\\n')\n"
        "threading.Thread(target=late).start()\n"
        "leave(3)\n"
    )
    done = _python(["-c", script], tmp_path)
    assert done.returncode == 3
    assert done.stdout == b"the thread finished\n"
    assert b"witness: atexit ran" in done.stderr
    assert b"witness: torn down" in done.stderr  # the ordinary exit, teardown and all


def test_a_daemon_thread_does_not_hold_the_exit(tmp_path: Path) -> None:
    script = (
        "import threading, time\n"
        "from crawler.cli.entry import leave\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "print('written before the exit')\n"
        "leave(5)\n"
    )
    done = _python(["-c", script], tmp_path)
    assert done.returncode == 5
    assert done.stdout == b"written before the exit\n"  # buffered (a pipe), flushed by leave
    assert b"witness: torn down" not in done.stderr


def test_a_run_under_a_profiler_writes_its_profile(tmp_path: Path) -> None:
    # cProfile writes its file when the program's code returns to it: an exit that skips the rest of the
    # process would leave none
    out = tmp_path / "fcaudit.prof"
    argv = ["summarize", str(_records(tmp_path)), "--format", "json", "--fail-on", "none"]
    done = _python(["-m", "cProfile", "-o", str(out), "-m", "crawler", *argv], tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0
    assert b"witness: atexit ran" in done.stderr
