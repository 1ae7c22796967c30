"""Write a whole file or nothing: a temporary file in the same directory, fsynced, then ``os.replace``.

Readers that poll a path — node_exporter's textfile collector reading ``--metrics``, a browser or a
web server serving ``--report`` — must never see half a file. A rename within one directory is atomic
on POSIX, so the temporary file lives next to the target; its name starts with a dot and ends in
``.tmp`` so collectors that match ``*.prom`` (or people listing ``*.html``) skip it. It is created
with mode 0644 (before the umask): the collector usually runs as another user.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from crawler.errors import OutputError


def write_atomically(path: Path, data: bytes, *, what: str) -> None:
    """Replace ``path`` with ``data`` in one step; ``OutputError`` (naming ``what``, e.g. ``--metrics``)
    when the directory is missing or not writable."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory; name a file")
    tmp = parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot write {what} {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {what} {path}: {exc.strerror}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
