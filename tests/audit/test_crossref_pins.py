"""Pins of ``crawler.audit.crossref`` found wanting by the mutation run of issue 18: exact findings,
their evidence and lines, the loop each cycle finding shows, which runs make a target complete, the
``unchecked`` count and the taking back of trigger qualifiers. Each test drives ``CrossRef`` the way
``AuditFold`` does (functions, configs, edges in input order) and states the behaviour it pins."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.audit.arns import Destination, parse_destination
from crawler.audit.crossref import (
    EXISTS,
    FLAGGED,
    LATEST_FAILURE,
    CrossHit,
    CrossRef,
    FnKey,
    Node,
    complete_targets,
)

ACC = "1986114430573743"
MASKED = "1986***743"
REG = "cn-hangzhou"
OTHER = "1111111111111111"


def fc3(
    name: str, qualifier: str | None = None, *, account: str | None = ACC, region: str = REG
) -> Destination:
    """An FC 3.0 destination as the rules parse it (``CrossRef`` keeps an edge's ARN and parses it
    again); without an account, not an ARN the parser accepts, built by hand for ``target`` alone."""
    tail = f":{qualifier}" if qualifier else ""
    arn = f"acs:fc:{region}:{account or ''}:functions/{name}{tail}"
    if account is None:
        return Destination(
            arn, "fc-function", region=region, account=None, form="fc3", function=name, qualifier=qualifier
        )
    d = parse_destination(arn)
    assert (d.kind, d.form, d.function) == ("fc-function", "fc3", name)
    return d


def fc2(service: str, name: str, qualifier: str | None = None, *, account: str | None = ACC) -> Destination:
    q = f".{qualifier}" if qualifier else ""
    d = parse_destination(f"acs:fc:{REG}:{account or ''}:services/{service}{q}/functions/{name}")
    assert (d.kind, d.form, d.service, d.function) == ("fc-function", "fc2", service, name)
    return d


def key(function: str, service: str = "", account: str = ACC) -> FnKey:
    return (account, REG, service, function)


def node(function: str, qualifier: str = "LATEST", service: str = "") -> Node:
    return (*key(function, service), qualifier)


def summary(hits: list[CrossHit]) -> list[tuple[str, Any, FnKey, str | None, int]]:
    return [(h.hit[0], h.hit[1], h.key, h.qualifier, h.line) for h in hits]


def run(
    targets: list[dict[str, Any]] | None = None, *, complete: object = True, **start: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"targets": targets or [{"account": ACC, "region": REG}], **start}, {"complete": complete}


# --- complete_targets --------------------------------------------------------------------------------


def test_complete_targets_skips_a_partial_run_and_keeps_reading_the_later_runs() -> None:
    other = [{"account": OTHER, "region": REG}]
    runs = [run(complete=False), run(other)]
    assert complete_targets(runs) == {(OTHER, REG)}


def test_complete_targets_a_targets_pairs_run_is_not_complete_but_a_later_full_run_is() -> None:
    other = [{"account": OTHER, "region": REG}]
    runs = [run(pairs=[[ACC, REG]]), run(other)]
    assert complete_targets(runs) == {(OTHER, REG)}


def test_complete_targets_one_shard_of_several_is_not_complete_one_of_one_is() -> None:
    other = [{"account": OTHER, "region": REG}]
    assert complete_targets([run(shard={"index": 0, "count": 2}), run(other)]) == {(OTHER, REG)}
    assert complete_targets([run(shard={"index": 0, "count": 1})]) == {(ACC, REG)}


@pytest.mark.parametrize("part", [{"include": ["svc"]}, {"exclude": ["svc"]}])
def test_complete_targets_a_filtered_run_is_not_complete_but_a_later_full_run_is(
    part: dict[str, Any],
) -> None:
    other = [{"account": OTHER, "region": REG}]
    runs = [run(selection={"services": part}), run(other)]
    assert complete_targets(runs) == {(OTHER, REG)}
    # an empty filter lists everything
    assert complete_targets([run(selection={"services": {"include": [], "exclude": []}})]) == {(ACC, REG)}


def test_complete_targets_a_target_needs_both_account_and_region_as_strings() -> None:
    targets: list[dict[str, Any]] = [
        {"account": ACC, "region": None},
        {"account": None, "region": REG},
        {"account": OTHER, "region": REG},
    ]
    assert complete_targets([run(targets)]) == {(OTHER, REG)}


# --- functions, triggers, configs ------------------------------------------------------------------


def test_a_gone_record_removes_the_function_an_error_record_keeps_it() -> None:
    cr = CrossRef()
    cr.add_function(key("f"), "ok", 1, None)
    assert cr.resolve(fc3("f"), ACC) == key("f")
    cr.add_function(key("f"), "error", 2, None)
    assert cr.resolve(fc3("f"), ACC) == key("f")
    assert cr.add_function(key("f"), "gone", 3, [{"qualifier": "prod"}]) == ()
    assert cr.resolve(fc3("f"), ACC) is None
    assert cr.trigger_qualifiers == {}


def test_add_function_records_trigger_qualifiers_other_than_latest_once() -> None:
    cr = CrossRef()
    triggers = [
        {"qualifier": "prod"},
        {"qualifier": "LATEST"},
        {"qualifier": ""},
        {"qualifier": 3},
        {"name": "no-qualifier"},
        "not a trigger",
        {"qualifier": "prod"},
        {"qualifier": "v2"},
    ]
    assert cr.add_function(key("f"), "ok", 7, triggers) == (node("f", "prod"), node("f", "v2"))
    assert cr.trigger_qualifiers == {node("f", "prod"): 7, node("f", "v2"): 7}
    # a later record naming the same qualifier was not the first: nothing to take back for it
    assert cr.add_function(key("f"), "ok", 9, [{"qualifier": "prod"}, {"qualifier": "v3"}]) == (
        node("f", "v3"),
    )
    assert cr.trigger_qualifiers[node("f", "prod")] == 7
    # triggers that are not a list (a hand-edited record) are ignored, not iterated
    for odd in ({"qualifier": "prod"}, 5, True, "prod"):
        assert cr.add_function(key("g"), "ok", 11, odd) == ()
    assert node("g", "prod") not in cr.trigger_qualifiers


def test_retract_triggers_takes_back_only_the_named_qualifiers_and_ignores_unknown_ones() -> None:
    cr = CrossRef()
    cr.add_function(key("f"), "ok", 1, None)
    cr.add_config(node("f"), fc3("sink"))
    added = cr.add_function(key("f"), "error", 2, [{"qualifier": "prod"}, {"qualifier": "v1"}])
    assert [h.qualifier for h in cr.hits(set(), dangling=False, cycle=False, gap=True)] == ["prod", "v1"]
    cr.retract_triggers([added[0], node("never-named", "x")])
    assert cr.trigger_qualifiers == {node("f", "v1"): 2}
    cr.retract_triggers(added)
    assert cr.hits(set(), dangling=False, cycle=False, gap=True) == []


def test_copy_is_a_deep_enough_snapshot_including_trigger_qualifiers() -> None:
    cr = CrossRef()
    cr.add_function(key("f"), "ok", 4, [{"qualifier": "prod"}])
    cr.add_config(node("f"), fc3("sink"))
    cr.add_edge(node("f"), "onFailure", fc3("g"), 4)
    snap = cr.copy()
    assert snap.trigger_qualifiers == {node("f", "prod"): 4}
    assert (snap.functions, snap.latest_failure, snap.edges) == (cr.functions, cr.latest_failure, cr.edges)
    cr.retract_triggers([node("f", "prod")])
    assert snap.trigger_qualifiers == {node("f", "prod"): 4}


def test_qualifier_gap_needs_a_latest_failure_destination_and_no_config_of_its_own() -> None:
    cr = CrossRef()
    for name in ("a", "b", "c"):
        cr.add_function(key(name), "ok", 1, [{"qualifier": "prod"}])
    cr.add_config(node("a"), fc3("sink"))  # LATEST with a failure destination
    cr.add_config(node("b"), None)  # LATEST without one: prod runs like LATEST anyway
    cr.add_config(node("c"), fc3("sink"))
    cr.add_config(node("c", "prod"), None)  # prod has its own config
    hits = cr.hits(set(), dangling=False, cycle=False, gap=True)
    assert summary(hits) == [("qualifier-gap", ("prod", "a trigger"), key("a"), "prod", 1)]


def test_qualifier_gap_skips_a_configured_qualifier_and_still_reports_the_next() -> None:
    cr = CrossRef()
    cr.add_function(key("a"), "ok", 3, [{"qualifier": "prod"}])
    cr.add_function(key("b"), "ok", 5, [{"qualifier": "prod"}])
    for name in ("a", "b"):
        cr.add_config(node(name), fc3("sink"))
    cr.add_config(node("a", "prod"), None)
    hits = cr.hits(set(), dangling=False, cycle=False, gap=True)
    assert summary(hits) == [("qualifier-gap", ("prod", "a trigger"), key("b"), "prod", 5)]


def test_qualifier_gap_skips_a_function_gone_since_and_still_reports_the_next() -> None:
    cr = CrossRef()
    cr.add_function(key("a"), "ok", 3, [{"qualifier": "prod"}])
    cr.add_function(key("b"), "ok", 5, [{"qualifier": "prod"}])
    for name in ("a", "b"):
        cr.add_config(node(name), fc3("sink"))
    cr.add_function(key("a"), "gone", 8, None)
    hits = cr.hits(set(), dangling=False, cycle=False, gap=True)
    assert summary(hits) == [("qualifier-gap", ("prod", "a trigger"), key("b"), "prod", 5)]


def test_qualifier_gap_from_a_destination_names_the_source_and_wins_over_a_trigger() -> None:
    cr = CrossRef()
    cr.add_function(key("src", "svc"), "ok", 2, None)
    cr.add_function(key("f"), "ok", 6, [{"qualifier": "prod"}])
    cr.add_config(node("f"), fc3("sink"))
    cr.add_edge(node("src", "v1", "svc"), "onSuccess", fc3("f", "prod"), 2)
    hits = cr.hits(set(), dangling=False, cycle=False, gap=True)
    assert summary(hits) == [("qualifier-gap", ("prod", "a destination of svc/src:v1"), key("f"), "prod", 2)]


# --- dangling destinations and the unchecked count ---------------------------------------------------


def test_dangling_finding_carries_side_destination_name_and_the_source_line() -> None:
    cr = CrossRef()
    cr.add_function(key("src"), "ok", 1, None)
    gone2, gone3 = fc2("svc", "missing", "prod"), fc3("missing")
    cr.add_edge(node("src"), "onSuccess", gone2, 10)
    cr.add_edge(node("src", "v1"), "onFailure", gone3, 12)
    hits = cr.hits({(ACC, REG)}, dangling=True, cycle=False, gap=False)
    assert summary(hits) == [
        ("dangling-fc-destination", ("onSuccess", gone2, "svc/missing"), key("src"), "LATEST", 10),
        ("dangling-fc-destination", ("onFailure", gone3, "missing"), key("src"), "v1", 12),
    ]


def test_an_fc3_name_with_a_dollar_is_an_fc2_function_without_one_an_fc3_function() -> None:
    cr = CrossRef()
    assert cr.target(fc3("svc$fn"), ACC) == key("fn", "svc")
    assert cr.target(fc3("fn"), ACC) == key("fn")
    assert cr.target(fc2("svc", "fn"), ACC) == key("fn", "svc")


def test_a_destination_without_or_with_a_masked_uid_names_the_source_account() -> None:
    cr = CrossRef()
    assert cr.target(fc3("fn", account=None), ACC) == key("fn")
    assert cr.target(fc3("fn", account=MASKED), ACC) == key("fn")
    assert cr.target(fc3("fn", account=OTHER), ACC) == key("fn", account=OTHER)


def test_a_masked_destination_resolves_against_the_source_account() -> None:
    cr = CrossRef()
    cr.add_function(key("src"), "ok", 1, None)
    cr.add_function(key("dst"), "ok", 2, None)
    cr.add_edge(node("src"), "onFailure", fc3("dst", account=MASKED), 1)
    cr.add_edge(node("src"), "onSuccess", fc3("nope", account=MASKED), 1)
    assert cr.resolve(fc3("dst", account=MASKED), ACC) == key("dst")
    hits = cr.hits({(ACC, REG)}, dangling=True, cycle=False, gap=False)
    assert [(h.hit[1][0], h.hit[1][2]) for h in hits] == [("onSuccess", "nope")]
    assert cr.unchecked({(ACC, REG)}) == 0
    assert cr.unchecked(set()) == 1


def test_unchecked_counts_each_unresolved_destination_outside_complete_targets() -> None:
    cr = CrossRef()
    cr.add_function(key("src"), "ok", 1, None)
    cr.add_function(key("dst"), "ok", 2, None)
    cr.add_edge(node("src"), "onFailure", fc3("dst", account=MASKED), 1)  # resolved: checked
    cr.add_edge(node("src"), "onSuccess", fc3("x", account=MASKED), 1)  # ACC/REG complete: dangling
    cr.add_edge(node("src", "v1"), "onSuccess", fc3("y", account=OTHER), 1)  # OTHER not complete
    cr.add_edge(node("src", "v2"), "onFailure", fc3("z", account=OTHER), 1)
    assert cr.unchecked({(ACC, REG)}) == 2
    assert cr.unchecked({(ACC, REG), (OTHER, REG)}) == 0
    assert cr.unchecked(set()) == 3


# --- destination cycles ------------------------------------------------------------------------------


def _cycle_ref(edges: list[tuple[str, str, str, int]], functions: tuple[str, ...]) -> CrossRef:
    cr = CrossRef()
    for name in functions:
        cr.add_function(key(name), "ok", 1, None)
    for src, side, dst, line in edges:
        cr.add_edge(node(src), side, fc3(dst), line)
    return cr


def cycles(cr: CrossRef) -> list[tuple[FnKey, list[str], str, int]]:
    return [
        (h.key, h.hit[1][2], h.hit[1][0], h.line)
        for h in cr.hits(set(), dangling=False, cycle=True, gap=False)
    ]


def test_a_self_destination_is_no_step_of_a_longer_loop() -> None:
    cr = _cycle_ref(
        [("a", "onSuccess", "a", 10), ("a", "onFailure", "b", 11), ("b", "onFailure", "a", 20)], ("a", "b")
    )
    assert cycles(cr) == [
        (key("a"), ["/a:LATEST", "/b:LATEST", "/a:LATEST"], "onFailure", 11),
        (key("b"), ["/b:LATEST", "/a:LATEST", "/b:LATEST"], "onFailure", 20),
    ]


def test_each_cycle_finding_shows_the_shortest_loop_and_the_edge_leaving_its_node() -> None:
    edges = [
        ("a", "onSuccess", "b", 10),
        ("a", "onFailure", "c", 11),
        ("b", "onSuccess", "c", 20),
        ("c", "onFailure", "a", 30),
    ]
    assert cycles(_cycle_ref(edges, ("a", "b", "c"))) == [
        (key("a"), ["/a:LATEST", "/c:LATEST", "/a:LATEST"], "onFailure", 11),
        (key("b"), ["/b:LATEST", "/c:LATEST", "/a:LATEST", "/b:LATEST"], "onSuccess", 20),
        (key("c"), ["/c:LATEST", "/a:LATEST", "/c:LATEST"], "onFailure", 30),
    ]


def test_a_loop_reached_through_a_second_destination_is_found() -> None:
    # a's first destination leads to x, a node whose own destination goes nowhere; b is only its second
    edges = [("a", "onSuccess", "x", 10), ("a", "onFailure", "b", 11), ("b", "onFailure", "a", 20)]
    edges.append(("x", "onFailure", "missing", 40))
    assert [c[0] for c in cycles(_cycle_ref(edges, ("a", "b", "x")))] == [key("a"), key("b")]


def test_a_node_leading_into_a_finished_loop_does_not_join_it_and_its_own_loop_is_found() -> None:
    edges = [
        ("a", "onFailure", "b", 10),
        ("b", "onFailure", "a", 20),
        ("c", "onSuccess", "a", 30),
        ("c", "onFailure", "d", 31),
        ("d", "onFailure", "c", 40),
    ]
    assert cycles(_cycle_ref(edges, ("a", "b", "c", "d"))) == [
        (key("a"), ["/a:LATEST", "/b:LATEST", "/a:LATEST"], "onFailure", 10),
        (key("b"), ["/b:LATEST", "/a:LATEST", "/b:LATEST"], "onFailure", 20),
        (key("c"), ["/c:LATEST", "/d:LATEST", "/c:LATEST"], "onFailure", 31),
        (key("d"), ["/d:LATEST", "/c:LATEST", "/d:LATEST"], "onFailure", 40),
    ]


def test_a_loop_through_masked_uids_resolves_each_step_against_its_source_account() -> None:
    """Consoles mask the uid (``1986***743``); a loop written so is judged against the account of the
    function each edge leaves, not against nothing or another field of its key."""
    cr = CrossRef()
    for name in ("a", "b"):
        cr.add_function(key(name), "ok", 1, None)
    cr.add_edge(node("a"), "onFailure", fc3("b", account=MASKED), 5)
    cr.add_edge(node("b"), "onFailure", fc3("a", account=MASKED), 6)
    assert cycles(cr) == [
        (key("a"), ["/a:LATEST", "/b:LATEST", "/a:LATEST"], "onFailure", 5),
        (key("b"), ["/b:LATEST", "/a:LATEST", "/b:LATEST"], "onFailure", 6),
    ]


def test_edges_of_one_service_keep_one_service_row_and_a_copy_goes_on_adding() -> None:
    """The edge log names a service by its index: a second edge of a service reuses its row (the log's
    memory is per service, not per edge), and a snapshot can take new edges of a known service."""
    cr = CrossRef()
    cr.add_edge(node("a", service="s"), "onFailure", fc3("x"), 1)
    cr.add_edge(node("b", service="s"), "onSuccess", fc3("y"), 2)
    cr.add_edge(node("c", service="t"), "onFailure", fc3("z"), 3)
    assert cr.services == [(ACC, REG, "s"), (ACC, REG, "t")]
    snap = cr.copy()
    snap.add_edge(node("d", service="s"), "onFailure", fc3("w"), 4)
    assert snap.services == [(ACC, REG, "s"), (ACC, REG, "t")]
    assert [(e.source, e.line) for e in snap.edges][-1] == (node("d", service="s"), 4)
    assert len(cr.edges) == 3


def test_fold_function_sets_a_records_flags_and_returns_those_before() -> None:
    """One probe per function record: it exists (a ``gone`` record clears that and keeps the rest), its
    LATEST failure destination and its finding (the fold's FLAGGED) only when said, its version and
    alias configs' keys with them."""
    cr, h = CrossRef(), hash(key("f"))
    assert cr.fold_function(h, False, qualified=[hash(node("f", "prod"))]) == 0
    assert cr.fold_function(h, False, latest_failure=True, flagged=True) == EXISTS  # nothing else said
    assert cr.fold_function(h, True) == EXISTS | LATEST_FAILURE | FLAGGED
    assert cr.keys.update(h) == LATEST_FAILURE | FLAGGED
    assert cr.qualified == {hash(node("f", "prod"))}
    cr.add_function(key("g"), "ok", 1, None)  # a record alone: it exists, no more
    assert cr.keys.update(hash(key("g"))) == EXISTS
