"""Property tests: live (a summarizer subscribed to the writer) equals file; a report taken along the way
is the summary of the input so far and changes nothing; the last record of a function replaces its
earlier error.

Inputs are random crawls (batches of configs with every kind of value and destination, run records)
plus, for the file side, damaged lines. Policies keep the bounded lists small (three listed findings) so
the bounds are exercised, and one policy has suppressions so the slow emit path is exercised too.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import replace
from datetime import date
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.audit.rules import AuditPolicy, policy_from_table
from crawler.audit.summary import Summarizer
from crawler.store.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    FunctionStatus,
    Record,
    RunRecord,
    to_bytes,
)
from crawler.store.writer import Sink, Subscribers
from tests.support.audit_support import summarize_lines

ACCOUNT = "1234567890123456"
TODAY = date(2026, 6, 1)
POLICIES = (
    policy_from_table({"max_findings": 3}, today=TODAY),
    policy_from_table(
        {
            "max_findings": 5,
            "require_stateful": ["a"],
            "suppress": [
                {"service": "b", "rule": "no-failure-*", "reason": "accepted"},
                {"service": "c", "reason": "old", "expires": date(2026, 1, 1)},
            ],
        },
        today=TODAY,
    ),
)
ARNS = (
    f"acs:mns:cn-hangzhou:{ACCOUNT}:/queues/q1/messages",
    f"acs:mns:cn-hangzhou:{ACCOUNT}:/topics/t1/messages",
    f"acs:mns:cn-shanghai:{ACCOUNT}:/queues/q2/messages",
    "acs:mns:cn-hangzhou:1999999999999999:/queues/q3/messages",
    f"acs:fc:cn-hangzhou:{ACCOUNT}:services/a.LATEST/functions/f1",
    f"acs:fc:cn-hangzhou:{ACCOUNT}:functions/f2",
    f"acs:eventbridge:cn-hangzhou:{ACCOUNT}:eventbus/default",
    f"acs:mq:cn-hangzhou:{ACCOUNT}:/instances/i/topic/t",
    f"acs:oss:cn-hangzhou:{ACCOUNT}:bucket/b",
    "not-an-arn",
    "",
)
MULT = 1
GARBAGE = (b"{oops\n", b'{"type":"mystery"}\n', b"[1]\n", b'{"type":"config"}\n', b"\n")


@st.composite
def configs(draw: st.DrawFn, qualifier: str) -> dict[str, Any]:
    config: dict[str, Any] = {"service": "x", "qualifier": qualifier}
    if draw(st.booleans()):
        config = {"serviceName": "x", "qualifier": qualifier}
    fields = {
        "maxAsyncRetryAttempts": st.one_of(st.integers(-1, 10), st.just("3")),
        "maxAsyncEventAgeInSeconds": st.sampled_from(
            (0, 1, 60, 61, 600, 3600, 86400, 604800, 700000, 2592001)
        ),
        "statefulInvocation": st.one_of(st.booleans(), st.just("yes")),
    }
    for name, values in fields.items():
        if draw(st.booleans()):
            config[name] = draw(values)
    sides = {}
    for side in ("onSuccess", "onFailure"):
        if draw(st.integers(0, 2)):
            sides[side] = {"destination": draw(st.sampled_from(ARNS))}
    config["destinationConfig"] = draw(st.sampled_from((sides, sides, None, "bad")))
    return config


@st.composite
def batches(draw: st.DrawFn) -> FunctionBatch:
    key = FunctionKey(ACCOUNT, draw(st.sampled_from(("cn-hangzhou", "cn-shanghai"))), "", "")
    key = FunctionKey(
        key.account, key.region, draw(st.sampled_from("abc")), draw(st.sampled_from(("f1", "f2", "f3")))
    )
    quals = draw(st.lists(st.sampled_from(("LATEST", "", "1", "2", "prod")), max_size=4, unique=True))
    cfgs = tuple(
        ConfigRecord(key, q, {**draw(configs(q)), "service": key.service, "function": key.function})
        for q in quals
    )
    choices: tuple[FunctionStatus, ...] = ("ok", "error", "gone") if cfgs else ("none", "error", "gone")
    status = draw(st.sampled_from(choices))
    error = (
        {"code": draw(st.sampled_from(("Timeout", "ServerError"))), "attempts": 3}
        if status == "error"
        else None
    )
    declared = len(cfgs) if draw(st.integers(0, 9)) else len(cfgs) + 1
    return FunctionBatch(cfgs, FunctionRecord(key, status, declared, 1, error))


@st.composite
def crawls(draw: st.DrawFn) -> list[Record]:
    records: list[Record] = []
    if draw(st.booleans()):
        records.append(RunRecord("start", {"version": "t"}))
    for b in draw(st.lists(batches(), max_size=8)):
        records.extend(b.configs)
        records.append(b.function)
        if draw(st.integers(0, 9)) == 0:
            records.append(
                RunRecord(draw(st.sampled_from(("start", "end"))), {"complete": draw(st.booleans())})
            )
    if draw(st.booleans()):
        records.append(RunRecord("end", {"complete": True}))
    return records


@st.composite
def damaged_lines(draw: st.DrawFn) -> list[bytes]:
    lines = [to_bytes(r) for r in draw(crawls())]
    for _ in range(draw(st.integers(0, 3))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(GARBAGE)))
    return lines


def _write_through_sink(records: list[Record], summarizer: Summarizer) -> bytes:
    """``records`` written by the single writer (functions as batches, as the crawl hands them over),
    ``summarizer`` subscribed to it; the bytes it wrote."""
    stream = io.BytesIO()
    sink = Sink(stream, fsync=False, name="<test>", close_stream=False, subscribers=Subscribers(summarizer))
    held: list[ConfigRecord] = []
    for record in records:
        if isinstance(record, ConfigRecord):
            held.append(record)
        elif isinstance(record, FunctionRecord):
            sink.add_batch(FunctionBatch(tuple(held), record))
            held = []
        else:
            sink.add_run(record)
    assert not held  # configs always come right before their function record in these crawls
    anyio.run(sink.aclose)
    return stream.getvalue()


@settings(max_examples=60 * MULT, deadline=None)
@given(st.sampled_from(POLICIES), crawls())
def test_live_summary_equals_summary_of_the_written_file(policy: AuditPolicy, records: list[Record]) -> None:
    live = Summarizer(policy)
    written = _write_through_sink(records, live)
    assert written == b"".join(to_bytes(r) for r in records)
    from_file = summarize_lines(written.splitlines(keepends=True), policy)
    assert live.report().to_dict() == from_file.to_dict()


@settings(max_examples=80 * MULT, deadline=None)
@given(st.sampled_from(POLICIES), damaged_lines(), st.lists(st.integers(0, 60), max_size=3))
def test_reports_along_the_way_are_the_summary_so_far_and_change_nothing(
    policy: AuditPolicy, lines: list[bytes], cuts: list[int]
) -> None:
    summarizer = Summarizer(policy)
    bounds = [0, *sorted(min(c, len(lines)) for c in cuts), len(lines)]
    for lo, hi in itertools.pairwise(bounds):
        summarizer.add_lines(lines[lo:hi])
        assert summarizer.report().to_dict() == summarize_lines(lines[:hi], policy).to_dict()
    assert summarizer.lines == len(lines)


def _without_replaced_errors(records: list[Record]) -> list[Record]:
    """The records that count: an ``error`` function record (without configs) followed, in the same crawl
    (no start record between), by another record of its function is replaced by that later record."""
    replaced: set[int] = set()
    open_errors: dict[FunctionKey, int] = {}
    for i, record in enumerate(records):
        if isinstance(record, RunRecord) and record.phase == "start":
            open_errors = {}
        elif isinstance(record, FunctionRecord):
            earlier = open_errors.pop(record.key, None)
            if earlier is not None:
                replaced.add(earlier)
            configs_before = i > 0 and isinstance(records[i - 1], ConfigRecord)
            if record.status == "error" and not configs_before:
                open_errors[record.key] = i
    return [r for i, r in enumerate(records) if i not in replaced]


def _counts(report: Any) -> Any:
    """A report without line numbers (removing lines moves them), the line count, or listed problems."""
    if isinstance(report, dict):
        skip = {"line", "lines", "startLine", "endLine", "items"} if "byKind" in report else set()
        return {
            k: _counts(v)
            for k, v in report.items()
            if k not in {"line", "lines", "startLine", "endLine"} and k not in skip
        }
    if isinstance(report, list):
        return [_counts(v) for v in report]
    return report


@settings(max_examples=80 * MULT, deadline=None)
@given(st.sampled_from(POLICIES), crawls())
def test_the_last_record_of_a_function_replaces_its_earlier_error(
    policy: AuditPolicy, records: list[Record]
) -> None:
    # an error record as fcaudit writes it declares no configs (a miscount would be a problem of its own)
    records = [
        replace(r, configs=0) if isinstance(r, FunctionRecord) and r.status == "error" else r for r in records
    ]
    whole = summarize_lines([to_bytes(r) for r in records], policy).to_dict()
    counted = summarize_lines([to_bytes(r) for r in _without_replaced_errors(records)], policy).to_dict()
    assert _counts(whole) == _counts(counted)
