"""One writer per output file: an exclusive lock, held for the whole run, on a sidecar ``.NAME.lock``.

Two runs on one ``--output`` (overlapping cron jobs with ``--resume``) interleave their writes and each
cuts the file where it believes the last whole function ends: bad lines, functions twice, functions
lost. So every command that writes an NDJSON file (``crawl``'s ``--output``, each ``--shard``'s output,
``merge``'s OUT, ``demo``'s records) takes this lock before it reads the file for ``--resume`` or opens it
for writing, and a second run refuses at once with one line naming the holder's pid (exit 2).

The mechanism is ``flock(LOCK_EX | LOCK_NB)`` on a sidecar file beside the output that records the
holder's pid. Not a lock on the output itself: a POSIX ``fcntl`` lock is dropped when *any* descriptor of
that file in the process closes (the resume scan opens and closes the output), ``flock`` cannot tell
who holds it, and ``merge`` renames a new file over its output (a lock on the old inode guards nothing).
The kernel drops a ``flock`` when its process ends, however it ends, so the lock decides and never the
sidecar's existence: a sidecar left by ``kill -9`` is simply taken over by the next run. On release the
sidecar is unlinked while still locked; a run that opened it a moment before checks, once it holds the
lock, that the path still names the file it locked, and starts over if not, so two runs can never each
hold a different sidecar of one output.

Limits: a second name for the output (a hard link) has its own sidecar; on network filesystems the lock
is only as good as their ``flock`` (Linux NFS clients emulate it with byte-range locks).
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path
from types import TracebackType
from typing import Final

from crawler.errors import OutputError

#: how long a refused run waits for the holder to have written its pid (it writes it right after locking)
PID_WAIT_SECONDS: Final = 0.5
#: attempts when the sidecar keeps being replaced under us (each replacement means a holder just finished)
MAX_ATTEMPTS: Final = 50


def lock_path(output: Path) -> Path:
    """The sidecar of ``output``: ``.NAME.lock`` in the same directory (hidden, like our temp files)."""
    return output.with_name(f".{output.name}.lock")


class OutputLock:
    """A held lock; ``release()`` (or leaving the ``with`` block) removes the sidecar and unlocks it."""

    def __init__(self, output: Path, sidecar: Path, fd: int | None) -> None:
        self.output = output
        self.sidecar = sidecar
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Idempotent. Unlink first (while still locked, and only if the path is still ours), then close."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _names(self.sidecar, fd):
                self.sidecar.unlink()
        except OSError:
            pass  # a sidecar we cannot remove is harmless: the next run takes it over
        finally:
            os.close(fd)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open on ``fd``."""
    try:
        there = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> str:
    """The pid the holder wrote, waiting briefly if it has locked but not written yet."""
    deadline = time.monotonic() + PID_WAIT_SECONDS
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return f"pid {text}"
        if time.monotonic() >= deadline:
            return "pid unknown"
        time.sleep(0.01)


def lock_output(output: Path, what: str) -> OutputLock:
    """Take the exclusive lock on ``output`` (named ``what`` in messages, e.g. ``--output``).

    ``OutputError`` (exit 2, one line) when another run holds it — naming that run's pid and the sidecar —
    or when the sidecar cannot be created (the output's directory must be writable). A special file
    (``/dev/null``, a FIFO) holds nothing a second writer could corrupt: it gets a lock that holds nothing.
    """
    sidecar = lock_path(output)
    try:
        special = not stat.S_ISREG(os.stat(output).st_mode)
    except OSError:
        special = False  # not there yet (or unreadable: opening it will say so)
    if special:
        return OutputLock(output, sidecar, None)
    for _ in range(MAX_ATTEMPTS):
        try:
            fd = os.open(sidecar, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            raise OutputError(
                f"cannot write {what} {output}: directory {output.parent} does not exist"
            ) from None
        except OSError as exc:
            raise OutputError(
                f"cannot lock {what} {output}: cannot create its lock file {sidecar} ({exc.strerror}); "
                "fcaudit needs to write in the output's directory"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputError(
                f"{what} {output} is being written by another fcaudit run ({holder}, lock file {sidecar}); "
                "wait for that run to end, or write to another file"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise OutputError(f"cannot lock {what} {output} ({sidecar}: {exc.strerror})") from None
        if not _names(sidecar, fd):  # the holder released (and unlinked) between our open and our lock
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return OutputLock(output, sidecar, fd)
    raise OutputError(f"cannot lock {what} {output}: its lock file {sidecar} keeps changing")
