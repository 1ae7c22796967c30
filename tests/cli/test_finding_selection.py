"""``--rule``/``--exclude-rule``/``--severity``/``--exclude-severity``: the same flags on every command
that audits, selecting which rules run (counted, listed, written and gating the exit code alike)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.app.commands import COMMAND_HELP
from crawler.store.records import to_bytes
from tests.support.audit_support import arn_queue, batch, config, run_records
from tests.support.crawl_support import run_cli

AUDITING = ("crawl", "summarize", "merge", "diff", "demo")


def _input(tmp_path: Path) -> Path:
    records = run_records(
        [
            batch(config(retries=0), function="high"),  # retries-disabled-no-failure-destination (high)
            batch(config("prod"), function="medium"),  # no-failure-destination (medium)
            batch(config(failure=arn_queue(region="cn-beijing")), function="low"),  # cross-region (low)
        ]
    )
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"".join(to_bytes(r) for r in records))
    return path


def _rules(tmp_path: Path, *flags: str) -> list[str]:
    out = tmp_path / "f.ndjson"
    assert run_cli(["summarize", str(_input(tmp_path)), "--findings", str(out), *flags]) in (0, 1)
    return sorted(orjson.loads(line)["ruleId"] for line in out.read_bytes().splitlines())


def test_every_auditing_command_takes_the_same_selection_flags(capsys: pytest.CaptureFixture[str]) -> None:
    for name in AUDITING:
        assert name in COMMAND_HELP
        assert run_cli([name, "--help"]) == 0
        shown = capsys.readouterr().out
        for flag in (
            "--rule GLOB",
            "--exclude-rule GLOB",
            "--severity",
            "--exclude-severity",
            "--findings-format",
        ):
            assert flag in shown, (name, flag)


def test_rules_and_severities_select_what_is_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = [
        "cross-region-destination",
        "no-failure-destination",
        "retries-disabled-no-failure-destination",
    ]
    assert _rules(tmp_path) == everything
    assert _rules(tmp_path, "--severity", "high") == ["retries-disabled-no-failure-destination"]
    assert _rules(tmp_path, "--severity", "high", "--severity", "low") == [everything[0], everything[2]]
    assert _rules(tmp_path, "--exclude-severity", "low") == everything[1:]
    # without the high rule, the config with retries off has no failure destination: the medium rule says so
    assert _rules(tmp_path, "--rule", "cross-*", "--rule", "no-failure-destination") == [
        everything[0],
        everything[1],
        everything[1],
    ]
    assert _rules(tmp_path, "--exclude-rule", "retries-*", "--exclude-rule", "cross-*") == [everything[1]] * 2
    # the exit code follows the selection: without the high rule nothing reaches --fail-on high
    src = str(_input(tmp_path))
    assert run_cli(["summarize", src, "--fail-on", "high"]) == 1
    assert run_cli(["summarize", src, "--fail-on", "high", "--exclude-severity", "high"]) == 0
    capsys.readouterr()


def test_a_rule_glob_that_names_no_rule_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["summarize", str(_input(tmp_path)), "--rule", "no-such-rule"]) == 2
    assert "--rule 'no-such-rule' matches no rule" in capsys.readouterr().err
