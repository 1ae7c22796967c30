"""``fcaudit summarize``: placeholder registration until its issue lands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("summarize", help="(not yet implemented)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("summarize")
