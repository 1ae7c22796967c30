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
from crawler.audit.report_model import FINDINGS, RULE, RULE_ORDER, STATEFUL_DEFAULTED, SUPPRESSED
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
    ("no-failure-destination-unverified", A, R, "s", "g", None, 4),
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
    assert dict(found[1].evidence) == {
        "maxAsyncRetryAttempts": 3,
        "onSuccess": None,
        "defaults": True,
        "exposure": "unknown",
    }
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
    # every part of the target pinned, so a part passed wrongly does not match
    active = Suppression("ok", "no-failure-destination", A, R, "s", "f", "prod")
    expired = Suppression("was ok", "pair-error", A, R, "t", "*", expires=date(2024, 1, 1), index=2)
    found: list[Finding] = []
    f = fold(found, suppressions=(active,), expired=(expired,))
    feed(f, GROUPS)
    f.settle()
    assert f.suppressed == {"no-failure-destination": 1}
    assert f.rows[(A, R, "s")][SUPPRESSED] == 1  # the row's suppressed column
    assert f.expired_hits == {2: 2}
    assert [target(x) for x in found] == [
        ("no-failure-destination-unverified", A, R, "s", "g", None, 4),  # the suppression names prod only
        ("pair-error", A, R, "t", "h", None, 5),
        ("pair-error", A, R, "t", "i", None, 6),
    ]
    assert dict(found[1].evidence)["expiredSuppression"] == {
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


# ---- the last record wins, and merging stays exact ---------------------------------------------------

Event = tuple[str, Any, Any, int]  # ("group", configs, fn record, line) or ("run", run record, None, line)


def play(f: AuditFold, events: Sequence[Event], offset: int = 0) -> AuditFold:
    for kind, a, b, line in events:
        if kind == "run":
            f.run(a, line + offset)
        else:
            f.group([(n + offset, q, c) for n, q, c in a], b, line + offset)
    return f


def listed(f: AuditFold) -> list[list[tuple[Any, ...]]]:
    return [[target(x) for x in f.listed(severity)] for severity in range(4)]


def start_run(line: int, **data: Any) -> Event:
    return ("run", {"type": "run", "phase": "start", **data}, None, line)


def end_run(line: int, complete: bool = True) -> Event:
    return ("run", {"type": "run", "phase": "end", "complete": complete}, None, line)


def error(service: str, function: str, line: int, code: str = "ServerError", account: str = A) -> Event:
    return (
        "group",
        [],
        {**fn(service, function, status="error", error={"code": code}), "account": account},
        line,
    )


def ok(
    service: str, function: str, line: int, config: dict[str, Any], account: str = A, region: str = R
) -> Event:
    record = {**fn(service, function, configs=1), "account": account, "region": region}
    return ("group", [(line - 1, "LATEST", config)], record, line)


def test_a_later_record_of_a_function_takes_back_everything_its_error_added() -> None:
    policy: dict[str, Any] = {
        "suppressions": (Suppression("ok", "pair-error", A, R, "s", "sup"),),
        "expired": (
            Suppression("was ok", "pair-error", A, R, "s", "exp", expires=date(2024, 1, 1), index=4),
        ),
    }
    errors = [error("s", "f", 2), error("s", "f2", 3), error("s", "sup", 4), error("s", "exp", 5)]
    answers = [ok("s", name, 10 + i, queue("q")) for i, name in enumerate(("f", "sup", "exp"))]
    replaced = play(fold(**policy), [start_run(1), *errors, *answers])
    # as if only f2's error (never answered again) and the answers had been folded
    expected = play(fold(**policy), [start_run(1), errors[1], *answers])
    assert replaced.error_codes == expected.error_codes == {"ServerError": 1}
    assert replaced.suppressed == expected.suppressed == {}
    assert replaced.expired_hits == expected.expired_hits == {}
    assert replaced.rows == expected.rows
    assert listed(replaced) == listed(expected)
    assert list(replaced.errors) == [(A, R, "s", "f2")]


def test_a_start_record_makes_the_errors_before_it_final() -> None:
    found: list[Finding] = []
    f = play(fold(found), [start_run(1), error("s", "f", 2), start_run(3), ok("s", "f", 5, queue("q"))])
    assert f.errors == {}
    assert [target(x) for x in f.final_errors[2]] == [("pair-error", A, R, "s", "f", None, 2)]
    assert [target(x) for x in found] == [("pair-error", A, R, "s", "f", None, 2)]  # sent at the start
    assert f.error_codes == {"ServerError": 1}
    f.settle()
    assert len(found) == 1  # sent once


def test_error_codes_drop_to_nothing_one_replacement_at_a_time() -> None:
    f = play(fold(), [start_run(1), error("s", "f", 2), error("s", "g", 3)])
    assert f.error_codes == {"ServerError": 2}
    play(f, [ok("s", "f", 5, queue("q"))])
    assert f.error_codes == {"ServerError": 1}
    play(f, [ok("s", "g", 7, queue("q"))])
    assert f.error_codes == {}


# ---- edges the mutation run found unpinned ----------------------------------------------------------


def test_errors_made_final_by_a_start_record_are_listed_in_line_order_and_sent_once() -> None:
    found: list[Finding] = []
    f = play(fold(found), [start_run(1), error("s", "b", 3), error("s", "a", 2)])
    f.settle()  # sent now, while they could still be replaced
    assert [x.line for x in found] == [2, 3]
    play(f, [start_run(5), error("s", "c", 7)])  # final now: listed, not sent again
    assert [x.line for x in found] == [2, 3]
    assert [x.line for x in f.final_errors[2]] == [2, 3]
    assert [x.line for x in f.listed(2)] == [2, 3, 7]  # the final ones and the pending one


def test_an_error_record_with_configs_is_final_at_once() -> None:
    f = fold()
    f.group([(1, "LATEST", queue("q"))], fn("s", "f", status="error", configs=1, error={"code": "X"}), 2)
    assert f.errors == {}
    assert [target(x) for x in f.final_errors[2]] == [("pair-error", A, R, "s", "f", None, 2)]


def test_a_finding_is_listed_even_when_retries_are_zero() -> None:
    f = fold()
    f.group([(1, "LATEST", {"maxAsyncRetryAttempts": 0})], fn("s", "f", configs=1), 2)
    assert [target(x) for x in f.listed(3)] == [
        ("retries-disabled-no-failure-destination", A, R, "s", "f", "LATEST", 1)
    ]


def test_orphans_add_up() -> None:
    f = fold()
    f.orphans([(1, "LATEST", {})], (A, R, "s", "a"), "x")
    f.orphans([(2, "LATEST", {}), (3, "LATEST", {})], (A, R, "s", "b"), "y")
    assert f.records["orphan-config"] == 3


def test_problems_are_trimmed_to_a_hundred_past_two_hundred() -> None:
    f = fold()
    for line in range(200):
        f.problem("p", "m", line)
    assert len(f.problems) == 200
    f.problem("p", "m", 200)
    assert [p.line for p in f.problems] == list(range(100))
    assert f.problems_by_kind == {"p": 201}


def test_at_most_a_thousand_runs_are_kept() -> None:
    f = fold()
    for line in range(1001):
        f.run({"type": "run", "phase": "start"}, line)
    assert len(f.runs) == 1000
    g = fold()
    for line in range(1001):
        g.run({"type": "run", "phase": "end"}, line)
    assert len(g.runs) == 1000
    assert g.records["run"] == 1001


def test_pruning_keeps_the_most_referenced_then_the_first_by_arn_whatever_the_order_seen() -> None:
    f = fold()
    f.group([(1, "LATEST", queue("zz-popular"))] * 2, fn("s", "f", configs=2), 3)
    configs: list[PendingConfig] = [(i, "LATEST", queue(f"q{i:05d}")) for i in reversed(range(20_000))]
    f.group(configs, fn("s", "g", configs=20_000), 20_001)
    assert f"acs:mns:{R}:{A}:/queues/zz-popular/messages" in f.dests
    assert f"acs:mns:{R}:{A}:/queues/q00000/messages" in f.dests
    assert f"acs:mns:{R}:{A}:/queues/q19999/messages" not in f.dests


def test_each_replacement_takes_back_one_count() -> None:
    f = play(fold(), [start_run(1), error("s", "a", 2), error("s", "b", 3), error("s", "c", 4)])
    row = f.rows[(A, R, "s")]
    assert (row[3], row[FINDINGS + 2], row[RULE + RULE_ORDER.index("pair-error")]) == (
        3,
        3,
        3,
    )  # errors, medium findings, pair-error
    play(f, [ok("s", "a", 6, queue("q"))])
    assert (row[3], row[FINDINGS + 2], row[RULE + RULE_ORDER.index("pair-error")]) == (2, 2, 2)


def test_a_copy_keeps_the_sink() -> None:
    found: list[Finding] = []
    f = fold(found)
    assert f.copy().on_finding is not None
    play(f.copy(), [error("s", "a", 2)]).settle()
    assert len(found) == 1


def test_an_error_beyond_the_service_cap_is_taken_back_from_the_shared_row() -> None:
    f = play(fold(max_services=1), [ok("s", "f", 2, queue("q")), error("t", "g", 3)])
    assert f.other is not None
    assert f.other[3] == 1
    play(f, [ok("t", "g", 5, queue("q"))])
    assert f.other[3] == 0


def test_config_findings_under_active_and_expired_suppressions_are_counted_apart() -> None:
    q = f"acs:mns:{R}:{A}:/queues/dlq/messages"
    active = Suppression("ok", "no-failure-destination", A, R, "s", "f", "L*")
    errors_ok = Suppression("ok", "pair-error", A, R, "s", "e*")
    expired = Suppression(
        "was ok", "no-failure-destination", A, R, "s", "f", "prod", expires=date(2024, 1, 1), index=3
    )
    found: list[Finding] = []
    f = fold(found, suppressions=(active, errors_ok), expired=(expired,))
    configs: list[PendingConfig] = [
        (1, "prod", {}),  # no failure destination: under the expired suppression, counted
        (2, "v2", {}),  # no failure destination: counted
        (3, "LATEST", {"maxAsyncEventAgeInSeconds": 60}),  # suppressed, then max-age-too-short counted
        (4, "L2", {"destinationConfig": {"onSuccess": {"destination": q}}}),  # suppressed
    ]
    f.group(configs, fn("s", "f", configs=4), 5)
    f.group([], fn("s", "e1", status="error", error={"code": "X"}), 6)
    f.group([], fn("s", "e2", status="error", error={"code": "X"}), 7)
    row = f.rows[(A, R, "s")]
    assert row[SUPPRESSED] == 4  # suppressed: two config findings and two error findings
    assert (row[RULE], row[RULE + RULE_ORDER.index("max-age-too-short")]) == (
        2,
        1,
    )  # no-failure-destination, max-age-too-short
    assert row[STATEFUL_DEFAULTED] == 4  # statefulInvocation left to its default in all four configs
    assert f.expired_hits == {3: 1}
    assert [target(x) for x in found] == [
        ("no-failure-destination", A, R, "s", "f", "prod", 1),
        ("no-failure-destination", A, R, "s", "f", "v2", 2),
        ("max-age-too-short", A, R, "s", "f", "LATEST", 3),
    ]
    assert dict(found[0].evidence)["expiredSuppression"]["index"] == 3
    assert "expiredSuppression" not in dict(found[1].evidence)
