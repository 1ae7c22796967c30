"""``AuditFold`` driven directly, with literal expectations: which finding each function gives (rule,
target, qualifier, line, evidence) on the fast path and the sink path, the problems and their words,
error codes and their cap, run records paired, destination pruning, the findings kept per severity, and
that a copy folds on as the original would, leaving the original as it was."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from crawler.audit.fold import AuditFold, PendingConfig
from crawler.audit.policy import AuditPolicy, Suppression
from crawler.audit.rules import Finding, RuleEngine

A, R = "1234567890123456", "cn-hangzhou"
TODAY = date(2024, 5, 1)


def queue(name: str, region: str = R, account: str = A) -> dict[str, Any]:
    return {
        "destinationConfig": {
            "onFailure": {"destination": f"acs:mns:{region}:{account}:/queues/{name}/messages"}
        }
    }


def fn(service: str, function: str, status: str = "ok", configs: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "account": A,
        "region": R,
        "service": service,
        "function": function,
        "status": status,
        "configs": configs,
        **extra,
    }


def fold(found: list[Finding] | None = None, **policy: Any) -> AuditFold:
    return AuditFold(
        RuleEngine(AuditPolicy(today=TODAY, **policy)), found.append if found is not None else None
    )


def feed(f: AuditFold, groups: Sequence[tuple[list[PendingConfig], dict[str, Any], int]]) -> None:
    for configs, record, line in groups:
        f.group(configs, record, line)


def target(f: Finding) -> tuple[Any, ...]:
    return (f.rule_id, f.account, f.region, f.service, f.function, f.qualifier, f.line)


GROUPS: list[tuple[list[PendingConfig], dict[str, Any], int]] = [
    ([(1, "prod", {}), (2, "LATEST", queue("q"))], fn("s", "f", configs=2), 3),
    ([], fn("s", "g", status="none"), 4),
    ([], fn("t", "h", status="error", error={"code": "ServerError"}), 5),
    ([], fn("t", "i", status="error"), 6),
]
EXPECTED = [
    ("no-failure-destination", A, R, "s", "f", "prod", 1),
    ("no-failure-destination", A, R, "s", "g", None, 4),
    ("stateful-invocation-off", A, R, "s", "g", None, 4),
    ("pair-error", A, R, "t", "h", None, 5),
    ("pair-error", A, R, "t", "i", None, 6),
]


def test_each_finding_names_its_target_qualifier_and_line_on_both_paths() -> None:
    found: list[Finding] = []
    slow = fold(found, require_stateful=("s/g",))
    feed(slow, GROUPS)
    slow.settle()  # an error record's finding is sent once no later record can replace it
    assert [target(f) for f in found] == EXPECTED
    assert dict(found[1].evidence) == {"maxAsyncRetryAttempts": 3, "onSuccess": None, "defaults": True}
    assert dict(found[3].evidence)["error"] == {"code": "ServerError"}
    fast = fold(require_stateful=("s/g",))  # no sink, no suppressions: the fast path
    feed(fast, GROUPS)
    kept = [target(f) for severity in range(4) for f in fast.listed(severity)]
    assert sorted(kept, key=lambda t: (t[-1], t[0])) == EXPECTED
    assert set(fast.rows) == {(A, R, "s"), (A, R, "t")}
    assert (fast.accounts, fast.regions) == ({A}, {R})
    assert fast.error_codes == {"ServerError": 1, "unknown": 1}


def test_a_config_that_names_another_pair_is_a_problem() -> None:
    f = fold()
    cases = [
        {"service": "other"},
        {"serviceName": "other"},
        {"function": "other"},
        {"functionName": "other"},
        {"service": "s", "serviceName": "other"},  # the short name wins when both are there
    ]
    for line, named in enumerate(cases, start=1):
        f.group([(line, "LATEST", {**queue("q"), **named})], fn("s", "f", configs=1), 10 + line)
    assert [(p.kind, p.message, p.line) for p in f.problems] == [
        ("config-identity-mismatch", "config names 'other'/None, its record 's'/'f'", 1),
        ("config-identity-mismatch", "config names 'other'/None, its record 's'/'f'", 2),
        ("config-identity-mismatch", "config names None/'other', its record 's'/'f'", 3),
        ("config-identity-mismatch", "config names None/'other', its record 's'/'f'", 4),
    ]
    assert f.problems_by_kind == {"config-identity-mismatch": 4}


def test_a_function_record_that_disagrees_with_its_configs_is_a_problem() -> None:
    f = fold()
    f.group([(1, "LATEST", queue("q"))], fn("s", "f", configs=2), 2)
    f.group([(3, "LATEST", queue("q"))], fn("s", "g", status="none", configs=1), 4)
    f.orphans([(5, "LATEST", {}), (6, "prod", {})], (A, R, "s", "h"), "never met their function record")
    assert [(p.kind, p.message, p.line) for p in f.problems] == [
        ("config-count-mismatch", "s/f: function record says 2 configs, 1 precede it", 2),
        ("config-count-mismatch", "s/g: status 'none' but has configs", 4),
        ("orphan-configs", "2 config(s) of s/h never met their function record: not counted", 5),
    ]
    assert f.records == {"orphan-config": 2, "run": 0}


def test_error_codes_are_capped_at_a_thousand_then_other() -> None:
    f = fold()
    for i in range(1001):
        f.group([], fn("s", f"f{i}", status="error", error={"code": f"E{i}"}), i + 1)
    f.group([], fn("s", "again", status="error", error={"code": "E0"}), 2000)
    assert len(f.error_codes) == 1001
    assert (f.error_codes["E0"], f.error_codes["E999"], f.error_codes["(other)"]) == (2, 1, 1)
    assert "E1000" not in f.error_codes


def test_run_records_pair_up_and_an_incomplete_one_is_a_problem() -> None:
    f = fold()
    f.run({"type": "run", "phase": "start", "a": 1}, 1)
    f.run({"type": "run", "phase": "end", "complete": False}, 9)
    f.run({"type": "run", "phase": "end", "complete": True}, 12)  # an end without its start
    assert f.runs == [[{"a": 1}, {"complete": False}, 1, 9], [None, {"complete": True}, None, 12]]
    assert [(p.kind, p.message, p.line) for p in f.problems] == [
        ("run-incomplete", "the crawl that wrote this input ended incomplete", 9)
    ]
    assert f.records["run"] == 3


def test_destinations_are_pruned_to_the_ten_thousand_most_referenced() -> None:
    f = fold()
    configs: list[PendingConfig] = [(1, "LATEST", queue("popular"))] * 3
    f.group(configs, fn("s", "f", configs=3), 4)
    configs = [(i, "LATEST", queue(f"q{i:05d}")) for i in range(20_000)]
    f.group(configs, fn("s", "g", configs=20_000), 20_001)
    assert len(f.dests) == 10_000
    assert f.dests_pruned == 1
    assert f.dests[f"acs:mns:{R}:{A}:/queues/popular/messages"] == 3
    # ties are broken by ARN: q00000 .. q09998 stay with the popular one, q09999 and after go
    assert f"acs:mns:{R}:{A}:/queues/q09998/messages" in f.dests
    assert f"acs:mns:{R}:{A}:/queues/q09999/messages" not in f.dests
    assert set(f.dest_kinds) == set(f.dests)
    assert set(f.dest_kinds.values()) == {"mns-queue"}


def test_the_listed_findings_stop_at_the_cap_most_severe_first() -> None:
    f = fold(max_findings=2)
    for i in range(3):  # three high findings (self-destination) and three medium ones
        me = {
            "destinationConfig": {
                "onFailure": {"destination": f"acs:fc:{R}:{A}:services/s.LATEST/functions/h{i}"}
            }
        }
        f.group([(10 * i, "LATEST", me)], fn("s", f"h{i}", configs=1), 10 * i + 1)
        f.group([(10 * i + 5, "LATEST", {})], fn("s", f"m{i}", configs=1), 10 * i + 6)
    # h0, m0 and h1 fit; then m1 finds medium and above holding 3 (closed), h2 finds high holding 2
    assert [[x.line for x in kept] for kept in f.retained] == [[], [], [5], [0, 10]]
    assert f.closed == [False, False, True, True]


def test_suppressed_and_expired_findings_are_counted_by_rule_and_by_suppression() -> None:
    active = Suppression("ok", "no-failure-destination", service="s")
    expired = Suppression("was ok", "pair-error", expires=date(2024, 1, 1), index=2)
    found: list[Finding] = []
    f = fold(found, suppressions=(active,), expired=(expired,))
    feed(f, GROUPS)
    f.settle()
    assert f.suppressed == {"no-failure-destination": 2}
    assert f.expired_hits == {2: 2}
    assert [target(x) for x in found] == [e for e in EXPECTED if e[0] == "pair-error"]
    assert dict(found[0].evidence)["expiredSuppression"] == {
        "index": 2,
        "reason": "was ok",
        "expired": "2024-01-01",
    }


def test_a_copy_folds_on_as_the_original_would_and_leaves_it_as_it_was() -> None:
    policy: dict[str, Any] = {
        "require_stateful": ("s/g",),
        "suppressions": (Suppression("ok", "stateful-invocation-off"),),
        "max_findings": 3,
    }
    first = GROUPS[:2]
    second: list[tuple[list[PendingConfig], dict[str, Any], int]] = [
        (
            [(1, "1", queue("q", region="cn-beijing")), (2, "prod", queue("x", account="999"))],
            fn("u", "f", configs=2),
            3,
        ),
        ([], fn("t", "h", status="error", error={"code": "ServerError"}), 4),
        ([(5, "LATEST", {})], fn("v", "f", configs=2), 6),  # a count mismatch: a problem
    ]
    whole = fold(**policy)
    whole.run({"type": "run", "phase": "start"}, 0)
    feed(whole, first)
    feed(whole, [([(line + 10, q, cfg) for line, q, cfg in c], r, n + 10) for c, r, n in second])
    whole.run({"type": "run", "phase": "end", "complete": True}, 20)
    head = fold(**policy)
    head.run({"type": "run", "phase": "start"}, 0)
    feed(head, first)
    merged = head.copy()
    feed(merged, [([(line + 10, q, cfg) for line, q, cfg in c], r, n + 10) for c, r, n in second])
    merged.run({"type": "run", "phase": "end", "complete": True}, 20)
    for name in (
        "rows",
        "accounts",
        "regions",
        "error_codes",
        "dests",
        "dest_kinds",
        "dests_pruned",
        "suppressed",
        "expired_hits",
        "problems",
        "problems_by_kind",
        "records",
        "runs",
    ):
        assert getattr(merged, name) == getattr(whole, name), name

    def listed(f: AuditFold) -> list[tuple[Any, ...]]:  # what the report lists: the cap most severe
        return [target(x) for severity in (3, 2, 1, 0) for x in f.listed(severity)][: f.cap]

    assert listed(merged) == listed(whole)
    assert len(listed(whole)) == 3
    assert merged.runs == [[{}, {"complete": True}, 0, 20]]
    assert head.runs == [[{}, None, 0, None]]  # folding into a copy leaves the original as it was
    assert list(merged.errors) == [(A, R, "t", "h")]
    assert head.errors == {}
    assert sum(map(sum, head.rows.values())) < sum(map(sum, merged.rows.values()))
