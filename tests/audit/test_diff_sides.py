"""``audit.drift`` on hand-made records: what a side learns from the run records (targets, fingerprint,
completeness, blind spots), what it can see, how findings are keyed, what is unverified rather than
drift, the warnings, and the JSON shape of a report — each with literal expected values."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.audit.drift import ABSENT, DriftSide, comparable, compare, finding_key, read_side
from crawler.audit.policy import RULE_IDS, AuditPolicy
from crawler.audit.rules import Finding, Severity
from crawler.errors import InputError
from crawler.store.records import ConfigRecord, FunctionKey, FunctionRecord, FunctionStatus, Record, RunRecord

A, R = "1234567890123456", "cn-hangzhou"
QUEUE = f"acs:mns:{R}:{A}:/queues/dlq/messages"


def start(**data: object) -> RunRecord:
    return RunRecord("start", {"targets": [{"account": A, "region": R}], **data})


def end(**data: object) -> RunRecord:
    return RunRecord("end", {"complete": True, **data})


def function(
    service: str, name: str, configs: Mapping[str, Mapping[str, Any]], status: FunctionStatus = "ok"
) -> list[Record]:
    key = FunctionKey(A, R, service, name)
    records: list[Record] = [ConfigRecord(key, q, c) for q, c in configs.items()]
    error = {"code": "ServerError"} if status == "error" else None
    records.append(FunctionRecord(key, status, len(configs), 1, error))
    return records


def side(name: str, *records: Record, policy: AuditPolicy | None = None, audit: bool = True) -> DriftSide:
    """A side read from these records as a file (``read`` also settles the audit at the end)."""
    s = DriftSide(name, policy, audit=audit)
    s.read(io.BytesIO(ndjson(*records)))
    return s


GOOD: dict[str, Any] = {"destinationConfig": {"onFailure": {"destination": QUEUE}}}


# ---- what a side reads from the run records --------------------------------------------------------


def test_a_side_before_any_record() -> None:
    fresh = DriftSide("old")
    assert (fresh.targets, fresh.fingerprint, fresh.started, fresh.ended, fresh.complete) == (
        None,
        None,
        False,
        False,
        True,
    )
    assert fresh.sees(A, R, "svc", "fn")  # no start record: nothing says it was not crawled


def test_the_start_record_gives_the_targets_and_the_fingerprint() -> None:
    s = side(
        "old",
        RunRecord(
            "start",
            {
                "targets": [{"account": A, "region": R}, {"account": 2, "region": R}, "junk"],
                "fingerprint": "f" * 32,
            },
        ),
    )
    assert s.started
    assert s.targets == {(A, R)}
    assert s.fingerprint == "f" * 32
    assert side("old", RunRecord("start", {"fingerprint": 5})).fingerprint is None


def test_the_end_record_gives_completeness_and_blind_spots() -> None:
    s = side(
        "new",
        start(),
        end(
            complete=False,
            discoveryErrors=[
                {"account": A, "region": R, "service": "svc"},
                {"account": A, "region": "cn-shanghai", "service": None},
                "junk",
            ],
        ),
    )
    assert (s.ended, s.complete) == (True, False)
    assert s.blind == {(A, R, "svc"), (A, "cn-shanghai", "")}
    assert side("new", start(), end()).complete is True
    assert side("new", start(), RunRecord("end", {})).complete is True


def test_what_a_side_can_see() -> None:
    s = side(
        "old",
        start(),
        *function("broken", "fn", {}, status="error"),
        end(discoveryErrors=[{"account": A, "region": R, "service": "hidden"}]),
    )
    assert s.sees(A, R, "svc", "fn")
    assert not s.sees(A, "cn-beijing", "svc", "fn")  # a region it did not crawl
    assert not s.sees(A, R, "hidden", "fn")  # a service whose listing failed
    assert not s.sees(A, R, "broken", "fn")  # a function whose listing failed
    region_blind = side("old", start(), end(discoveryErrors=[{"account": A, "region": R}]))
    assert not region_blind.sees(A, R, "any", "fn")  # the region's service listing failed


# ---- reading a file ---------------------------------------------------------------------------


def ndjson(*records: Record) -> bytes:
    return b"".join(
        orjson.dumps({"type": "run", "phase": r.phase, **r.data}) + b"\n"
        if isinstance(r, RunRecord)
        else orjson.dumps(r.to_dict()) + b"\n"
        for r in records
    )


def test_blank_lines_are_skipped_not_the_end_of_the_file() -> None:
    data = ndjson(start()) + b"\n" + ndjson(*function("svc", "fn", {"LATEST": GOOD}), end())
    s = DriftSide("old")
    s.read(io.BytesIO(data))
    assert list(s.configs) == [(A, R, "svc", "fn", "LATEST")]
    assert s.ended


def test_a_file_of_configs_or_error_listings_alone_is_still_fcaudit_output() -> None:
    configs_only = DriftSide("old")
    configs_only.read(io.BytesIO(ndjson(ConfigRecord(FunctionKey(A, R, "s", "f"), "LATEST", GOOD))))
    assert len(configs_only.configs) == 1
    errors_only = DriftSide("old")
    errors_only.read(io.BytesIO(ndjson(*function("s", "f", {}, status="error"))))
    assert errors_only.errors == {(A, R, "s", "f")}
    with pytest.raises(InputError) as caught:
        DriftSide("old.ndjson").read(io.BytesIO(ndjson(*function("s", "f", {}))))
    assert caught.value.message == "old.ndjson holds no fcaudit records; is it NDJSON from fcaudit crawl?"


# ---- findings ---------------------------------------------------------------------------------


def finding(evidence: dict[str, object], qualifier: str | None) -> Finding:
    return Finding("rule", Severity.parse("high"), A, R, "svc", "fn", qualifier, "m", evidence)


def test_findings_are_keyed_by_rule_target_and_the_side_or_field_they_are_about() -> None:
    assert finding_key(finding({"side": "onFailure", "field": "x"}, "prod")) == (
        "rule",
        A,
        R,
        "svc",
        "fn",
        "prod",
        "onFailure",
    )
    assert finding_key(finding({"field": "maxAsyncRetryAttempts"}, None)) == (
        "rule",
        A,
        R,
        "svc",
        "fn",
        "",
        "maxAsyncRetryAttempts",
    )
    assert finding_key(finding({}, None)) == ("rule", A, R, "svc", "fn", "", "")


def test_a_side_audits_with_its_policy_or_the_default_one_or_not_at_all() -> None:
    records = [start(), *function("svc", "fn", {"LATEST": {}}), end()]
    assert {k[0] for k in side("old", *records).findings} == {"no-failure-destination"}
    quiet = AuditPolicy(enabled=RULE_IDS - {"no-failure-destination"})
    assert side("old", *records, policy=quiet).findings == {}
    assert side("old", *records, audit=False).findings == {}


def test_read_side_uses_the_policy_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "old.ndjson"
    path.write_bytes(ndjson(start(), *function("svc", "fn", {"LATEST": {}}), end()))
    quiet = AuditPolicy(enabled=RULE_IDS - {"no-failure-destination"})
    assert read_side(path, "old", quiet).findings == {}
    assert len(read_side(path, "old", None).findings) == 1


# ---- compare ----------------------------------------------------------------------------------


def test_key_order_inside_a_list_of_objects_is_not_drift() -> None:
    old = side("old", start(), *function("svc", "fn", {"LATEST": {"tags": [{"a": 1, "b": 2}]}}), end())
    new = side("new", start(), *function("svc", "fn", {"LATEST": {"tags": [{"b": 2, "a": 1}]}}), end())
    assert compare(old, new).changed == ()


def test_what_either_side_could_not_see_is_counted_not_called_drift() -> None:
    old = side(
        "old",
        start(),
        *function("a-broken", "fn", {}, status="error"),
        *function("b-broken", "fn", {}, status="error"),
        *function("c-svc", "fn", {"LATEST": GOOD}),
        end(),
    )
    new = side(
        "new",
        start(),
        *function("a-broken", "fn", {"LATEST": {}}),
        *function("b-broken", "fn", {"LATEST": {}}),
        *function("c-svc", "fn", {"LATEST": {**GOOD, "maxAsyncRetryAttempts": 1}}),
        end(),
    )
    report = compare(old, new)
    assert report.added == ()
    assert report.unverified_configs == 2
    # old's two pair-error findings and new's two no-failure-destination ones, all on unseen functions
    assert report.unverified_findings == 4
    assert [c.key for c in report.changed] == [(A, R, "c-svc", "fn", "LATEST")]
    # the same, with the broken side the new one
    assert compare(new, old).unverified_configs == 2


def test_the_warnings_name_each_side() -> None:
    done = side("old", start(fingerprint="a"), end())
    assert compare(done, side("new", start(fingerprint="a"), end())).warnings == ()
    assert compare(done, side("new", start(fingerprint="a"))).warnings == (
        "new has no end run record: that crawl did not finish",
    )
    assert compare(side("old", start(), end(complete=False)), done).warnings == (
        "old is from an incomplete crawl: what it missed is counted as unverified",
    )
    assert compare(done, side("new", start(fingerprint="b"), end())).warnings == (
        "the two crawls had different targets, filters or settings (fingerprints differ): "
        "only what both covered is compared",
    )
    assert compare(done, side("new", start(), end())).warnings == ()  # one fingerprint unknown
    assert compare(side("old", start(), end()), done).warnings == ()


def test_the_json_shape_of_a_report() -> None:
    old = side("old.ndjson", start(), *function("svc", "fn", {"LATEST": GOOD}), end())
    new = side("new.ndjson", start(), *function("svc", "fn", {"LATEST": {}}), end())
    data = compare(old, new).to_dict()
    finding_dict = data["findings"][0]
    assert "line" not in finding_dict
    assert (finding_dict["change"], finding_dict["ruleId"]) == ("new", "no-failure-destination")
    data["findings"] = []
    assert data == {
        "old": "old.ndjson",
        "new": "new.ndjson",
        "drift": True,
        "counts": {
            "added": 0,
            "removed": 0,
            "changed": 1,
            "newFindings": 1,
            "resolvedFindings": 0,
            "supersededFindings": 0,
            "unverifiedConfigs": 0,
            "unverifiedFindings": 0,
        },
        "warnings": [],
        "configs": [
            {
                "change": "changed",
                "account": A,
                "region": R,
                "service": "svc",
                "function": "fn",
                "qualifier": "LATEST",
                "fields": [{"field": "destinationConfig.onFailure.destination", "old": QUEUE}],
            }
        ],
        "findings": [],
    }


def test_an_absent_field_reads_as_absent() -> None:
    assert repr(ABSENT) == "(absent)"


# ---- depth, resumed errors, the side's own audit -------------------------------------------------------

DEEP = "nested deeper than 200 levels of JSON objects and arrays, more than fcaudit writes"


def nested(levels: int, kind: str) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value} if kind == "object" else [value]
    return value


@pytest.mark.parametrize("kind", ["object", "array"])
def test_a_config_may_nest_to_the_two_hundredth_level_of_its_line_and_no_further(kind: str) -> None:
    # the record is level 1, its config object 2, the config's fields 3: 198 more levels reach 200
    assert list(comparable({"a": nested(198, kind)})) != []
    with pytest.raises(InputError) as caught:
        comparable({"a": nested(199, kind)})
    assert caught.value.message == DEEP


def test_a_too_deep_config_in_a_file_is_named_by_its_line() -> None:
    records = ndjson(
        start(), ConfigRecord(FunctionKey(A, R, "s", "f"), "LATEST", {"a": nested(199, "object")})
    )
    with pytest.raises(InputError) as caught:
        DriftSide("old.ndjson").read(io.BytesIO(records))
    assert caught.value.message == f"old.ndjson line 2: {DEEP}"


def test_a_resumed_answer_replaces_an_earlier_error() -> None:
    s = side(
        "old", start(), *function("s", "f", {}, status="error"), *function("s", "f", {"LATEST": GOOD}), end()
    )
    assert s.errors == set()
    assert s.sees(A, R, "s", "f")


def test_a_side_has_an_audit_report_unless_it_keeps_none() -> None:
    records = [start(), *function("s", "f", {"LATEST": {}}), end()]
    assert side("old", *records).audit() is not None
    assert side("old", *records, audit=False).audit() is None
