"""Pins on how ``fcaudit diff`` pairs a resolved finding with the worse rule that replaced it
(``crawler.audit.drift._supersede``), found unpinned by the mutation run over ``crawler.audit.drift``
(issue 18): a finding without a qualifier, the severity that must be strictly higher, another rule, every
resolved finding considered, and the worst (then the first) candidate chosen."""

from __future__ import annotations

from crawler.audit.catalogue import Severity
from crawler.audit.drift import FindingChange, _supersede
from crawler.audit.rules import Finding


def _finding(rule_id: str, severity: Severity, function: str = "fn", qualifier: str | None = None) -> Finding:
    account, region = "1234567890123456", "cn-hangzhou"
    return Finding(rule_id, severity, account, region, "svc", function, qualifier, rule_id, {})


def _new(*findings: Finding) -> list[FindingChange]:
    return [FindingChange("new", f) for f in findings]


def _resolved(*findings: Finding) -> list[FindingChange]:
    return [FindingChange("resolved", f) for f in findings]


def test_a_function_level_finding_without_a_qualifier_is_superseded() -> None:
    old = _finding("no-failure-destination", Severity.MEDIUM)
    worse = _finding("retries-disabled-no-failure-destination", Severity.HIGH)
    appeared, resolved = _supersede(_new(worse), _resolved(old))
    assert resolved[0].superseded_by == worse
    assert appeared[0].supersedes == old


def test_only_a_strictly_worse_finding_of_another_rule_supersedes() -> None:
    old = _finding("no-failure-destination", Severity.MEDIUM)
    milder = _finding("cross-region-destination", Severity.LOW)
    as_bad = _finding("cross-account-destination", Severity.MEDIUM)
    appeared, resolved = _supersede(_new(milder, as_bad), _resolved(old))
    assert resolved[0].superseded_by is None
    assert [c.supersedes for c in appeared] == [None, None]


def test_every_resolved_finding_is_paired_even_after_one_that_is_not() -> None:
    plain = _finding("no-failure-destination", Severity.MEDIUM, function="other")
    old = _finding("no-failure-destination", Severity.MEDIUM)
    worse = _finding("retries-disabled-no-failure-destination", Severity.HIGH)
    _, resolved = _supersede(_new(worse), _resolved(plain, old))
    assert [c.superseded_by for c in resolved] == [None, worse]


def test_the_worst_candidate_wins_and_the_first_among_equals() -> None:
    old = _finding("no-failure-destination", Severity.LOW)
    medium = _finding("cross-region-destination", Severity.MEDIUM)
    first_high = _finding("retries-disabled-no-failure-destination", Severity.HIGH)
    second_high = _finding("dangling-fc-destination", Severity.HIGH)
    appeared, resolved = _supersede(_new(medium, first_high, second_high), _resolved(old))
    assert resolved[0].superseded_by == first_high
    assert [c.supersedes for c in appeared] == [None, old, None]
