"""``fcaudit rules``: every rule with its severity (the policy's), what it checks, why and how to fix."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.audit.catalogue import RULES
from tests.support.crawl_support import run_cli


def test_rules_lists_every_rule_as_json_and_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["rules", "--format", "json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)["rules"]
    assert sorted(r["id"] for r in listed) == sorted(r.rule_id for r in RULES)
    for r in listed:
        assert all(r[k] for k in ("checks", "why", "fix"))
        assert r["severity"] == r["defaultSeverity"]
    order = [r["severity"] for r in listed]
    assert order == sorted(order, key=["high", "medium", "low", "info"].index)  # most severe first
    assert run_cli(["rules", "--width", "200"]) == 0
    table = capsys.readouterr().out
    for rule in RULES:
        assert rule.rule_id in table


def test_rules_shows_the_policys_severity_and_what_it_disables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "fcaudit.toml"
    config.write_text(
        '[audit]\ndisable = ["same-destination-both"]\n[audit.severity]\ncross-region-destination = "high"\n'
    )
    assert run_cli(["rules", "--format", "json", "--config", str(config)]) == 0
    by_id = {r["id"]: r for r in orjson.loads(capsys.readouterr().out)["rules"]}
    assert (
        by_id["cross-region-destination"]["severity"],
        by_id["cross-region-destination"]["defaultSeverity"],
    ) == (
        "high",
        "low",
    )
    assert by_id["same-destination-both"]["enabled"] is False
