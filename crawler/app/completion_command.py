"""``fcaudit completion SHELL``: the shell completion script, generated from the parser by ``shtab``.

Generated, never written by hand, so it cannot drift from the flags: ``shtab`` walks the very parser
``fcaudit`` parses with (every subcommand built in full, ``build_parser(None)``), and an argument that
takes a file (``metavar`` ``FILE``, ``DIR`` or a ``Path`` type) completes file names. The script goes to
stdout; how to install it is in ``fcaudit --help`` and ``INSTALL`` below.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

SHELLS: Final = ("bash", "zsh", "fish")

#: where each shell looks for a completion script of its own (no root needed)
INSTALL: Final = {
    "bash": "fcaudit completion bash > ~/.local/share/bash-completion/completions/fcaudit",
    "zsh": "fcaudit completion zsh > ~/.zfunc/_fcaudit  (with fpath+=~/.zfunc before compinit in ~/.zshrc)",
    "fish": "fcaudit completion fish > ~/.config/fish/completions/fcaudit.fish",
}


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell``."""
    import shtab  # only here: nothing else needs it

    _mark_files(parser, shtab.FILE)
    return str(shtab.complete(parser, shell=shell))


def _mark_files(parser: argparse.ArgumentParser, complete_file: object) -> None:
    """Arguments that take a path complete file names (shtab reads ``action.complete``)."""
    for action in parser._actions:  # argparse has no public walk of its actions
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark_files(sub, complete_file)
        elif action.type is Path or action.metavar in ("FILE", "DIR"):
            action.complete = complete_file  # type: ignore[attr-defined]


def run(args: argparse.Namespace) -> int:
    build: Callable[[], argparse.ArgumentParser] = args.full_parser
    sys.stdout.write(script(build(), args.shell))
    return 0
