"""Inputs are never destroyed: the paths a command will write are checked before anything is opened.

Every command that writes files (crawl, summarize, merge, demo) passes ``check_files`` its inputs
(``--config``, ``--targets``, ``--baseline``, the NDJSON it reads, the shards) and its outputs
(``--output``, ``--summary``, ``--findings``, ``--report``, ``--metrics``, merge's OUT) first thing. It
refuses, in one line (exit 2):

- an output that is an input or another output: the same resolved path (symbolic links followed in
  every component) or, for files that exist, the same inode (``os.path.samefile``: hard links too);
- an output that is a symbolic link, unless ``--follow-symlinks`` — then the link's target is what is
  written (and locked, and replaced). A link to a special file (``/dev/null``, ``/dev/stdout``, a FIFO)
  is written through either way: there is no file there to destroy.

What it returns is the path each output is to be written at. Replacing an existing file keeps its
mode (``crawler.store.atomic_file``; ``--output`` is truncated in place, which keeps it too).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from crawler.errors import UsageError
from crawler.store.atomic_file import same_file

#: (flag or name shown in messages, path or None when not given)
Named = tuple[str, Path | None]


def _special(path: Path) -> bool:
    """A device, FIFO or socket (what ``/dev/null`` or ``/dev/stdout`` lead to): not a file to destroy."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def output_target(path: Path, flag: str, *, follow_symlinks: bool) -> Path:
    """Where output ``flag`` is written: ``path`` itself, or a symbolic link's target when following."""
    if not os.path.islink(path) or _special(path):
        return path
    target = Path(os.path.realpath(path))
    if follow_symlinks:
        return target
    raise UsageError(
        f"{flag} {path} is a symbolic link to {target}; fcaudit does not write through links: name the "
        f"file itself, or pass --follow-symlinks to write {target}"
    )


def check_files(
    inputs: Iterable[Named], outputs: Iterable[Named], *, follow_symlinks: bool
) -> dict[str, Path]:
    """Refuse an output that is an input or another output, or a symbolic link (unless following);
    the path to write for each output given, by its flag."""
    given_inputs = [(flag, path) for flag, path in inputs if path is not None]
    checked: list[tuple[str, Path]] = []
    for flag, path in outputs:
        if path is None:
            continue
        for other_flag, other in given_inputs:
            if same_file(path, other):
                raise UsageError(
                    f"{flag} {path} is the same file as {other_flag} {other}; writing it would destroy "
                    "that input: name another file"
                )
        for other_flag, other in checked:
            if same_file(path, other):
                raise UsageError(
                    f"{flag} {path} is the same file as {other_flag} {other}; give each output its own file"
                )
        checked.append((flag, path))
    return {flag: output_target(path, flag, follow_symlinks=follow_symlinks) for flag, path in checked}
