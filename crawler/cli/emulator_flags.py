"""``fcaudit emulator``'s flags (argument parsing only: what runs is ``crawler.app.emulator_command``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.app import emulator_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import add_emulated_role


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "emulator",
        help=COMMAND_HELP["emulator"],
        description="Serve a generated Function Compute 2.0 account (ListServices, ListFunctions, "
        "async-invoke-config routes) with FC signature checks, paging, quotas and injected faults.",
    )
    net = parser.add_argument_group("where")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=9000, help="port to bind; 0 picks a free one (default 9000)")
    acct = parser.add_argument_group("the account")
    acct.add_argument("--seed", type=int, default=1, help="seed of the account, keys and faults (default 1)")
    acct.add_argument("--services", type=int, default=10, help="number of services (default 10)")
    acct.add_argument("--functions", type=int, default=100, help="functions in total (default 100)")
    acct.add_argument("--distribution", choices=("uniform", "skewed"), default="uniform")
    acct.add_argument("--account-id", help="account id (default: derived from the seed)")
    acct.add_argument("--region", default="cn-hangzhou", help="region id (default cn-hangzhou)")
    acct.add_argument("--big-functions", type=int, default=2, help="functions with >100 configs (default 2)")
    acct.add_argument("--max-qualifiers", type=int, default=6, help="most configs of other functions")
    acct.add_argument("--edge-rate", type=float, default=0.03, help="share of out-of-range configs")
    acct.add_argument("--no-showcase", action="store_true", help="do not plant the every-case function")
    acct.add_argument("--security-token", help="require this STS token in x-fc-security-token")
    add_emulated_role(acct, what="crawl it")
    knobs = parser.add_argument_group("misbehaviour")
    knobs.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    knobs.add_argument("--jitter-ms", type=float, default=0.0, help="uniform random extra latency")
    knobs.add_argument("--quota", type=float, metavar="RPS", help="request quota, requests/s (default none)")
    knobs.add_argument("--burst", type=int, help="quota burst (default: the quota rounded up)")
    knobs.add_argument(
        "--quota-shape",
        choices=emulator_command.QUOTA_SHAPES,
        default="bucket",
        help="bucket: a token bucket --burst deep; window: at most --quota requests/s per fixed window",
    )
    knobs.add_argument(
        "--quota-window",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="the window of --quota-shape window, seconds (default 1; 60: a quota of N calls a minute)",
    )
    knobs.add_argument(
        "--quota-change",
        action="append",
        default=[],
        metavar="SECONDS=FACTOR",
        help="from SECONDS after the first request the quota is --quota x FACTOR (repeatable: 10=0.5 20=1)",
    )
    knobs.add_argument(
        "--arrival-jitter-ms",
        type=float,
        default=0.0,
        help="uniform random delay before the quota sees a request",
    )
    knobs.add_argument("--throttle-status", type=int, choices=(429, 503), default=429)
    knobs.add_argument(
        "--retry-hint", choices=emulator_command.RETRY_HINTS, default="none", help="hint on throttled answers"
    )
    kinds = emulator_command.kinds_help()
    knobs.add_argument(
        "--fault", action="append", default=[], metavar="KIND=RATE", help=f"inject a fault; kinds: {kinds}"
    )
    knobs.add_argument("--stall-seconds", type=float, default=30.0, help="length of a stall (default 30)")
    knobs.add_argument(
        "--delete-service-share", type=float, default=0.0, help="share of deletes that take the whole service"
    )
    shape = parser.add_argument_group("answers")
    shape.add_argument("--omit-last-token", action="store_true", help="omit nextToken on last pages")
    shape.add_argument("--omit-empty-configs", action="store_true", help="answer {} for no configs")
    out = parser.add_argument_group("output")
    out.add_argument("--dump-truth", type=Path, metavar="FILE", help="write the expected crawl output")
    out.add_argument(
        "--write-env",
        type=Path,
        metavar="FILE",
        help="also write the printed export lines and crawl command to FILE (mode 0600: it holds the "
        "emulator's key secret), for `source FILE` in another shell",
    )
    out.add_argument("--no-serve", action="store_true", help="generate (and --dump-truth), then exit")
    out.add_argument("--uvloop", action="store_true", help="serve on uvloop (if installed)")
    out.add_argument("--eager", action="store_true", help="build every function before serving (load tests)")
    out.add_argument("--log-format", choices=("auto", "console", "json"), default="auto")
    parser.set_defaults(handler=emulator_command.run)
