"""``AtomicFile``: a regular file is replaced whole or not at all; a path that is not a regular file
(``/dev/null``, ``/dev/stdout``, a FIFO) is written through and never replaced by a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crawler.errors import OutputError
from crawler.store.atomic_file import AtomicFile, write_atomically


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path: Path) -> None:
    """``--summary`` on a FIFO (or, as root, ``/dev/null``): before, the temporary file was renamed over
    it, so the reader got nothing and the FIFO became a regular file."""
    fifo = tmp_path / "summary.pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is waiting: opening to write won't block
    try:
        write_atomically(fifo, b'{"complete": true}\n', what="--summary")
        assert os.read(reader, 1024) == b'{"complete": true}\n'
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["summary.pipe"]  # no temporary file left beside it


def test_dev_null_is_written_through(tmp_path: Path) -> None:
    """Writing to ``/dev/null`` succeeds and leaves it a character device (safe to run as root now)."""
    write_atomically(Path("/dev/null"), b"x" * 10, what="--metrics")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_aborted_regular_file_is_left_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    target.write_bytes(b"old")
    out = AtomicFile(target, what="--summary")
    out.write(b"new, half")
    out.abort()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"^--report .* is a directory; name a file$"):
        AtomicFile(tmp_path, what="--report")
