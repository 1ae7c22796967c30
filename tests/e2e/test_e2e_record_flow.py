"""Records flow one way, end to end: after ``--resume`` the end record's counts, the live summary and the
summary of the file all describe the same records (the whole file, each function by its last record),
because the run statistics and the summary hear of every record from the one writer, the resumed file's
included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import (
    isolated_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)

ERROR = {"code": "Timeout", "message": "gave up", "attempts": 6}


_isolated_env = pytest.fixture(autouse=True)(isolated_env)


def _with_an_error(out: Path) -> dict[str, Any]:
    """Rewrite a whole crawl's file as a killed run that failed one function: that function's configs
    and record become one ``error`` record, the end record is cut. Returns the failed function record."""
    records = read_ndjson(out)
    victim = next(r for r in records if r["type"] == "function" and r["configs"] > 0)
    name = (victim["service"], victim["function"])
    kept: list[dict[str, Any]] = []
    for record in records[:-1]:  # without the end record
        if record["type"] != "run" and (record["service"], record["function"]) == name:
            if record["type"] == "function":
                kept.append({**record, "status": "error", "configs": 0, "error": ERROR})
            continue
        kept.append(record)
    out.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in kept))
    return victim


def _resume(emulator: EmulatorThread, out: Path, summary: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    argv = ["crawl", *target_args(emulator), "-o", str(out), "--resume", "--summary", str(summary), "-q"]
    return run_cli([*argv, *extra]), orjson.loads(summary.read_bytes())


def _agree(end: dict[str, Any], report: dict[str, Any]) -> None:
    """The end record's counts are the summary's (both cover the whole file)."""
    totals = report["totals"]
    assert end["functions"] == totals["functionsByStatus"]
    assert end["configs"] == totals["configs"]
    assert end["errorsByCode"] == report["errorCodes"]


def test_a_kept_error_is_counted_in_the_end_record_with_its_code(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 0
    _with_an_error(out)
    code, report = _resume(emulator, out, summary, "--resume-skip-errors")
    end = read_ndjson(out)[-1]
    assert code == 3  # an error stays in the file: incomplete, as before
    assert end["functions"]["error"] == 1
    assert end["errorsByCode"] == {"Timeout": 1}  # was {}: the kept error's code was not counted
    _agree(end, report)


def test_a_retried_error_is_replaced_in_the_end_record(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 0
    whole = read_ndjson(out)[-1]
    _with_an_error(out)
    code, report = _resume(emulator, out, summary)
    end = read_ndjson(out)[-1]
    assert code == 0
    assert (end["complete"], end["functions"], end["configs"]) == (True, whole["functions"], whole["configs"])
    _agree(end, report)


def test_an_error_the_resumed_crawl_does_not_reach_stays_counted(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The failed function is no longer crawled (here excluded; in life, deleted since): its ``error``
    record is still the file's last word on it, so the end record counts it and the run is incomplete,
    as the summary says. Before, the end record left it out and claimed a complete run."""
    use_emulator_keys(monkeypatch, emulator)
    out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 0
    victim = _with_an_error(out)
    skip = f"{victim['service']}/{victim['function']}"
    code, report = _resume(emulator, out, summary, "--exclude-function", skip, "--force-resume")
    end = read_ndjson(out)[-1]
    assert end["functions"]["error"] == 1
    assert (code, end["complete"]) == (3, False)
    _agree(end, report)


def test_an_error_whose_function_was_deleted_since_ends_gone_on_resume(
    emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A function that ended in ``error`` and was deleted before the resume is not listed by discovery
    any more; the resume still asks FC for it (it was in the file), FC answers ``FunctionNotFound``, and
    the function ends ``gone``: "resume until complete" converges. Before, its error stayed the file's
    last word and every resume exited 3."""
    use_emulator_keys(monkeypatch, emulator)
    out, summary = tmp_path / "out.ndjson", tmp_path / "summary.json"
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 0
    victim = _with_an_error(out)
    emulator.call(lambda: emulator.backend.delete_function(victim["service"], victim["function"]))
    code, report = _resume(emulator, out, summary)
    records = read_ndjson(out)
    end = records[-1]
    name = (victim["service"], victim["function"])
    last = [r for r in records if r["type"] == "function" and (r["service"], r["function"]) == name][-1]
    assert (last["status"], last["error"]) == ("gone", None)
    assert (code, end["complete"], end["functions"]["error"]) == (0, True, 0)
    _agree(end, report)
