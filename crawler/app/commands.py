"""The commands and their exit codes, shared by the command line and every command's run.

Exit codes: 0 complete, no finding at/above the fail threshold; 1 findings at/above it; 2 bad input or
output (one line); 3 incomplete; 70 a bug in fcaudit; 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
#: an unexpected exception: a bug, distinct from findings (1), bad input (2) and an incomplete crawl (3)
EXIT_SOFTWARE = 70
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

#: the errnos of a full disk (or quota, or a file-size limit): the environment's, never a bug
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

#: every subcommand and its one-line help; only the one being run is imported (``build_parser``)
COMMAND_HELP: dict[str, str] = {
    "crawl": "crawl accounts and regions, write every async-invoke config as NDJSON, and audit them",
    "summarize": "summarise and audit an NDJSON file written by fcaudit",
    "demo": "crawl and audit an emulated account in seconds (no cloud account needed)",
    "emulator": "serve a seeded FC 2.0 API emulator on loopback (for trials, tests and load tests)",
    "diff": "list configs added, removed and changed, and findings new and resolved, between two crawls",
    "merge": "combine the NDJSON files of `crawl --shard K/N` into one, checking they are complete",
    "rules": "list every audit rule: its severity, what it checks, why it matters and how to fix it",
    "completion": "print a shell completion script for bash, zsh or fish (see fcaudit --help)",
}
COMMANDS = tuple(COMMAND_HELP)
