"""``fcaudit rules``: the rule catalogue (``crawler.audit.catalogue``) for people and programs.

Each rule's id, its severity under the policy of ``--config`` (the default otherwise, also shown),
whether the policy enables it, its title (what it checks), why it matters (the rule's description in
docs/rules.md, summarised by the title and the severity) and how to fix it in general words; a finding's
own remediation is filled in for its function (``--findings``).
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from typing import Any, Final

import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from crawler.app.commands import EXIT_OK
from crawler.app.outputs import load_policy
from crawler.audit.catalogue import RULES, Rule, Severity
from crawler.audit.policy import AuditPolicy

FORMATS: Final = ("table", "json")

#: why each rule matters, in one sentence
WHY: Final = {
    "no-failure-destination": "Async is in use here: an event that fails all its retries is dropped and no "
    "one can see or replay it.",
    "no-failure-destination-unverified": "Most functions on defaults are never invoked asynchronously; "
    "those that are lose failed events without trace.",
    "retries-disabled-no-failure-destination": "One failure, even a transient one, loses the event.",
    "max-age-too-short": "The event may expire before its retries run: retries configured but never used.",
    "max-age-above-fc3-limit": "FC 3.0 documents 604,800 s as the maximum: such a config may be rejected "
    "or capped on migration.",
    "cross-region-destination": "Failures travel across regions: latency, cost, and a dependency on "
    "another region.",
    "cross-account-destination": "Event payloads leave the account: a decision someone should have taken.",
    "self-destination": "Each event invokes the function again: a loop that runs (and bills) forever.",
    "same-destination-both": "Failures are mixed with successes and easy to miss.",
    "malformed-destination-arn": "FC cannot deliver to it: the destination does not work.",
    "unknown-destination-kind": "FC does not deliver to this kind: the destination does not work.",
    "value-out-of-range": "FC rejects or reinterprets it: the config is not what its owner thinks.",
    "stateful-invocation-off": "Your policy wants async tasks (state, replay) here.",
    "destination-not-allowed": "Events go somewhere your approved list does not name.",
    "dangling-fc-destination": "The function it names does not exist: every event sent there is lost.",
    "destination-cycle": "Events bounce between functions forever: a runaway loop and bill.",
    "qualifier-gap": "Invocations of that alias or version run on defaults: no failure destination.",
    "pair-error": "This function was not audited: its findings are unknown.",
}


def describe(rule: Rule, policy: AuditPolicy) -> dict[str, Any]:
    severity = policy.severities.get(rule.rule_id, rule.severity)
    return {
        "id": rule.rule_id,
        "severity": severity.label,
        "defaultSeverity": rule.severity.label,
        "enabled": rule.rule_id in policy.enabled,
        "checks": rule.title,
        "why": WHY[rule.rule_id],
        "fix": rule.remediation,
    }


def rows(policy: AuditPolicy) -> list[dict[str, Any]]:
    """Every rule, most severe first (by the policy's severity), then by id."""
    described = [describe(rule, policy) for rule in RULES]
    return sorted(described, key=lambda r: (-Severity.parse(r["severity"]), r["id"]))


def render(policy: AuditPolicy, fmt: str, width: int) -> str:
    listed = rows(policy)
    if fmt == "json":
        return orjson.dumps(
            {"rules": listed}, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
        ).decode()
    table = Table(box=box.SIMPLE_HEAD, title="fcaudit audit rules", title_justify="left")
    table.add_column("rule / severity", overflow="fold")
    table.add_column("what it checks, why it matters, how to fix it", overflow="fold")
    for r in listed:
        state = "" if r["enabled"] else " (disabled)"
        table.add_row(
            f"{r['id']}\n{r['severity']}{state}", f"{r['checks']}\nwhy: {r['why']}\nfix: {r['fix']}\n"
        )
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False, highlight=False).print(table)
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args.config)
    width = args.width or shutil.get_terminal_size((80, 24)).columns
    sys.stdout.write(render(policy, args.format, width))
    return EXIT_OK
