"""The rule catalogue: one ``Rule`` object per rule, the rules table of docs/rules.md in step with it, and the
evaluator's named answer."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from crawler.audit.arns import parse_destination
from crawler.audit.catalogue import RULE_BY_ID, RULES, Rule, Severity
from crawler.audit.policy import AuditPolicy
from crawler.audit.remediation import FIXES
from crawler.audit.rules import Evaluation, RuleEngine

RULES_PAGE = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
A, R = "1234567890123456", "cn-hangzhou"
QUEUE = f"acs:mns:{R}:{A}:/queues/dlq/messages"


def test_every_rule_is_one_object_with_a_unique_id() -> None:
    assert len(RULE_BY_ID) == len(RULES) == 18
    for rule in RULES:
        assert isinstance(rule, Rule)
        assert RULE_BY_ID[rule.rule_id] is rule
        assert rule.title
        assert isinstance(rule.severity, Severity)
        assert rule.remediation.endswith(".")  # how to fix it, in words (``fcaudit rules``)
        assert rule.rule_id in FIXES  # and filled in for each finding


def test_the_rules_page_lists_every_rule_at_its_default_severity() -> None:
    text = RULES_PAGE.read_text("utf-8")
    table = re.findall(r"^\| `([a-z0-9-]+)` \| (info|low|medium|high) \|", text, re.M)
    assert sorted(table) == sorted((r.rule_id, r.severity.label) for r in RULES)


def test_a_rule_builds_its_evidence_and_message_from_its_payload() -> None:
    rule = RULE_BY_ID["cross-region-destination"]
    d = parse_destination(f"acs:mns:cn-beijing:{A}:/queues/dlq/messages")
    evidence = rule.evidence("onFailure", d, R)
    assert evidence == {
        "side": "onFailure",
        "destination": d.arn,
        "kind": "mns-queue",
        "destinationRegion": "cn-beijing",
        "functionRegion": R,
    }
    assert rule.message(evidence) == f"onFailure destination is in region cn-beijing, the function in {R}"


def test_the_evaluator_answers_with_named_fields() -> None:
    engine = RuleEngine(AuditPolicy(today=date(2024, 5, 1)))
    answer = engine.evaluate(
        {"maxAsyncRetryAttempts": 0, "destinationConfig": {"onSuccess": {"destination": QUEUE}}},
        A,
        R,
        "svc",
        "fn",
    )
    assert isinstance(answer, Evaluation)
    assert answer.hits == [("retries-disabled-no-failure-destination", (parse_destination(QUEUE),))]
    assert (answer.retries, answer.age, answer.stateful) == (0, 86_400, False)
    assert (answer.on_success, answer.on_failure) == (parse_destination(QUEUE), None)
    assert (answer.retries_defaulted, answer.age_defaulted, answer.stateful_defaulted) == (False, True, True)
