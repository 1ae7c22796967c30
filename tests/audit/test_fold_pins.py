"""Pins on ``crawler.audit.fold`` that issue 18's mutation run showed unpinned: the cross-function
findings (which are sent, once each, and what folding them into a copy counts), the words of a
``discovery-failed`` problem, a function's timeout and exposure figures, the order an ``error``
record's finding takes among the final ones, and what a replaced ``error`` record takes back."""

from __future__ import annotations

from datetime import date
from typing import Any

from crawler.audit.fold import AuditFold, orjson_key, timeout_of
from crawler.audit.policy import AuditPolicy, Suppression
from crawler.audit.report_model import CROSS_ACCOUNT, EXPOSURE, FINDINGS, RULE, RULE_ORDER, SUPPRESSED
from crawler.audit.rules import Finding, RuleEngine

A, R = "1234567890123456", "cn-hangzhou"
TODAY = date(2024, 5, 1)
FC3 = f"acs:fc:{R}:{A}:functions"
QUEUE = {"destinationConfig": {"onFailure": {"destination": f"acs:mns:{R}:{A}:/queues/q/messages"}}}


def fc2(function: str, qualifier: str = "LATEST", side: str = "onFailure") -> dict[str, Any]:
    arn = f"acs:fc:{R}:{A}:services/loops.{qualifier}/functions/{function}"
    return {"destinationConfig": {side: {"destination": arn}}}


def fn(function: str, status: str = "ok", configs: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "account": A,
        "region": R,
        "service": "loops",
        "function": function,
        "status": status,
        "configs": configs,
        **extra,
    }


def fold(found: list[Finding] | None = None, **policy: Any) -> AuditFold:
    return AuditFold(
        RuleEngine(AuditPolicy(today=TODAY, **policy)), found.append if found is not None else None
    )


START = {"type": "run", "phase": "start", "version": "t", "targets": [{"account": A, "region": R}]}
END = {"type": "run", "phase": "end", "complete": True}


def crawl(f: AuditFold) -> None:
    """One complete crawl of (A, R): a loop a→b→a, a dangling destination (x→gone), a destination to an
    alias with no config (e→a:prod, a's LATEST has a failure destination), and the cases that must NOT
    give a finding: a self-loop (s→s), an alias with its own config (e→p:prod), an alias of a function
    whose LATEST has no failure destination (e→n:prod)."""
    f.run(START, 1)
    f.group([(2, "LATEST", {**fc2("b"), "maxAsyncRetryAttempts": 0})], fn("a"), 3)
    b = {"destinationConfig": {"onSuccess": {"destination": f"{FC3}/loops$a"}}, "maxAsyncRetryAttempts": 0}
    f.group([(4, "LATEST", b)], fn("b"), 5)
    f.group([(6, "LATEST", fc2("gone"))], fn("x"), 7)
    f.group([(8, "LATEST", fc2("a", "prod"))], fn("e"), 9)
    f.group([(10, "LATEST", fc2("s"))], fn("s"), 11)
    f.group([(12, "LATEST", QUEUE), (13, "prod", QUEUE)], fn("p", configs=2), 14)
    f.group([(15, "LATEST", {})], fn("n"), 16)
    f.group([(17, "LATEST", fc2("p", "prod")), (18, "prod", fc2("n", "prod"))], fn("e2", configs=2), 19)
    f.run(END, 20)


def shape(f: Finding) -> tuple[Any, ...]:
    assert (f.account, f.region, f.service) == (A, R, "loops")
    return (f.rule_id, f.function, f.qualifier, f.line, f.severity)


CYCLE_A = (
    "destination-cycle",
    "a",
    "LATEST",
    2,
    3,
    {
        "side": "onFailure",
        "destination": f"acs:fc:{R}:{A}:services/loops.LATEST/functions/b",
        "kind": "fc-function",
        "cycle": ["loops/a:LATEST", "loops/b:LATEST", "loops/a:LATEST"],
    },
)
CYCLE_B = (
    "destination-cycle",
    "b",
    "LATEST",
    4,
    3,
    {
        "side": "onSuccess",
        "destination": f"{FC3}/loops$a",
        "kind": "fc-function",
        "cycle": ["loops/b:LATEST", "loops/a:LATEST", "loops/b:LATEST"],
    },
)
DANGLING_X = (
    "dangling-fc-destination",
    "x",
    "LATEST",
    6,
    3,
    {
        "side": "onFailure",
        "destination": f"acs:fc:{R}:{A}:services/loops.LATEST/functions/gone",
        "kind": "fc-function",
        "target": "loops/gone",
    },
)
GAP_A = (
    "qualifier-gap",
    "a",
    "prod",
    8,
    2,
    {"qualifier": "prod", "seenIn": "a destination of loops/e:LATEST"},
)


def full(f: Finding) -> tuple[Any, ...]:
    return (*shape(f), dict(f.evidence))


def test_settle_sends_each_cross_function_finding_once_and_only_for_the_enabled_rules() -> None:
    found: list[Finding] = []
    f = fold(found)
    crawl(f)
    per_config = [shape(x) for x in found]
    assert per_config == [
        ("retries-disabled-no-failure-destination", "b", "LATEST", 4, 3),
        ("self-destination", "s", "LATEST", 10, 3),
        ("no-failure-destination", "n", "LATEST", 15, 2),
    ]
    found.clear()
    f.settle()
    # the self-loop s→s, the alias p:prod with its own config and n:prod (n's LATEST has no failure
    # destination) give none
    assert [full(x) for x in found] == [DANGLING_X, CYCLE_A, CYCLE_B, GAP_A]
    found.clear()
    f.settle()  # already sent: nothing again
    assert found == []
    twin = f.copy()  # what was sent is copied: the twin does not send it again either
    twin.settle()
    assert found == []
    for rule in ("dangling-fc-destination", "destination-cycle", "qualifier-gap"):
        only = fold(found, enabled=frozenset(RULE_ORDER) - {rule})
        crawl(only)
        found.clear()
        only.settle()
        assert sorted({x.rule_id for x in found}) == sorted(
            {"dangling-fc-destination", "destination-cycle", "qualifier-gap"} - {rule}
        )


def test_settle_without_a_sink_sends_nothing_and_counts_nothing() -> None:
    f = fold()
    crawl(f)
    rows = {k: list(v) for k, v in f.rows.items()}
    f.settle()
    assert f.rows == rows
    assert f.cross_sent == set()


def test_sending_cross_findings_leaves_the_rows_and_flagged_as_they_were() -> None:
    found: list[Finding] = []
    f = fold(found)
    crawl(f)
    rows, flagged = {k: list(v) for k, v in f.rows.items()}, set(f.flagged)
    f.settle()
    assert f.rows == rows
    assert f.flagged == flagged
    assert f.suppressed == {}


def test_two_cross_findings_differing_only_in_evidence_are_both_sent() -> None:
    found: list[Finding] = []
    f = fold(found)
    f.run(START, 1)
    both = {
        "destinationConfig": {
            "onSuccess": {"destination": f"acs:fc:{R}:{A}:services/loops.LATEST/functions/ghost1"},
            "onFailure": {"destination": f"acs:fc:{R}:{A}:services/loops.LATEST/functions/ghost2"},
        }
    }
    f.group([(2, "LATEST", both)], fn("y"), 3)
    f.run(END, 4)
    found.clear()
    f.settle()
    assert [(x.rule_id, dict(x.evidence)["target"]) for x in found] == [
        ("dangling-fc-destination", "loops/ghost1"),
        ("dangling-fc-destination", "loops/ghost2"),
    ]


def test_cross_findings_counted_into_a_copy_fill_rows_suppressions_expiries_and_listing() -> None:
    found: list[Finding] = []
    active = Suppression("ok", "dangling-fc-destination", A, R, "loops", "x", "LATEST")
    per_config = Suppression("ok", "self-destination", A, R, "loops", "s", "LATEST")  # the row's first
    expired = Suppression("was", "qualifier-gap", A, R, "loops", "*", expires=date(2024, 1, 1), index=3)
    f = fold(found, suppressions=(active, per_config), expired=(expired,))
    crawl(f)
    found.clear()
    f.settle()
    gap = (
        *GAP_A[:5],
        {**GAP_A[5], "expiredSuppression": {"index": 3, "reason": "was", "expired": "2024-01-01"}},
    )
    assert [full(x) for x in found] == [CYCLE_A, CYCLE_B, gap]  # x's dangling one is suppressed
    assert f.suppressed == {"self-destination": 1}
    assert f.rows[(A, R, "loops")][SUPPRESSED] == 1
    assert f.expired_hits == {}
    row_before = list(f.rows[(A, R, "loops")])
    flagged_before = set(f.flagged)
    twin = f.copy()
    out = twin.cross_findings(count=True)
    assert [full(x) for x in out] == [CYCLE_A, CYCLE_B, gap]
    row = twin.rows[(A, R, "loops")]
    col = {rule: RULE + i for i, rule in enumerate(RULE_ORDER)}
    assert row[SUPPRESSED] - row_before[SUPPRESSED] == 1
    assert twin.suppressed == {"self-destination": 1, "dangling-fc-destination": 1}
    assert twin.expired_hits == {3: 1}
    assert row[col["destination-cycle"]] - row_before[col["destination-cycle"]] == 2
    assert row[col["qualifier-gap"]] - row_before[col["qualifier-gap"]] == 1
    assert row[col["dangling-fc-destination"]] == row_before[col["dangling-fc-destination"]] == 0
    assert [row[FINDINGS + s] - row_before[FINDINGS + s] for s in range(4)] == [0, 0, 1, 2]
    key = (A, R, "loops")
    assert twin.flagged == flagged_before | {hash((*key, "a")), hash((*key, "b"))}
    assert hash((*key, "a")) not in flagged_before
    assert hash((*key, "x")) not in twin.flagged  # suppressed: not a function with a finding
    assert [[(x.rule_id, x.line) for x in kept] for kept in twin.retained] == [
        [],
        [],
        [("no-failure-destination", 15), ("qualifier-gap", 8)],
        [
            ("retries-disabled-no-failure-destination", 4),  # s's self-destination is suppressed
            ("destination-cycle", 2),
            ("destination-cycle", 4),
        ],
    ]
    # the original is as it was
    assert f.rows[key] == row_before
    assert f.flagged == flagged_before
    assert f.suppressed == {"self-destination": 1}
    assert f.expired_hits == {}
    assert [x.rule_id for x in f.cross_findings(count=False)] == [
        "destination-cycle",
        "destination-cycle",
        "qualifier-gap",
    ]
    assert f.rows[key] == row_before


def test_cross_findings_past_the_listing_cap_are_counted_not_listed() -> None:
    f = fold(max_findings=2)
    crawl(f)
    twin = f.copy()
    twin.cross_findings(count=True)
    assert [[(x.rule_id, x.line) for x in kept] for kept in twin.retained] == [
        [],
        [],
        [],
        [("retries-disabled-no-failure-destination", 4), ("self-destination", 10)],
    ]
    assert twin.closed == [False, False, True, True]
    assert sum(twin.rows[(A, R, "loops")][FINDINGS + s] for s in range(4)) == 7  # 3 per config, 4 across


def test_a_trigger_on_an_alias_without_a_config_is_a_gap_at_the_function_line_and_gone_is_dangling() -> None:
    found: list[Finding] = []
    f = fold(found)
    f.run(START, 1)
    trigger = {"name": "t", "type": "oss", "mode": "async", "qualifier": "prod"}
    f.group([(2, "LATEST", QUEUE)], fn("t", exposure="async", triggers=[trigger]), 3)
    f.group([], fn("g", status="gone", configs=0), 4)
    f.group([(5, "LATEST", fc2("g"))], fn("h"), 6)
    f.run(END, 7)
    found.clear()
    f.settle()
    assert [(x.rule_id, x.function, x.qualifier, x.line, dict(x.evidence).get("seenIn")) for x in found] == [
        ("dangling-fc-destination", "h", "LATEST", 5, None),
        ("qualifier-gap", "t", "prod", 3, "a trigger"),
    ]


def test_discovery_errors_of_an_end_record_become_problems_that_name_target_listing_and_cause() -> None:
    f = fold()
    f.run({"type": "run", "phase": "start"}, 1)
    errors: list[object] = [
        {"account": A, "region": R, "service": "svc", "error": {"code": "Throttled", "message": "slow down"}},
        {"account": A, "region": R, "error": {"code": "AccessDenied", "message": "no"}},
        "junk",
        {"account": 7, "region": None, "service": ["x"], "error": "bad"},
        {"account": A, "region": R, "service": "", "error": {"code": 5, "message": {"k": 1}}},
    ]
    f.run({"type": "run", "phase": "end", "complete": False, "discoveryErrors": errors}, 9)
    whole = f"account {A} region {R}: "
    assert [(p.kind, p.message, p.line) for p in f.problems] == [
        ("run-incomplete", "the crawl that wrote this input ended incomplete", 9),
        ("discovery-failed", whole + "ListFunctions of service svc failed: Throttled: slow down", 9),
        ("discovery-failed", whole + "ListServices (the whole target) failed: AccessDenied: no", 9),
        ("discovery-failed", "a listing failed (its entry in the end record is not an object)", 9),
        ("discovery-failed", "account 7 region None: ListFunctions of service ['x'] failed: None: None", 9),
        ("discovery-failed", whole + "ListServices (the whole target) failed: 5: {'k': 1}", 9),
    ]
    assert f.problems_by_kind == {"run-incomplete": 1, "discovery-failed": 5}


def test_problems_past_twice_the_capacity_keep_the_earliest_lines_in_line_order() -> None:
    f = fold()
    for line in range(300, 99, -1):  # 201 problems in falling line order: trimmed at the 201st
        f.problem("p", f"at {line}", line)
    assert [p.line for p in f.problems] == list(range(100, 200))
    assert f.problems[0].message == "at 100"
    assert f.problems_by_kind == {"p": 201}


def test_a_function_timeout_counts_when_a_positive_number() -> None:
    assert timeout_of({"timeout": 1}) == 1.0
    assert timeout_of({"timeout": 0.5}) == 0.5
    assert timeout_of({"timeout": 0}) is None
    assert timeout_of({"timeout": -3}) is None
    assert timeout_of({"timeout": True}) is None
    assert timeout_of({"timeout": "60"}) is None
    assert timeout_of({}) is None


def test_evidence_key_is_sorted_json_with_unknown_values_as_text() -> None:
    assert orjson_key({"b": 1, "a": {3}}) == '{"a":"{3}","b":1}'  # a set: not JSON, so str()


def test_exposure_and_functions_without_trigger_data_are_counted_per_status() -> None:
    f = fold()
    oss = {"name": "o", "type": "oss", "mode": "async"}
    timer = {"name": "n", "type": "timer", "mode": "async"}
    http = {"name": "w", "type": "http", "mode": "sync"}
    assert f.untriggered == 0
    f.group([], fn("a", status="none", configs=0, exposure="async", triggers=[oss]), 1)
    f.group([], fn("t", status="none", configs=0, exposure="async", triggers=[timer]), 2)
    f.group([(3, "LATEST", QUEUE)], fn("s", exposure="sync", triggers=[http]), 4)
    f.group([(5, "LATEST", QUEUE)], fn("u"), 6)  # no trigger data
    f.group([], fn("v", status="none", configs=0), 7)  # no trigger data
    f.group([], fn("e", status="error", configs=0), 8)  # not counted in either
    f.group([], fn("g", status="gone", configs=0), 9)
    row = f.rows[(A, R, "loops")]
    assert row[EXPOSURE : EXPOSURE + 4] == [1, 1, 1, 2]
    assert f.untriggered == 2


def test_a_masked_uid_of_the_same_account_is_not_cross_account() -> None:
    f = fold()
    masked = {
        "destinationConfig": {"onFailure": {"destination": f"acs:mns:{R}:1234***3456:/queues/q/messages"}}
    }
    other = {
        "destinationConfig": {
            "onFailure": {"destination": f"acs:mns:{R}:9999999999999999:/queues/q/messages"}
        }
    }
    f.group([(1, "LATEST", masked)], fn("m"), 2)
    assert f.rows[(A, R, "loops")][CROSS_ACCOUNT] == 0
    f.group([(3, "LATEST", other)], fn("o"), 4)
    assert f.rows[(A, R, "loops")][CROSS_ACCOUNT] == 1


def error_fn(function: str, configs: int = 0) -> dict[str, Any]:
    return fn(function, status="error", configs=configs, error={"code": "ServerError"})


def test_a_late_final_error_finding_takes_its_line_place_among_the_kept_ones() -> None:
    """Error records with configs are final at once; one without waits for the next start record, so
    it can arrive after later lines: it is inserted by line and the last one falls off the cap."""
    f = fold(max_findings=3)
    f.run(START, 1)
    f.group([(9, "LATEST", QUEUE)], error_fn("p", 1), 10)
    f.group([(11, "LATEST", QUEUE)], error_fn("q", 1), 12)
    f.group([], error_fn("r"), 13)  # pending: a later record of r could replace it
    f.group([(14, "LATEST", QUEUE)], error_fn("s", 1), 15)
    assert [x.line for x in f.final_errors[2]] == [10, 12, 15]
    f.run(START, 16)  # r's record is final now
    assert [x.line for x in f.final_errors[2]] == [10, 12, 13]


def test_a_replaced_error_record_takes_its_function_out_of_flagged() -> None:
    f = fold()
    f.run(START, 1)
    f.group([], error_fn("r"), 2)
    assert f.flagged == {hash((A, R, "loops", "r"))}
    f.group([(3, "LATEST", QUEUE)], fn("r"), 4)  # a resumed crawl's real answer, without a finding
    assert f.flagged == set()


def test_a_listed_or_sent_finding_carries_its_configs_current_settings_on_both_paths() -> None:
    config: dict[str, Any] = {"maxAsyncRetryAttempts": 2, "maxAsyncEventAgeInSeconds": 600}
    expected = {
        "maxAsyncRetryAttempts": 2,
        "maxAsyncEventAgeInSeconds": 600,
        "statefulInvocation": False,
        "destinationConfig": {},
    }
    fast = fold()  # no sink, no suppressions
    fast.group([(1, "LATEST", config)], fn("c"), 2)
    found: list[Finding] = []
    slow = fold(found)
    slow.group([(1, "LATEST", config)], fn("c"), 2)
    for finding in (fast.retained[2][0], slow.retained[2][0], found[0]):
        assert finding.rule_id == "no-failure-destination"
        assert finding.current == expected


DEFAULTS = {
    "maxAsyncRetryAttempts": 3,
    "maxAsyncEventAgeInSeconds": 86400,
    "statefulInvocation": False,
    "destinationConfig": {},
}


def test_a_function_on_defaults_is_judged_with_its_timeout_and_its_findings_carry_the_defaults() -> None:
    found: list[Finding] = []
    f = fold(found)
    oss = {"name": "o", "type": "oss", "mode": "async"}
    f.group([], fn("d", status="none", configs=0, timeout=30000, exposure="async", triggers=[oss]), 3)
    assert [(x.rule_id, x.qualifier, x.line, x.current) for x in found] == [
        ("no-failure-destination", None, 3, DEFAULTS),
        ("max-age-too-short", None, 3, DEFAULTS),
    ]
    assert dict(found[1].evidence)["requiredSeconds"] == 120003.5
    fast = fold()
    fast.group([], fn("d", status="none", configs=0), 3)
    assert [(x.rule_id, x.current) for x in fast.retained[1]] == [
        ("no-failure-destination-unverified", DEFAULTS)
    ]


def test_a_function_whose_only_finding_is_low_is_flagged() -> None:
    f = fold()
    f.group([], fn("d", status="none", configs=0), 3)  # no trigger data: listed at low
    assert f.flagged == {hash((A, R, "loops", "d"))}


def test_flagged_compares_findings_not_other_columns_before_and_after() -> None:
    f = fold()
    for i, name in enumerate(("u", "v", "w")):  # no findings, exposure unknown: other columns grow
        f.group([(2 * i + 1, "LATEST", QUEUE)], fn(name), 2 * i + 2)
    assert f.flagged == set()
    f.group([(7, "LATEST", {})], fn("c"), 8)  # one medium finding
    assert f.flagged == {hash((A, R, "loops", "c"))}


def test_a_destination_to_an_alias_of_the_function_itself_is_no_edge() -> None:
    """s2's LATEST names s2:prod: a self-loop (no edge), so no gap for s2:prod either."""
    found: list[Finding] = []
    f = fold(found)
    f.run(START, 1)
    f.group([(2, "LATEST", fc2("s2", "prod"))], fn("s2"), 3)
    f.run(END, 4)
    found.clear()
    f.settle()
    assert found == []


def test_a_replaced_error_record_takes_back_the_trigger_qualifiers_it_named() -> None:
    found: list[Finding] = []
    f = fold(found)
    f.run(START, 1)
    trigger = {"name": "t", "type": "oss", "mode": "async", "qualifier": "prod"}
    f.group([], fn("r", status="error", configs=0, error={"code": "X"}, triggers=[trigger]), 2)
    f.group([(3, "LATEST", QUEUE)], fn("r"), 4)  # the real answer: no trigger on r:prod after all
    f.run(END, 5)
    found.clear()
    f.settle()
    assert found == []  # no qualifier-gap "a trigger" for r:prod


def test_a_replaced_error_record_unflags_its_function_whatever_the_other_severities_hold() -> None:
    f = fold()
    f.run(START, 1)
    f.group([(2, "LATEST", fc2("h"))], fn("h"), 3)  # self-destination: high
    f.group([], fn("low", status="none", configs=0), 4)  # no trigger data: low
    f.group([], fn("low2", status="none", configs=0), 5)  # two lows, so no column stands for another
    f.group([], fn("r", status="error", configs=0, error={"code": "X"}), 6)  # pair-error: medium
    key = (A, R, "loops")
    kept = {hash((*key, "h")), hash((*key, "low")), hash((*key, "low2"))}
    assert f.flagged == kept | {hash((*key, "r"))}
    f.group([(7, "LATEST", QUEUE)], fn("r"), 8)
    assert f.flagged == kept


def test_a_discovery_error_quotes_a_deeply_nested_value_by_its_depth() -> None:
    f = fold()
    service: object = 1
    for _ in range(40):
        service = [service]
    error = {"account": A, "region": R, "service": service, "error": {"code": "C", "message": "m"}}
    f.run({"type": "run", "phase": "end", "discoveryErrors": [error]}, 3)
    assert [p.message for p in f.problems] == [
        f"account {A} region {R}: ListFunctions of service "
        "'(a JSON array nested 40 levels deep)' failed: C: m"
    ]


def test_functions_with_findings_counts_each_function_once_across_config_and_cross_findings() -> None:
    """``flagged_count`` is the report's "functions with findings": a function flagged by its own
    config and again by a loop counts once; one flagged only by a loop counts when the cross findings
    are folded in; none of it moves the original."""
    f = fold()
    f.run(START, 1)
    f.group([(2, "LATEST", fc2("b"))], fn("a"), 3)  # a→b→a: a loop, no finding of a's own config
    f.group([(4, "LATEST", fc2("a"))], fn("b"), 5)
    f.group([(6, "LATEST", {**fc2("d"), "maxAsyncRetryAttempts": 0})], fn("c"), 7)  # c→d→c, and ...
    f.group([(8, "LATEST", fc2("c"))], fn("d"), 9)
    f.group([(10, "LATEST", {})], fn("m"), 11)  # ... m: its own finding only
    f.run(END, 12)
    before = f.flagged_count
    assert before == len(f.flagged)
    twin = f.copy()
    twin.cross_findings(count=True)
    key = (A, R, "loops")
    assert twin.flagged == {hash((*key, n)) for n in ("a", "b", "c", "d", "m")}
    assert twin.flagged_count - before == len(twin.flagged - f.flagged)
    assert (before, twin.flagged_count) == (len(f.flagged), 5)
    assert f.flagged_count == before


def test_a_replaced_error_record_takes_one_off_functions_with_findings() -> None:
    f = fold()
    f.run(START, 1)
    for i, name in enumerate(("p", "q", "s")):
        f.group([(2 * i + 2, "LATEST", {})], fn(name), 2 * i + 3)  # no failure destination: flagged
    f.group([], error_fn("r"), 9)  # pair-error: flagged
    assert f.flagged_count == 4
    f.group([(10, "LATEST", QUEUE)], fn("r"), 11)  # the real answer, without a finding
    assert f.flagged_count == 3
    assert len(f.flagged) == 3


def test_a_function_that_is_gone_since_is_no_longer_there_for_the_rules_across_functions() -> None:
    """The last record wins: a function first seen and then ``gone`` does not exist, so a trigger on its
    alias is no gap; and a ``gone`` record's triggers name nothing, even when the function comes back."""
    found: list[Finding] = []
    f = fold(found)
    f.run(START, 1)
    trigger = {"name": "t", "type": "oss", "mode": "async", "qualifier": "prod"}
    f.group([(2, "LATEST", QUEUE)], fn("g", exposure="async", triggers=[trigger]), 3)
    f.group([], fn("g", status="gone", configs=0), 4)
    f.group([(5, "LATEST", QUEUE)], fn("k"), 6)
    f.group([], fn("k", status="gone", configs=0, triggers=[trigger]), 7)
    f.group([(8, "LATEST", QUEUE)], fn("k"), 9)  # k is back, without a trigger on k:prod
    f.run(END, 10)
    found.clear()
    f.settle()
    assert found == []
