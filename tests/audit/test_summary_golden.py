"""Golden tests: the summary of a seeded emulator account against figures counted straight from its truth.

The expected figures are counted here, from ``Backend.truth_records()``, by a small and deliberately
plain counter that shares no code with the summary (its own ARN patterns, its own buckets), so a bug in
the fold cannot hide by being repeated in the expectation.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import pytest

from crawler.audit.rules import default_policy
from crawler.emulator import AccountSpec, generate_account
from tests.support.audit_support import summarize_lines

ARN = re.compile(r"acs:(?P<product>[a-z]+):(?P<region>[a-z0-9-]+):(?P<uid>[0-9]+):(?P<resource>.+)")
RESOURCES = {
    "mns-queue": ("mns", re.compile(r"/queues/[^/]+/messages")),
    "mns-topic": ("mns", re.compile(r"/topics/[^/]+/messages")),
    "fc2": ("fc", re.compile(r"services/[^/]+/functions/[^/]+")),
    "fc3": ("fc", re.compile(r"functions/[^/]+")),
    "eventbridge": ("eventbridge", re.compile(r"eventbus/[^/]+")),
    "rocketmq": ("mq", re.compile(r"/instances/[^/]+/topic/[^/]+")),
}
KNOWN_PRODUCTS = {"mns", "fc", "eventbridge", "mq"}
AGE_LIMITS = [(60, "upTo1m"), (600, "upTo10m"), (3600, "upTo1h"), (21600, "upTo6h"), (86400, "upTo1d")]
AGE_LIMITS += [(604800, "upTo7d"), (2592000, "longer")]


def _kind(value: object) -> tuple[str, re.Match[str] | None]:
    match = ARN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return "malformed", None
    for kind, (product, resource) in RESOURCES.items():
        if match["product"] == product and resource.fullmatch(match["resource"]):
            return kind, match
    return ("malformed" if match["product"] in KNOWN_PRODUCTS else "unknown"), match


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reach(fn: Mapping[str, Any]) -> str:
    """How the function is invoked asynchronously, from its trigger list: by a trigger other than a timer,
    only by timers (whose events never reach a destination), by none, or not known (no list)."""
    triggers = fn.get("triggers")
    if triggers is None:
        return "unknown"
    async_types = {t["type"] for t in triggers if t["mode"] == "async"}
    if async_types - {"timer"}:
        return "async"
    if async_types:
        return "timer"
    return "unknown" if any(t["mode"] == "unknown" for t in triggers) else "sync"


def _expected(records: list[dict[str, Any]]) -> dict[str, Any]:
    c: Counter[str] = Counter()
    account, region = records[0]["account"], records[0]["region"]
    functions = {(r["service"], r["function"]): r for r in records if r["type"] == "function"}
    for rec in records:
        if rec["type"] == "function":
            c[f"status:{rec['status']}"] += 1
            if rec["status"] == "none":  # platform defaults: 3 retries, 1 day, no destinations, stateful off
                c.update(["defaults", "retry:3", "age:upTo1d", "cov:none", "stateful:off"])
                reach = _reach(rec)
                c[
                    "rule:no-failure"
                    if reach == "async"
                    else "rule:unverified"
                    if reach == "unknown"
                    else "quiet"
                ] += 1
            continue
        fn = functions[(rec["service"], rec["function"])]
        attempt = fn.get("timeout") or 60
        c["configs"] += 1
        q = rec["qualifier"]
        c["q:latest" if q in ("", "LATEST") else "q:version" if q.isdigit() else "q:alias"] += 1
        cfg: Mapping[str, Any] = rec["config"]
        retries = cfg.get("maxAsyncRetryAttempts", 3)
        retries_ok = _is_int(retries) and 0 <= retries <= 8
        c[f"retry:{retries}" if retries_ok else "retry:outOfRange"] += 1
        age = cfg.get("maxAsyncEventAgeInSeconds", 86400)
        if _is_int(age) and 1 <= age <= 2592000:
            c["age:" + next(key for limit, key in AGE_LIMITS if age <= limit)] += 1
            c["rule:above-fc3"] += age > 604800
            # the schedule: 0.5 s, 1 s, 2 s ... between attempts as long as the function's timeout
            if (
                retries_ok
                and retries
                and age < sum(0.5 * 2**i for i in range(retries)) + (retries + 1) * attempt
            ):
                c["rule:age-short"] += 1
        else:
            c["age:outOfRange"] += 1
            c["rule:range"] += 1
        if not retries_ok:
            c["rule:range"] += 1
        stateful = cfg.get("statefulInvocation", False)
        c[
            "stateful:on" if stateful is True else "stateful:off" if stateful is False else "stateful:invalid"
        ] += 1
        dc = cfg.get("destinationConfig") or {}
        present = {
            side: dc[side]["destination"] for side in ("onSuccess", "onFailure") if dc.get(side) is not None
        }
        c[
            "cov:"
            + {2: "both", 0: "none"}.get(
                len(present), "successOnly" if "onSuccess" in present else "failureOnly"
            )
        ] += 1
        if "onFailure" not in present and _reach(fn) != "timer":
            c["rule:retries0" if retries == 0 else "rule:no-failure"] += 1
        for arn in present.values():
            kind, match = _kind(arn)
            c[f"kind:{kind}"] += 1
            if kind == "malformed" or match is None:
                continue
            c["cross-region"] += match["region"] != region
            c["cross-account"] += match["uid"] != account
            name = match["resource"].rsplit("/", 1)[-1]
            # FC 3.0 names an FC 2.0 function service$function
            names = (rec["function"], f"{rec['service']}${rec['function']}")
            own = kind in ("fc2", "fc3") and name in names and match["region"] == region
            if own and match["uid"] == account and (kind == "fc3" or f"services/{rec['service']}." in arn):
                c["rule:self"] += 1
    return dict(c)


def _truth(spec: AccountSpec, triggers: bool = False) -> Iterator[dict[str, Any]]:
    yield from generate_account(spec).truth_records(triggers=triggers)


@pytest.mark.parametrize(
    ("spec", "triggers"),
    [
        (AccountSpec(seed=11, services=8, functions=400, big_functions=2), False),
        (
            AccountSpec(
                seed=5, services=5, functions=250, distribution="skewed", big_functions=1, edge_rate=0.2
            ),
            False,
        ),
        (AccountSpec(seed=11, services=8, functions=400, big_functions=2), True),
    ],
    ids=["uniform", "skewed-edgy", "uniform-with-triggers"],
)
def test_summary_matches_the_emulator_truth(spec: AccountSpec, triggers: bool) -> None:
    records = list(_truth(spec, triggers))
    want = _expected(records)
    report = summarize_lines((orjson.dumps(r) + b"\n" for r in records), default_policy())
    t = report.totals

    def got(prefix: str, figures: Mapping[str, int]) -> dict[str, int]:
        return {f"{prefix}:{k}": v for k, v in figures.items() if v}

    def wanted(prefix: str) -> dict[str, int]:
        return {k: v for k, v in want.items() if k.startswith(prefix + ":")}

    assert t.functions == spec.functions
    assert got("status", t.functions_by_status) == wanted("status")
    assert t.configs == want["configs"] > spec.functions  # the big functions alone have > 100 configs each
    assert t.on_defaults == want["defaults"]
    assert got("q", t.qualifiers) == wanted("q")
    assert got("retry", t.retry_attempts) == wanted("retry")
    assert got("age", t.max_event_age) == wanted("age")
    assert got("cov", t.destination_coverage) == wanted("cov")
    assert got("kind", t.destinations_by_kind) == wanted("kind")
    assert got("stateful", t.stateful) == wanted("stateful")
    assert (t.cross_region, t.cross_account) == (want["cross-region"], want["cross-account"])
    rules = report.findings_by_rule
    assert rules.get("max-age-above-fc3-limit", 0) == want.get("rule:above-fc3", 0)
    assert rules.get("max-age-too-short", 0) == want.get("rule:age-short", 0) > 0
    assert rules.get("no-failure-destination", 0) == want["rule:no-failure"]
    # no trigger data in the truth: a function on defaults may or may not be invoked asynchronously
    assert rules.get("no-failure-destination-unverified", 0) == want.get("rule:unverified", 0)
    assert t.defaults_not_listed == want.get("quiet", 0)
    if triggers:  # the trigger data decides: some functions on defaults are listed, some only counted
        assert want.get("quiet", 0) > 0
        assert "rule:unverified" not in want or want["rule:unverified"] < t.on_defaults
    assert rules.get("retries-disabled-no-failure-destination", 0) == want.get("rule:retries0", 0)
    assert rules.get("malformed-destination-arn", 0) == want["kind:malformed"]
    assert rules.get("self-destination", 0) == want["rule:self"]
    assert rules.get("value-out-of-range", 0) == want.get("rule:range", 0)
    assert rules.get("cross-region-destination", 0) == want["cross-region"]
    assert rules.get("cross-account-destination", 0) == want["cross-account"]
    # the truth holds no run records: everything is summarised, and the report says it cannot vouch for it
    assert not report.complete
    assert report.problems_by_kind == {"no-run-records": 1}


def test_showcase_function_covers_every_kind_and_flags_its_edge_cases() -> None:
    records = list(_truth(AccountSpec(seed=3, services=2, functions=6, big_functions=0)))
    report = summarize_lines((orjson.dumps(r) + b"\n" for r in records), default_policy())
    kinds = report.totals.destinations_by_kind
    assert all(
        kinds[k] for k in ("mns-queue", "mns-topic", "fc2", "fc3", "eventbridge", "rocketmq", "malformed")
    )
    for rule in (
        "self-destination",
        "malformed-destination-arn",
        "value-out-of-range",
        "cross-region-destination",
    ):
        assert report.findings_by_rule.get(rule), rule
