"""No single value crashes a run (issue 12, part 2): a config nested deeper than fcaudit can write ends its
function as ``error`` and the run goes on (exit 3, end record, resumable); ``summarize`` and ``diff`` skip
or refuse such a line in one line; and an exception nothing expected (a bug) is exit 70 with one line on
stderr, the end record still written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.app.commands import EXIT_INCOMPLETE, EXIT_OK, EXIT_SOFTWARE, EXIT_USAGE
from crawler.audit.summary import Summarizer
from crawler.emulator.server import EmulatorThread
from crawler.store.records import MAX_DEPTH, FunctionRecord, Written
from tests.support.crawl_support import (
    Crawled,
    clean_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)
from tests.support.hostile import HostileServer
from tests.support.hostile.crashproof import deep_config, nested_json

ACCOUNT = "1234567890123456"


def hostile_args(server: HostileServer) -> list[str]:
    return ["--endpoint", server.endpoint, "--account", ACCOUNT, "--region", "cn-hangzhou"]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIhostile0000")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s3cr3t")


def statuses(path: Path) -> dict[str, Any]:
    crawled = Crawled.of(read_ndjson(path))
    assert crawled.function_lines == len(crawled.functions)
    return {k[3]: f for k, f in crawled.functions.items()}


# orjson writes ~254 levels: 500 is past it; 230 it could write, but a reader would refuse the line
@pytest.mark.parametrize("depth", [500, MAX_DEPTH + 30])
@pytest.mark.usefixtures("keys")
def test_a_config_nested_too_deep_ends_its_function_as_error(tmp_path: Path, depth: int) -> None:
    out = tmp_path / "out.ndjson"
    with HostileServer(deep_config(depth)) as server:
        code = run_cli(["crawl", *hostile_args(server), "-o", str(out), "-qq"])
        assert code == EXIT_INCOMPLETE
        records = read_ndjson(out)
        end = records[-1]
        assert (end["type"], end["phase"], end["complete"]) == ("run", "end", False)
        assert end["errorsByCode"] == {"UnwritableRecord": 1}
        functions = statuses(out)
        assert {name: f["status"] for name, f in functions.items()} == {
            "f0": "ok", "f1": "ok", "f2": "ok", "f3": "error", "f4": "ok", "f5": "ok"
        }  # fmt: skip
        assert "nested deeper than 200 levels" in functions["f3"]["error"]["message"]

        assert run_cli(["crawl", *hostile_args(server), "-o", str(out), "--resume", "-qq"]) == EXIT_INCOMPLETE
    resumed = read_ndjson(out)
    assert resumed[-1]["phase"] == "end"
    assert statuses(out).keys() == functions.keys()  # each function once, the file whole
    # and what the crawl wrote, every reader reads
    assert run_cli(["summarize", str(out), "--format", "json"]) == EXIT_OK
    assert run_cli(["diff", str(out), str(out)]) == EXIT_OK


def deep_file(path: Path, depth: int) -> Path:
    """A crawl's file (not written by fcaudit) whose config for ``f`` holds an array nested ``depth``
    levels deep — a value a diff compares whole and an audit quotes as evidence — whose config for ``g``
    has a destination nested 1,000 levels deep (past what ``repr`` takes), and whose end record is nested
    ``depth`` levels deep."""
    key = b'"account":"1234567890123456","region":"cn-hangzhou","service":"svc"'
    lines = [
        orjson.dumps({"type": "run", "phase": "start", "tool": "fcaudit", "targets": []}),
        b'{"type":"config",' + key + b',"function":"f","qualifier":"LATEST","config":{"qualifier":"LATEST",'
        b'"maxAsyncRetryAttempts":' + nested_json(depth, arrays=True) + b"}}",
        b'{"type":"function",' + key + b',"function":"f","status":"ok","configs":1,"pages":1,"error":null}',
        b'{"type":"config",' + key + b',"function":"g","qualifier":"LATEST","config":{"destinationConfig":'
        b'{"onFailure":{"destination":' + nested_json(1000, arrays=True) + b"}}}}",
        b'{"type":"function",' + key + b',"function":"g","status":"ok","configs":1,"pages":1,"error":null}',
        b'{"type":"run","phase":"end","complete":true,"note":' + nested_json(depth) + b"}",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_summarize_quotes_values_nested_too_deep_and_skips_such_a_run_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The configs are audited (a value out of range, a malformed destination), the deep values quoted
    as a short description; the end record, which a report would copy whole, is skipped as a problem."""
    deep = deep_file(tmp_path / "deep.ndjson", 500)
    summary, findings = tmp_path / "summary.json", tmp_path / "findings.ndjson"
    argv = [
        "summarize",
        str(deep),
        "--format",
        "json",
        "--summary",
        str(summary),
        "--findings",
        str(findings),
    ]
    code = run_cli(argv)
    captured = capsys.readouterr()
    assert code == EXIT_OK
    assert f"line 6: {_too_deep()}: skipped" in captured.err
    report = orjson.loads(captured.out)
    assert report == orjson.loads(summary.read_bytes())
    assert report["complete"] is False  # the end record was skipped
    quoted = {f["ruleId"]: f["evidence"] for f in map(orjson.loads, findings.read_bytes().splitlines())}
    assert quoted["value-out-of-range"]["value"] == "(a JSON array nested 500 levels deep)"
    assert "(a JSON array nested 1000 levels deep)" in quoted["malformed-destination-arn"]["destination"]
    for fmt in ("table", "markdown", "html"):
        assert run_cli(["summarize", str(deep), "--format", fmt]) == EXIT_OK


def test_diff_refuses_a_config_nested_too_deep_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = deep_file(tmp_path / "deep.ndjson", 500)
    shallow = tmp_path / "shallow.ndjson"
    three_deep = deep_file(tmp_path / "three.ndjson", 3).read_bytes()
    shallow.write_bytes(b"".join(three_deep.splitlines(keepends=True)[:3]))  # start, f's config, f
    for old, new in ((shallow, deep), (deep, shallow)):
        assert run_cli(["diff", str(old), str(new), "--format", "json"]) == EXIT_USAGE
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"fcaudit: error: {deep} line 2: {_too_deep()}"]


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels of JSON objects and arrays, more than fcaudit writes"


def test_an_unexpected_exception_is_exit_70_in_one_line_with_the_end_record(
    emulator: EmulatorThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bug (here: the live summary raising on one function) is neither findings (1) nor an incomplete
    crawl (3): exit 70, one line naming the exception; the file ends with an end record saying why, and
    ``--resume`` finishes it."""
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    add = Summarizer.add
    victim = next(r for r in emulator.backend.truth_records() if r["type"] == "function")["function"]

    def buggy(self: Summarizer, written: Written) -> None:
        record = written.record
        if isinstance(record, FunctionRecord) and record.key.function == victim:
            raise ZeroDivisionError("a bug\nover two lines")
        add(self, written)

    monkeypatch.setattr(Summarizer, "add", buggy)
    code = run_cli(["crawl", *target_args(emulator), "-o", str(out), "-qq"])
    err = capsys.readouterr().err
    assert code == EXIT_SOFTWARE
    assert err.splitlines() == [
        "fcaudit: internal error: ZeroDivisionError: a bug over two lines (a bug in fcaudit: please report "
        "it; the traceback is logged at debug level, -v)"
    ]
    end = read_ndjson(out)[-1]
    assert (end["type"], end["phase"], end["complete"]) == ("run", "end", False)
    assert end["aborted"]["code"] == "InternalError"
    assert end["aborted"]["message"] == "ZeroDivisionError: a bug over two lines"

    monkeypatch.setattr(Summarizer, "add", add)
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "--resume", "-qq"]) == EXIT_OK
    crawled = Crawled.of(read_ndjson(out))
    truth = Crawled.of(emulator.backend.truth_records())
    assert set(crawled.functions) == set(truth.functions)
    assert crawled.function_lines == len(crawled.functions)
