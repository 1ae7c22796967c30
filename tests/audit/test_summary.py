"""The summary fold: what it counts, and how it treats bad, truncated and incomplete input."""

from __future__ import annotations

import copy
import io
from typing import Any

import anyio
import orjson

from crawler.audit.drift import DriftSide
from crawler.audit.report_model import ROW_SIZE, RULE, RULE_ORDER
from crawler.audit.rules import RULES
from crawler.audit.summary import Summarizer
from crawler.store.records import ConfigRecord, FunctionBatch, RunRecord, Written, to_bytes
from crawler.store.writer import Sink, Subscribers
from crawler.wire.run_stats import RunStats
from tests.support.audit_support import (
    REGION,
    arn_queue,
    batch,
    config,
    lines_of,
    policy,
    run_records,
    summarize,
    summarize_lines,
)

FC3 = f"acs:fc:{REGION}:1234567890123456:functions/other"
BUS = f"acs:eventbridge:{REGION}:1234567890123456:eventbus/default"
MQ = f"acs:mq:{REGION}:1234567890123456:/instances/i-1/topic/t"


def _mixed() -> list[FunctionBatch]:
    return [
        batch(
            config("LATEST", retries=0, age=30, success=arn_queue(), failure=arn_queue("f")),
            config("1", retries=None, age=None, failure=FC3, stateful=True),
            config("prod", retries=9, age=7200, success=BUS),
            service="orders",
            function="create",
        ),
        batch(status="none", service="orders", function="cron"),
        batch(
            config("", retries=8, age=700_000, success=MQ, stateful="yes"),
            service="billing",
            function="charge",
        ),
        batch(status="gone", service="billing", function="old"),
        batch(status="error", service="billing", function="flaky", error={"code": "Timeout", "attempts": 6}),
    ]


def test_counts_every_figure() -> None:
    report = summarize(run_records(_mixed()))
    t = report.totals
    assert report.complete
    assert (len(report.accounts), len(report.regions), report.services_total) == (1, 1, 2)
    assert t.functions == 5
    assert t.functions_by_status == {"ok": 2, "none": 1, "gone": 1, "error": 1}
    assert report.error_codes == {"Timeout": 1}
    assert t.configs == 4
    assert t.qualifiers == {"latest": 2, "version": 1, "alias": 1}
    assert (t.units, t.on_defaults) == (5, 1)
    # retries: 0, unset (3), 9 (out of range), 8, and the defaults function (3)
    assert t.retry_attempts["0"] == 1
    assert t.retry_attempts["3"] == 2
    assert t.retry_attempts["8"] == 1
    assert t.retry_attempts["outOfRange"] == 1
    assert t.retry_attempts_defaulted == 2
    # ages: 30 s, unset (1 day), 2 h, 700,000 s (> 7 days), and the defaults function (1 day)
    assert t.max_event_age == {
        "upTo1m": 1,
        "upTo10m": 0,
        "upTo1h": 0,
        "upTo6h": 1,
        "upTo1d": 2,
        "upTo7d": 0,
        "longer": 1,
        "outOfRange": 0,
    }
    assert t.max_event_age_defaulted == 2
    assert t.destination_coverage == {"both": 1, "successOnly": 2, "failureOnly": 1, "none": 1}
    assert t.destinations_by_kind == {
        "mns-queue": 2,
        "mns-topic": 0,
        "fc2": 0,
        "fc3": 1,
        "eventbridge": 1,
        "rocketmq": 1,
        "unknown": 0,
        "malformed": 0,
    }
    assert t.stateful == {"on": 1, "off": 3, "invalid": 1}
    assert t.stateful_defaulted == 1  # the function on defaults
    assert (t.cross_region, t.cross_account) == (0, 0)


def test_age_buckets_include_their_upper_bound() -> None:
    """Pins the bucket edges of ``maxEventAge``: a bucket "up to N s" holds N itself, so 599 s and
    600 s are ``upTo10m`` and 601 s is ``upTo1h`` (likewise 60/61 s at the one-minute edge)."""
    configs = [config(str(v), age=age) for v, age in enumerate((59, 60, 61, 599, 600, 601), start=1)]
    report = summarize(run_records([batch(*configs)]))
    assert report.to_dict()["totals"]["maxEventAge"] == {
        "upTo1m": 2,  # 59, 60
        "upTo10m": 3,  # 61, 599, 600
        "upTo1h": 1,  # 601
        "upTo6h": 0,
        "upTo1d": 0,
        "upTo7d": 0,
        "longer": 0,
        "outOfRange": 0,
    }


def test_per_service_figures_add_up_to_the_totals() -> None:
    report = summarize(run_records(_mixed()))
    by_name = {s.service: s.figures for s in report.services}
    assert set(by_name) == {"orders", "billing"}
    assert by_name["orders"].functions == 2
    assert by_name["billing"].functions == 3
    assert by_name["orders"].configs + by_name["billing"].configs == report.totals.configs
    for severity, n in report.totals.findings_by_severity.items():
        assert sum(s.findings_by_severity[severity] for s in by_name.values()) == n
    assert sum(report.findings_by_rule.values()) == report.findings_total


def test_top_destinations_are_counted_by_reference() -> None:
    shared = arn_queue("shared")
    batches = [batch(config(failure=shared), function=f"f{i}") for i in range(3)]
    batches.append(batch(config(success=arn_queue("once"), failure=shared), function="g"))
    report = summarize(run_records(batches))
    top = [(d.destination, d.kind, d.count) for d in report.top_destinations]
    assert top == [(shared, "mns-queue", 4), (arn_queue("once"), "mns-queue", 1)]
    assert report.destinations_exact
    assert report.destinations_distinct == 2


def test_cross_region_and_account_are_counted() -> None:
    b = batch(config(success=arn_queue(region="cn-beijing"), failure=arn_queue(account="1999999999999999")))
    report = summarize(run_records([b]))
    assert (report.totals.cross_region, report.totals.cross_account) == (1, 1)


def test_both_field_spellings_and_unknown_fields_are_accepted_and_kept() -> None:
    long_names = {"serviceName": "svc", "functionName": "fn", "qualifier": "LATEST", "jobConfig": {"x": 1}}
    long_names["destinationConfig"] = {"onFailure": {"destination": arn_queue()}}
    before = copy.deepcopy(long_names)
    records = run_records([batch(long_names)])
    report = summarize(records)
    assert report.totals.configs == 1
    assert report.problems_total == 0
    assert long_names == before  # the audit never changes (or drops) a field
    assert b'"jobConfig":{"x":1}' in to_bytes(records[1])


def test_config_naming_another_function_is_a_problem() -> None:
    report = summarize(run_records([batch(config(function="someone-else"))]))
    assert report.problems_by_kind == {"config-identity-mismatch": 1}
    assert report.problems[0].line == 2


def test_rule_columns_match_the_catalogue() -> None:
    assert tuple(r.rule_id for r in RULES) == RULE_ORDER
    assert RULE + len(RULES) == ROW_SIZE


def test_malformed_line_unknown_type_and_invalid_record_are_skipped_with_their_line() -> None:
    lines = lines_of(run_records([batch(config(failure=arn_queue()))]))
    lines[1:1] = [
        b"{not json\n",
        b'{"type":"mystery"}\n',
        b'{"type":"function","status":"ok","account":1}\n',
        b"\n",
        b"[]\n",
    ]
    report = summarize_lines(lines, policy())
    assert [(p.line, p.kind) for p in report.problems] == [
        (2, "malformed-line"),
        (3, "unknown-record-type"),
        (4, "invalid-record"),
        (6, "invalid-record"),
    ]
    assert report.totals.configs == 1
    assert report.totals.functions == 1
    assert not report.complete
    assert "field 'account' must be a string" in report.problems[2].message


def test_truncated_last_line_is_reported_and_the_run_is_incomplete() -> None:
    lines = lines_of(
        run_records([batch(config(failure=arn_queue())), batch(config(failure=arn_queue()), function="g")])
    )
    data = b"".join(lines[:-1])  # no end record
    data = data[: len(data) - 10]  # cut inside the last function record
    report = summarize_lines(data.splitlines(keepends=True), policy())
    kinds = {p.kind for p in report.problems}
    assert {"truncated", "orphan-configs", "run-missing-end"} <= kinds
    truncated = next(p for p in report.problems if p.kind == "truncated")
    assert truncated.line == 5
    assert report.totals.functions == 1  # the first function is whole; the second's config is an orphan
    assert not report.complete


def test_missing_end_record_is_summarised_but_incomplete() -> None:
    report = summarize(run_records([batch(config(failure=arn_queue()))], end=False))
    assert report.totals.configs == 1
    assert not report.complete
    assert [p.kind for p in report.problems] == ["run-missing-end"]
    assert report.problems[0].line == 1


def test_run_that_ended_incomplete_is_flagged() -> None:
    records = run_records([batch(config(failure=arn_queue()))], end=False)
    records.append(RunRecord("end", {"complete": False}))
    report = summarize(records)
    assert not report.complete
    assert report.problems_by_kind == {"run-incomplete": 1}


def test_configs_followed_by_another_functions_record_are_orphans() -> None:
    a = batch(config(failure=arn_queue(), function="a"), function="a")
    b = batch(config(failure=arn_queue(), function="b"), function="b")
    records = run_records([])
    records[1:1] = [*a.configs, *b.configs, b.function]
    report = summarize(records)
    assert report.problems_by_kind == {"orphan-configs": 1}
    assert report.totals.configs == 1
    assert report.records["config"] == 2


def test_function_record_disagreeing_with_its_configs_is_a_problem() -> None:
    b = batch(config(failure=arn_queue()))
    lie = type(b.function)(b.function.key, "ok", 3, 1)
    report = summarize(run_records([type(b)(b.configs, lie)]))
    assert report.problems_by_kind == {"config-count-mismatch": 1}
    assert report.totals.configs == 1


def test_listed_findings_are_bounded_most_severe_first_but_all_are_counted() -> None:
    batches = [batch(config(success=arn_queue()), function=f"m{i}") for i in range(5)]
    batches += [batch(config(retries=0), function=f"h{i}") for i in range(2)]
    report = summarize(run_records(batches), {"max_findings": 3})
    assert report.findings_total == 7
    assert [f.severity.label for f in report.findings] == ["high", "high", "medium"]
    assert [f.function for f in report.findings] == ["h0", "h1", "m0"]


def test_services_beyond_the_cap_share_one_row() -> None:
    batches = [batch(config(failure=arn_queue()), service=f"s{i}") for i in range(4)]
    report = summarize(run_records(batches), {"max_services": 2})
    assert [s.service for s in report.services] == ["s0", "s1", "(other services)"]
    assert report.services_truncated
    assert report.totals.functions == 4
    assert "services-truncated" in report.problems_by_kind


def test_live_batches_and_file_lines_agree() -> None:
    records = run_records(_mixed())
    live = Summarizer(policy())
    for r in records:
        live.add(Written.of(r))
    from_file = summarize_lines(lines_of(records), policy())
    assert live.report().to_dict() == from_file.to_dict()


def test_report_is_a_snapshot_and_folding_continues() -> None:
    s = Summarizer(policy())
    s.add(Written.of(RunRecord("start", {})))
    first = s.report()
    for r in run_records([batch(config(failure=arn_queue()))])[1:]:
        s.add(Written.of(r))
    assert first.totals.configs == 0
    assert s.report().totals.configs == 1


def test_json_round_trip_of_to_dict() -> None:
    report = summarize(run_records(_mixed()))
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["schemaVersion"] == 1
    assert data["totals"]["functions"] == 5


class _CountedConfig(ConfigRecord):
    """A config record that counts how often it is turned into its dict."""

    __slots__ = ()
    calls = 0

    def to_dict(self) -> dict[str, Any]:
        type(self).calls += 1
        return ConfigRecord.to_dict(self)


def test_the_writer_builds_each_records_dict_once_for_the_file_and_every_subscriber() -> None:
    live, side = Summarizer(policy()), DriftSide("this crawl", policy())
    heard: list[Written] = []

    class Heard:
        def add(self, written: Written) -> None:
            heard.append(written)

    stream = io.BytesIO()
    sink = Sink(stream, fsync=False, name="<test>", close_stream=False)
    sink.subscribers = Subscribers(RunStats(), live, side, Heard())
    b = batch(config(failure=arn_queue()))
    counted = _CountedConfig(b.configs[0].key, b.configs[0].qualifier, b.configs[0].config)
    sink.add_run(RunRecord("start", {}))
    sink.add_batch(FunctionBatch((counted,), b.function))
    anyio.run(sink.aclose)
    assert _CountedConfig.calls == 1  # the line and the three subscribers: one dict
    config_line = stream.getvalue().splitlines()[1]
    assert orjson.loads(config_line) == heard[1].line
    assert live.report().totals.configs == side.audit().totals.configs == 1  # type: ignore[union-attr]
