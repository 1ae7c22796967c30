"""Write a whole file or nothing: a temporary file in the same directory, fsynced, then ``os.replace``.

Readers that poll a path — node_exporter's textfile collector reading ``--metrics``, a browser or a
web server serving ``--report``, a job picking up ``fcaudit merge``'s output — must never see half a
file. A rename within one directory is atomic on POSIX, so the temporary file lives next to the target;
its name starts with a dot and ends in ``.tmp`` so collectors that match ``*.prom`` (or people listing
``*.html``) skip it. A new file gets mode 0644 (before the umask): the collector usually runs as another
user. Replacing a file keeps that file's mode (a 0600 summary stays 0600): the temporary file is
created 0600 and given the old file's mode before anything is written to it. ``AtomicFile`` is written
in pieces (findings as they are made, a merge shard by shard); ``write_atomically`` is the one-piece case.
A path that is not a regular file (``/dev/null``, a FIFO) is written through: it is never replaced.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType

from crawler.errors import OutputError

#: what to do, at the end of every write error (a command that knows better says that instead)
RUN_AGAIN = "free some space (or fix the cause) and run again"


class AtomicFile:
    """A file built in pieces and renamed into place whole: ``commit()`` on success, ``abort()`` else.

    As a context manager it commits when the block ends normally and aborts when it raises; ``what``
    names the file in errors (``--metrics``, ``--findings``), which are ``OutputError`` one-liners.
    """

    def __init__(self, path: Path, *, what: str) -> None:
        self.path = path
        self.what = what
        if path.is_dir():
            raise OutputError(f"{what} {path} is a directory; name a file")
        if _special(path):
            # /dev/null, /dev/stdout, a FIFO: written through. A rename would put a regular file in
            # place of the device (as root, over /dev/null itself); there is no half file to hide.
            self._tmp: Path | None = None
            try:
                self._out = open(path, "wb")  # noqa: SIM115 - closed by commit() or abort()
            except OSError as exc:
                raise self._error(exc) from None
            return
        self._tmp = _temp_beside(path)
        kept = _mode_of(path)
        try:
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 if kept is None else 0o600)
        except OSError as exc:
            raise self._error(exc) from None
        self._out = os.fdopen(fd, "wb")
        if kept is not None:
            try:
                os.fchmod(fd, kept)  # not subject to the umask: exactly the replaced file's mode
            except OSError as exc:
                self.abort()
                raise self._error(exc) from None

    def _error(self, exc: OSError) -> OutputError:
        what = f"{self.what} {self.path}"
        return OutputError(f"cannot write {what}: {exc.strerror}, left as it was; {RUN_AGAIN}")

    def write(self, data: bytes) -> None:
        try:
            self._out.write(data)
        except OSError as exc:
            self.abort()
            raise self._error(exc) from None

    def commit(self) -> None:
        try:
            self._out.flush()
            if self._tmp is None:  # written through: nothing to sync or rename
                self._out.close()
                return
            os.fsync(self._out.fileno())
            self._out.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.abort()
            raise self._error(exc) from None

    def abort(self) -> None:
        """Drop what was written; the target is left as it was. Never raises: it runs while another
        error is being reported, and on a full disk closing the file fails too (its buffer cannot be
        flushed; the descriptor is closed all the same)."""
        with contextlib.suppress(OSError):
            self._out.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def probe_writable(path: Path, *, what: str) -> None:
    """Make sure ``path`` can be written the way ``AtomicFile`` writes it, before a command spends time
    on what goes in it: create its temporary file beside it and remove it. The file system is asked,
    not ``os.access`` (which cannot see a name too long, a read-only mount for root, an ACL, a full
    inode table). ``OutputError`` naming ``what`` and the cause, before anything is written."""
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name too long, a loop of links: the path itself cannot be looked up
        raise OutputError(f"cannot create {what} {path} ({exc.strerror}); name another file") from None
    if is_dir:
        raise OutputError(f"{what} {path} is a directory; name a file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{what} {path}: directory {parent} does not exist; create it or name another")
    if _special(path):
        return  # /dev/null, a FIFO: written through, nothing is created beside it
    tmp = _temp_beside(path)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise OutputError(
            f"cannot create {what} {path} ({exc.strerror}); nothing was done: name a file in a directory "
            "you can write"
        ) from None
    tmp.unlink(missing_ok=True)


def _temp_beside(path: Path) -> Path:
    """The temporary file of ``path``: in its directory (a rename is atomic only within one), a dot
    name ending in ``.tmp`` that collectors and globs skip."""
    parent = path.parent if str(path.parent) else Path(".")
    return parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def _special(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _mode_of(path: Path) -> int | None:
    """The permission bits of the regular file at ``path``, or ``None`` when there is none to replace."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def write_atomically(path: Path, data: bytes, *, what: str) -> None:
    """Replace ``path`` with ``data`` in one step; ``OutputError`` (naming ``what``, e.g. ``--metrics``)
    when the directory is missing or not writable."""
    with AtomicFile(path, what=what) as out:
        out.write(data)


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: one resolved path, or (both existing) one inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): the paths already differ
        return False
