"""``fcaudit crawl``'s flags (argument parsing only: what runs is ``crawler.app.crawl_command``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.app import crawl_command
from crawler.app.commands import COMMAND_HELP
from crawler.cli.shared_flags import (
    add_audit_config,
    add_audit_outputs,
    add_brief,
    add_fail_on,
    add_follow_symlinks,
    add_triggers,
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "crawl",
        help=COMMAND_HELP["crawl"],
        description="Discover every (service, function) pair, page its async-invoke configs, stream them "
        "as NDJSON and print an audit summary.",
    )
    where = parser.add_argument_group("what to crawl")
    where.add_argument("--account", help="account id (or the config file, or ALIBABA_CLOUD_ACCOUNT_ID)")
    where.add_argument("--region", action="append", default=[], help="region id; repeatable ('*' for all)")
    where.add_argument("--endpoint", metavar="URL", help="API endpoint (default: the account's public one)")
    where.add_argument("--profile", help="aliyun CLI profile from ~/.aliyun/config.json")
    who = parser.add_argument_group("identity (docs/estates.md, 'Identity and roles')")
    who.add_argument(
        "--ecs-ram-role",
        nargs="?",
        const=True,
        metavar="ROLE",
        help="on ECS: the instance RAM role (its name, or asked of the metadata server)",
    )
    who.add_argument(
        "--role-arn",
        metavar="ARN",
        help="assume this role for every target; {account} is filled in with each target's account",
    )
    who.add_argument("--external-id", metavar="ID", help="the external id the role's trust policy wants")
    who.add_argument(
        "--role-session-name",
        metavar="NAME",
        help="2-32 of A-Z a-z 0-9 . @ _ - (default fcaudit-<unix time>)",
    )
    who.add_argument(
        "--duration-seconds", type=int, metavar="N", help="role session length, 900-43200 (default 3600)"
    )
    who.add_argument(
        "--sts-endpoint",
        metavar="URL",
        help="STS host or URL (default sts.aliyuncs.com, or ALIBABA_CLOUD_STS_ENDPOINT / _STS_REGION)",
    )
    add_audit_config(where, only_audit=False)
    where.add_argument("--service", action="append", default=[], metavar="GLOB", help="only these services")
    where.add_argument("--exclude-service", action="append", default=[], metavar="GLOB", help="not these")
    where.add_argument(
        "--function", action="append", default=[], metavar="GLOB", help="only these functions (or svc/fn)"
    )
    where.add_argument(
        "--exclude-function", action="append", default=[], metavar="GLOB", help="but not these"
    )
    where.add_argument(
        "--targets",
        metavar="FILE",
        type=Path,
        help="crawl only these pairs, no discovery (lines service/function, or NDJSON objects)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--output", "-o", metavar="FILE", default="-", help="NDJSON records (default: stdout)")
    out.add_argument("--resume", action="store_true", help="continue the crawl that wrote --output FILE")
    add_follow_symlinks(out)
    out.add_argument("--force-resume", action="store_true", help="resume even if targets or filters differ")
    out.add_argument(
        "--resume-skip-errors",
        action="store_true",
        help="with --resume: keep the functions that ended in error as they are (default: crawl them again)",
    )
    out.add_argument(
        "--format",
        choices=crawl_command.TEXT_FORMATS,
        default="table",
        help="the summary printed (default: table)",
    )
    add_brief(out)
    add_audit_outputs(out)
    add_fail_on(out)
    how = parser.add_argument_group("how hard")
    how.add_argument("--concurrency", type=int, metavar="N", help="requests in flight (default 32)")
    how.add_argument(
        "--rate", type=float, metavar="RPS", help="requests per second ceiling (default: adaptive, none)"
    )
    how.add_argument("--page-size", type=int, metavar="N", help="items per page, 1-100 (default 100)")
    how.add_argument(
        "--grace",
        type=float,
        default=crawl_command.DEFAULT_GRACE_SECONDS,
        metavar="SECONDS",
        help="after SIGINT/SIGTERM or the --deadline, how long requests in flight may finish (default 5)",
    )
    how.add_argument(
        "--deadline",
        metavar="DURATION",
        help="stop taking work after this long (90, 90s, 30m, 2h): the run ends incomplete (exit 3), "
        "finish it with --resume (default: [crawl] deadline, else none)",
    )
    how.add_argument(
        "--connect-timeout",
        type=float,
        metavar="SECONDS",
        help="the longest wait for a connection to open (default: [crawl] connect_timeout, else 5)",
    )
    how.add_argument(
        "--unreachable-after",
        metavar="DURATION",
        help="give up an endpoint that has not answered once this long after its first request, 0 never "
        "(15, 15s, 1m; default: [crawl] unreachable_after, else 15 s)",
    )
    how.add_argument("--insecure-http", action="store_true", help="allow plain http to a non-loopback host")
    add_triggers(where)
    estate = parser.add_argument_group("estates")
    estate.add_argument(
        "--api",
        choices=crawl_command.API_CHOICES,
        default="fc2",
        help="fc2: one listing per function; fc3: FC 3.0's region-wide listing; auto: FC 3.0 where it "
        "answers, else FC 2.0 (default fc2)",
    )
    estate.add_argument(
        "--shard",
        metavar="K/N",
        help="crawl only shard K of N (K from 0): the services whose account/region/service hash to K; "
        "combine the N files with `fcaudit merge`",
    )
    estate.add_argument(
        "--baseline", metavar="FILE", type=Path, help="an earlier crawl's NDJSON: print the drift from it"
    )
    estate.add_argument(
        "--fail-on-drift", action="store_true", help="with --baseline: exit 1 when anything changed"
    )
    logs = parser.add_argument_group("logging")
    logs.add_argument("--log-format", choices=("auto", "console", "json"), default="auto")
    logs.add_argument("-v", "--verbose", action="count", default=0, help="more logs (-v debug)")
    logs.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="fewer logs (-q warnings, -qq errors) and no progress line",
    )
    logs.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress line (there is one only on a terminal)",
    )
    parser.set_defaults(handler=crawl_command.run)
