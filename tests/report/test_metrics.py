"""``--metrics``: Prometheus text format, read back with prometheus_client's official parser.

The end-to-end case crawls a seeded emulator (with retries and throttling) over a real socket and checks
every figure against what the run itself recorded and against the emulator's ground truth.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawler.audit.rules import RULES
from crawler.audit.summary import Summarizer
from crawler.emulator import AccountSpec
from crawler.emulator.faults import FaultConfig, FaultKind
from crawler.errors import OutputError
from crawler.report.prometheus import Family, exposition, read_last_success, render_metrics, write_metrics
from crawler.store.records import RunRecord
from tests.support.audit_support import batch, config, run_records, summarize
from tests.support.crawl_support import (
    isolated_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.fixtures import EmulatorFactory

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """(family name -> type, (sample name, sorted labels) -> value), via the official parser."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def test_metrics_of_a_crawl_match_the_run_and_the_truth(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    faults = FaultConfig(seed=2, quota_rps=150.0, quota_burst=2, rates={FaultKind.HTTP_500: 0.05})
    emulator = emulator_factory(AccountSpec(seed=7, services=4, functions=40, big_functions=2), faults)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "--concurrency", "8", "-q"]) == 0
    summarizer = Summarizer()
    with out.open("rb") as f:
        summarizer.add_lines(f)
    report = summarizer.report()
    path = tmp_path / "fcaudit.prom"
    write_metrics(report, path, now=lambda: 0.0)

    types, samples = parse(path.read_text(encoding="utf-8"))
    end = read_ndjson(out)[-1]
    truth = list(emulator.backend.truth_records())
    assert end["retries"] > 0, "the faults should have caused retries"
    assert end["throttled"] > 0, "the quota should have throttled the crawl"
    assert types["fcaudit_requests"] == "counter"
    assert value(samples, "fcaudit_requests_total") == end["requests"] == emulator.stats()["requests"]
    assert value(samples, "fcaudit_throttled_responses_total") == end["throttled"]
    assert value(samples, "fcaudit_retries_total") == end["retries"]
    assert value(samples, "fcaudit_run_duration_seconds") == pytest.approx(end["elapsedSeconds"])
    assert value(samples, "fcaudit_run_complete") == 1
    finished = datetime.fromisoformat(end["finishedAt"]).timestamp()
    assert value(samples, "fcaudit_last_success_timestamp_seconds") == finished
    assert value(samples, "fcaudit_last_run_timestamp_seconds") == finished
    for status in ("ok", "none", "gone", "error"):
        want = sum(1 for r in truth if r["type"] == "function" and r["status"] == status)
        assert value(samples, "fcaudit_functions", status=status) == want, status
    configs = sum(value(samples, "fcaudit_configs", qualifier_kind=k) for k in ("latest", "version", "alias"))
    assert configs == sum(1 for r in truth if r["type"] == "config")
    severities = report.policy.severities
    for rule in RULES:
        got = value(samples, "fcaudit_findings", rule=rule.rule_id, severity=severities[rule.rule_id].label)
        assert got == report.totals.findings_by_rule[rule.rule_id]
    assert sum(v for (name, _), v in samples.items() if name == "fcaudit_findings") == report.findings_total
    assert report.findings_total > 0


def test_names_follow_the_prometheus_conventions() -> None:
    report = summarize(run_records([batch(config(retries=0))]))
    text = render_metrics(report)
    types, samples = parse(text)
    names = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
    assert len(names) == len(types) == len(re.findall(r"^# HELP \S+ \S", text, re.MULTILINE))
    for name, kind in names:
        assert name.startswith("fcaudit_")
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", name)
        assert name.endswith("_total") == (kind == "counter"), name
        assert not name.endswith("_total") or kind == "counter"
    for (name, labels), _ in samples.items():
        for label, _v in labels:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", label), (name, label)
    assert any(n.endswith("_seconds") for n, _ in names)
    assert not any("milli" in n or "minutes" in n for n, _ in names)


def test_an_incomplete_run_keeps_the_last_success_time(tmp_path: Path) -> None:
    path = tmp_path / "fcaudit.prom"
    good = summarize(
        [
            RunRecord("start", {"startedAt": "2026-06-01T00:00:00+00:00"}),
            *run_records([batch(config())])[1:-1],
            RunRecord("end", {"complete": True, "finishedAt": "2026-06-01T00:10:00+00:00", "requests": 5}),
        ]
    )
    write_metrics(good, path)
    success = datetime.fromisoformat("2026-06-01T00:10:00+00:00").timestamp()
    assert read_last_success(path) == success

    bad = summarize(run_records([batch(config())], end=False))  # no end record: incomplete
    write_metrics(bad, path)
    _types, samples = parse(path.read_text(encoding="utf-8"))
    assert value(samples, "fcaudit_run_complete") == 0
    assert value(samples, "fcaudit_last_success_timestamp_seconds") == success
    assert ("fcaudit_requests_total", ()) not in samples  # no end record: nothing known about requests


def test_a_first_incomplete_run_publishes_no_success_time(tmp_path: Path) -> None:
    path = tmp_path / "fcaudit.prom"
    write_metrics(summarize(run_records([batch(config())], end=False)), path)
    _types, samples = parse(path.read_text(encoding="utf-8"))
    assert ("fcaudit_last_success_timestamp_seconds", ()) not in samples
    assert value(samples, "fcaudit_run_complete") == 0


def test_a_complete_run_without_its_finish_time_uses_the_clock() -> None:
    report = summarize(run_records([batch(config())]))  # end record: {"complete": true} only
    _types, samples = parse(render_metrics(report, now=lambda: 1_700_000_000.5))
    assert value(samples, "fcaudit_last_success_timestamp_seconds") == 1_700_000_000.5


def test_label_values_are_escaped() -> None:
    hostile = 'a"b\\c\nd'
    text = exposition(
        [Family("fcaudit_x", "gauge", "help with \\ and\nnewline", (((("name", hostile),), 1.5),))]
    )
    _types, samples = parse(text)
    assert samples == {("fcaudit_x", (("name", hostile),)): 1.5}


def test_the_file_is_replaced_atomically_and_readable_by_the_collector(tmp_path: Path) -> None:
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    path = textfiles / "fcaudit.prom"
    path.write_text("# stale\n")
    report = summarize(run_records([batch(config())]))
    write_metrics(report, path)
    assert [p.name for p in textfiles.iterdir()] == ["fcaudit.prom"]  # no temporary file left behind
    probe = tmp_path / "probe"
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT, 0o644))  # what 0644 becomes under this umask
    assert path.stat().st_mode & 0o777 == probe.stat().st_mode & 0o777


def test_an_unwritable_place_is_one_clear_error(tmp_path: Path) -> None:
    report = summarize(run_records([batch(config())]))
    with pytest.raises(OutputError, match=r"--metrics .*missing"):
        write_metrics(report, tmp_path / "missing" / "fcaudit.prom")
    with pytest.raises(OutputError, match="is a directory"):
        write_metrics(report, tmp_path)
