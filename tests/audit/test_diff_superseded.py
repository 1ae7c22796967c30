"""``fcaudit diff`` says when a finding was not fixed but replaced by a worse rule on the same function
and qualifier ("superseded by"), and names findings by their stable id."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.store.records import Record, to_bytes
from tests.support.audit_support import arn_queue, batch, config, run_records
from tests.support.crawl_support import run_cli


def _write(path: Path, records: list[Record]) -> Path:
    path.write_bytes(b"".join(to_bytes(r) for r in records))
    return path


def test_a_worse_rule_on_the_same_qualifier_supersedes_the_old_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _write(
        tmp_path / "old.ndjson",
        run_records([batch(config("prod")), batch(config(), function="other")]),
    )
    # prod's retries are turned off (a worse rule replaces the medium one); "other" gains a failure
    # destination (its finding is resolved, nothing replaces it)
    new = _write(
        tmp_path / "new.ndjson",
        run_records([batch(config("prod", retries=0)), batch(config(failure=arn_queue()), function="other")]),
    )
    assert run_cli(["diff", str(old), str(new), "--format", "json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["counts"]["supersededFindings"] == 1
    by_change = {(f["change"], f["function"], f["ruleId"]): f for f in report["findings"]}
    resolved = by_change[("resolved", "fn", "no-failure-destination")]
    new_one = by_change[("new", "fn", "retries-disabled-no-failure-destination")]
    assert resolved["supersededBy"] == {
        "id": new_one["id"],
        "ruleId": "retries-disabled-no-failure-destination",
        "severity": "high",
    }
    assert new_one["supersedes"]["id"] == resolved["id"]
    plain = by_change[("resolved", "other", "no-failure-destination")]
    assert "supersededBy" not in plain
    assert run_cli(["diff", str(old), str(new)]) == 0
    text = capsys.readouterr().out
    assert "(1 superseded by a worse rule)" in text
    assert f"superseded by retries-disabled-no-failure-destination (high, {new_one['id']})" in text
    assert run_cli(["diff", str(old), str(new), "--format", "markdown"]) == 0
    assert "superseded by retries-disabled-no-failure-destination" in capsys.readouterr().out


def test_a_finding_id_is_the_same_in_both_crawls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = _write(tmp_path / "a.ndjson", run_records([batch(config("prod"))]))
    two = _write(tmp_path / "b.ndjson", run_records([batch(config("prod", age=7200))]))
    ids = []
    for path in (one, two):
        out = tmp_path / f"{path.stem}.findings"
        assert run_cli(["summarize", str(path), "--findings", str(out)]) == 0
        ids.append([orjson.loads(line)["id"] for line in out.read_bytes().splitlines()])
    capsys.readouterr()
    assert ids[0] == ids[1]
    assert len(ids[0]) == 1
