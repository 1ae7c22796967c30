"""The HTML report and the metrics file from the command line: ``summarize --format html``,
``summarize --metrics``, ``crawl --report`` and ``crawl --metrics``, against a seeded emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crawler.emulator import AccountSpec
from tests.support.crawl_support import (
    isolated_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.fixtures import EmulatorFactory
from tests.support.html_support import ParsedPage

ACCOUNT = AccountSpec(seed=7, services=4, functions=40, big_functions=2)


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def test_crawl_writes_the_report_and_the_metrics(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out, html, prom = tmp_path / "out.ndjson", tmp_path / "audit.html", tmp_path / "fcaudit.prom"
    code = run_cli(
        ["crawl", *target_args(emulator), "-o", str(out), "--report", str(html), "--metrics", str(prom), "-q"]
    )
    assert code == 0
    truth = list(emulator.backend.truth_records())
    functions = sum(1 for r in truth if r["type"] == "function")
    page = ParsedPage(html.read_text(encoding="utf-8"))
    assert page.by_id["figure-status"] == "complete"
    assert page.by_id["figure-functions"] == f"{functions:,}"
    assert f"records from {out}" in page.text
    end = read_ndjson(out)[-1]
    assert f"{end['requests']:,}" in page.by_id["run"]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(prom.read_text(encoding="utf-8"))
        for s in family.samples
    }
    assert samples[("fcaudit_run_complete", ())] == 1
    assert samples[("fcaudit_requests_total", ())] == end["requests"]
    assert sum(v for (n, _), v in samples.items() if n == "fcaudit_functions") == functions


def test_crawl_refuses_a_report_it_could_not_write_before_crawling(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    for flag in ("--report", "--metrics"):
        code = run_cli(
            [
                "crawl",
                *target_args(emulator),
                "-o",
                str(tmp_path / "o.ndjson"),
                flag,
                str(tmp_path / "no" / "x"),
            ]
        )
        assert code == 2
        assert f"{flag} " in capsys.readouterr().err
    assert emulator.stats()["requests"] == 0


def test_summarize_prints_html_and_writes_metrics(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    prom = tmp_path / "fcaudit.prom"
    assert run_cli(["summarize", str(out), "--format", "html", "--metrics", str(prom)]) == 0
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>")
    page = ParsedPage(html)
    assert f"records from {out}" in page.text
    assert page.by_id["figure-status"] == "complete"
    names = {f.name for f in text_string_to_metric_families(prom.read_text(encoding="utf-8"))}
    assert {"fcaudit_run_complete", "fcaudit_findings", "fcaudit_requests", "fcaudit_functions"} <= names


def test_refused_credentials_still_leave_metrics_saying_incomplete(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Monitoring must see a run that could not audit anything, not a stale file from the last good one."""
    emulator = emulator_factory(ACCOUNT)
    use_emulator_keys(monkeypatch, emulator)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-the-secret")
    prom = tmp_path / "fcaudit.prom"
    prom.write_text("fcaudit_run_complete 1\nfcaudit_last_success_timestamp_seconds 1700000000\n")
    code = run_cli(
        ["crawl", *target_args(emulator), "-o", str(tmp_path / "o.ndjson"), "--metrics", str(prom)]
    )
    assert code == 2
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(prom.read_text(encoding="utf-8"))
        for s in family.samples
        if not s.labels
    }
    assert samples["fcaudit_run_complete"] == 0
    assert samples["fcaudit_last_success_timestamp_seconds"] == 1_700_000_000  # kept from the good run
