"""Golden tests of the cross-function rules: a seeded emulator account (plus a service of loops, a
dangling destination and an alias invoked without a config) crawled for real, its findings against the
ones worked out here from the emulator's truth with plain code that shares nothing with
``crawler.audit.crossref`` (its own ARN patterns, a naive reachability search instead of Tarjan)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.backend import Backend
from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import clean_env, read_ndjson, run_cli, target_args, use_emulator_keys

FC2 = re.compile(r"acs:fc:([^:]+):([^:]+):services/([^./]+)(?:\.([^/]+))?/functions/([^/]+)")
FC3 = re.compile(r"acs:fc:([^:]+):([^:]+):functions/([^:/]+)(?::(.+))?")
NOW = "2026-11-28T00:00:00Z"
CROSS = {"dangling-fc-destination", "destination-cycle", "qualifier-gap"}

Fn = tuple[str, str]
Node = tuple[str, str, str]


def _plant(backend: Backend) -> None:
    """Loops, a dangling destination and an alias invoked without its own config."""
    a, r = backend.account_id, backend.region
    backend.add_service("loops")
    for name in ("a", "b", "c", "d", "e", "x", "y", "z"):
        backend.add_function("loops", name)

    def put(fn: str, q: str, **dc: str) -> None:
        sides = {side: {"destination": arn} for side, arn in dc.items()}
        backend.put_config("loops", fn, q, {"destinationConfig": sides}, NOW)

    fc2 = f"acs:fc:{r}:{a}:services/loops.{{q}}/functions/{{f}}"
    put("a", "LATEST", onFailure=fc2.format(q="LATEST", f="b"))
    put("b", "LATEST", onSuccess=f"acs:fc:{r}:{a}:functions/loops$a")  # the FC 3.0 form closes a→b→a
    put("c", "LATEST", onFailure=fc2.format(q="LATEST", f="ghost"))  # no such function
    put("d", "LATEST", onFailure=f"acs:mns:{r}:{a}:/queues/dlq/messages")
    put("e", "LATEST", onSuccess=fc2.format(q="prod", f="d"))  # d:prod has no config of its own
    put("x", "LATEST", onFailure=fc2.format(q="LATEST", f="y"))  # x → y → z → x
    put("y", "LATEST", onSuccess=fc2.format(q="1", f="z"))
    put("z", "1", onFailure=fc2.format(q="LATEST", f="x"))
    put("z", "LATEST", onFailure=f"acs:fc:{r}:1111111111111111:functions/elsewhere")  # not crawled


def _target(arn: object) -> tuple[str, str, str | None, str, str] | None:
    """(region, uid, service or None, function name, qualifier) of an FC destination."""
    if not isinstance(arn, str):
        return None
    m = FC2.fullmatch(arn)
    if m:
        return m[1], m[2], m[3], m[5], m[4] or "LATEST"
    m = FC3.fullmatch(arn)
    if m:
        return m[1], m[2], None, m[3], m[4] or "LATEST"
    return None


def expected(records: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str, str]]:
    records = list(records)
    account, region = records[0]["account"], records[0]["region"]
    functions = {
        (r["service"], r["function"]) for r in records if r["type"] == "function" and r["status"] != "gone"
    }
    configs: dict[Node, Mapping[str, Any]] = {}
    for r in records:
        if r["type"] == "config":
            configs[(r["service"], r["function"], r["qualifier"] or "LATEST")] = r["config"]

    def resolve(service: str | None, name: str) -> Fn | None:
        """FC 2.0 form: that service's function; FC 3.0 form: service$function, or a bare name for a
        function created in FC 3.0 (recorded with service "")."""
        if service is None:
            service, _, name = name.rpartition("$")
        return (service, name) if (service, name) in functions else None

    edges: dict[Node, list[Node]] = {}
    out: set[tuple[str, str, str, str]] = set()
    invoked: set[Node] = set()
    for node, cfg in configs.items():
        for side in ("onSuccess", "onFailure"):
            dest = ((cfg.get("destinationConfig") or {}).get(side) or {}).get("destination")
            t = _target(dest)
            if t is None:
                continue
            t_region, t_uid, t_service, t_name, t_q = t
            if (t_region, t_uid) != (region, account):
                continue  # not crawled here: neither dangling nor followed
            fn = resolve(t_service, t_name)
            if fn == node[:2] or (
                fn is None and t_service is None and t_name in (node[1], f"{node[0]}${node[1]}")
            ):
                continue  # itself: self-destination's business
            if fn is None:
                out.add(("dangling-fc-destination", *node))
                continue
            invoked.add((*fn, t_q))
            if (*fn, t_q) in configs:
                edges.setdefault(node, []).append((*fn, t_q))
    for start in edges:  # on a loop of two or more functions: can it reach itself again?
        seen, todo = set(), list(edges.get(start, []))
        while todo:
            n = todo.pop()
            if n == start:
                out.add(("destination-cycle", *start))
                break
            if n not in seen:
                seen.add(n)
                todo.extend(edges.get(n, []))
    for s, f, q in invoked:
        latest = configs.get((s, f, "LATEST"))
        failure = ((latest or {}).get("destinationConfig") or {}).get("onFailure")
        if q != "LATEST" and (s, f, q) not in configs and failure:
            out.add(("qualifier-gap", s, f, q))
    return out


@pytest.mark.parametrize("seed", [3, 21])
def test_cross_function_findings_match_the_emulator_truth(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = generate_account(AccountSpec(seed=seed, services=4, functions=120, big_functions=0))
    _plant(backend)
    want = expected(backend.truth_records())
    # what was planted is in the expectation, so the comparison below is not between two empty sets
    assert {
        ("destination-cycle", "loops", "a", "LATEST"),
        ("destination-cycle", "loops", "b", "LATEST"),
        ("destination-cycle", "loops", "x", "LATEST"),
        ("destination-cycle", "loops", "y", "LATEST"),
        ("destination-cycle", "loops", "z", "1"),
        ("dangling-fc-destination", "loops", "c", "LATEST"),
        ("qualifier-gap", "loops", "d", "prod"),
    } <= want
    assert ("destination-cycle", "loops", "z", "LATEST") not in want
    clean_env(monkeypatch, tmp_path)
    with EmulatorThread(backend) as emulator:
        use_emulator_keys(monkeypatch, emulator)
        findings = tmp_path / "findings.ndjson"
        out = tmp_path / "out.ndjson"
        run_cli(["crawl", *target_args(emulator), "-o", str(out), "--findings", str(findings), "-qq"])
    got = {
        (f["ruleId"], f["service"], f["function"], f["qualifier"])
        for f in read_ndjson(findings)
        if f["ruleId"] in CROSS
    }
    assert got == want
    cycle = next(
        f for f in read_ndjson(findings) if f["ruleId"] == "destination-cycle" and f["function"] == "x"
    )
    assert cycle["evidence"]["cycle"] == ["loops/x:LATEST", "loops/y:LATEST", "loops/z:1", "loops/x:LATEST"]


def test_a_crawl_that_was_not_complete_claims_nothing_is_dangling(tmp_path: Path) -> None:
    """The same records without their end record (or filtered, or a shard): no dangling finding."""
    import orjson

    from crawler.audit.rules import default_policy
    from tests.support.audit_support import summarize_lines

    backend = generate_account(AccountSpec(seed=3, services=2, functions=10, big_functions=0))
    _plant(backend)
    records = list(backend.truth_records())
    start = {
        "type": "run",
        "phase": "start",
        "targets": [{"account": backend.account_id, "region": backend.region}],
    }
    end = {"type": "run", "phase": "end", "complete": True}

    def dangling(lines: list[Mapping[str, Any]]) -> int:
        report = summarize_lines((orjson.dumps(x) + b"\n" for x in lines), default_policy())
        return report.findings_by_rule.get("dangling-fc-destination", 0)

    assert dangling([start, *records, end]) >= 1
    assert dangling([start, *records]) == 0
    assert dangling([start, *records, {**end, "complete": False}]) == 0
    filtered = {**start, "selection": {"services": {"include": ["loops"], "exclude": []}}}
    assert dangling([filtered, *records, end]) == 0
    assert dangling([{**start, "shard": {"index": 1, "count": 2}}, *records, end]) == 0
    assert dangling([{**start, "shard": {"index": 0, "count": 1}}, *records, end]) >= 1  # the whole
