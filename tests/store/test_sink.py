"""The single writer: whole functions per write, flushing by size and time, and the resume scan."""

from __future__ import annotations

from pathlib import Path

import anyio
import orjson
import pytest

from crawler.errors import OutputError, ResumeError
from crawler.store.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    Record,
    RunRecord,
    Written,
    parse_line,
    to_bytes,
)
from crawler.store.writer import Sink, Subscribers, check_resume, scan_for_resume, write_batches
from crawler.wire.run_stats import RunStats

START = RunRecord("start", {"fingerprint": "abc", "version": "0.1.0"})


def key(n: int) -> FunctionKey:
    return FunctionKey("123", "cn-hangzhou", "svc", f"fn-{n}")


def batch(n: int, configs: int = 2) -> FunctionBatch:
    k = key(n)
    items = tuple(
        ConfigRecord(k, f"q{i}", {"qualifier": f"q{i}", "maxAsyncRetryAttempts": i}) for i in range(configs)
    )
    return FunctionBatch(items, FunctionRecord(k, "ok" if configs else "none", configs, 1))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def read_records(path: Path) -> list[Record]:
    return [parse_line(line, i) for i, line in enumerate(path.read_bytes().splitlines(), 1)]


def test_flush_is_due_by_record_count_and_by_time(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = Sink.open_file(tmp_path / "out.ndjson", flush_records=5, flush_seconds=1.0, clock=clock)
    assert not sink.due
    sink.add_batch(batch(1))  # 3 records
    assert not sink.due
    clock.now = 1.0
    assert sink.due  # waited a second
    clock.now = 0.5
    sink.add_batch(batch(2))  # 6 records
    assert sink.due
    anyio.run(sink.aclose)
    assert sink.writes == 1
    assert sink.records_written == 6


def test_a_flush_writes_everything_buffered_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    sink = Sink.open_file(path)

    async def main() -> None:
        sink.add_run(START)
        for n in range(3):
            sink.add_batch(batch(n))
        await sink.flush()
        sink.add_batch(batch(3, configs=0))
        await sink.aclose()

    anyio.run(main)
    records = read_records(path)
    assert records[0] == START
    functions = [r for r in records if isinstance(r, FunctionRecord)]
    assert [f.key.function for f in functions] == ["fn-0", "fn-1", "fn-2", "fn-3"]
    assert functions[-1].status == "none"
    # every function record directly follows its own configs
    for i, record in enumerate(records):
        if isinstance(record, ConfigRecord):
            nxt = next(r for r in records[i:] if isinstance(r, FunctionRecord))
            assert nxt.key == record.key


class Heard:
    """A subscriber that keeps every record it is told of."""

    def __init__(self) -> None:
        self.records: list[Written] = []

    def add(self, written: Written) -> None:
        self.records.append(written)

    def functions(self) -> list[str]:
        return [w.record.key.function for w in self.records if isinstance(w.record, FunctionRecord)]


def test_write_batches_drains_the_stream_and_reports_each_batch(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    heard = Heard()
    sink = Sink.open_file(path, flush_records=4, subscribers=Subscribers(heard))

    async def main() -> None:
        send, recv = anyio.create_memory_object_stream[FunctionBatch](2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(write_batches, recv, sink)
            async with send:
                for n in range(10):
                    await send.send(batch(n, configs=n % 3))
        await sink.aclose()

    anyio.run(main)
    assert heard.functions() == [f"fn-{n}" for n in range(10)]
    # every record written was published once, in file order, with the dict its line was made from
    assert [w.record for w in heard.records] == read_records(path)
    assert [dict(w.line) for w in heard.records] == [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert len([r for r in read_records(path) if isinstance(r, FunctionRecord)]) == 10
    assert sink.writes > 1  # flushed by size along the way, not only at the end


def test_unwritable_output_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write --output .*missing.*No such file"):
        Sink.open_file(tmp_path / "missing" / "out.ndjson")


def write_file(path: Path, *chunks: bytes) -> None:
    path.write_bytes(b"".join(chunks))


def test_resume_scan_keeps_whole_functions_and_cuts_the_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    orphan = to_bytes(ConfigRecord(key(9), "LATEST", {"qualifier": "LATEST"}))
    write_file(path, to_bytes(START), batch(1).to_bytes(), batch(2, 0).to_bytes(), orphan, b'{"type":"conf')
    kept = len(to_bytes(START)) + len(batch(1).to_bytes()) + len(batch(2, 0).to_bytes())
    heard, stats = Heard(), RunStats()
    state = scan_for_resume(path, Subscribers(heard, stats))
    assert state is not None
    assert state.keep_bytes == kept
    assert state.dropped_bytes == path.stat().st_size - kept
    assert state.finished == {key(1), key(2)}
    assert stats.functions_by_status == {"ok": 1, "none": 1}
    assert stats.configs == 2
    assert state.fingerprint == "abc"
    # the orphan config (its function record never made it) is not reported
    kinds = [type(w.record).__name__ for w in heard.records]
    assert kinds == ["RunRecord", "ConfigRecord", "ConfigRecord", "FunctionRecord", "FunctionRecord"]

    sink = Sink.open_file(path, truncate_to=state.keep_bytes)

    async def append() -> None:
        sink.add_batch(batch(9))
        await sink.aclose()

    anyio.run(append)
    records = read_records(path)  # parses: the torn line is gone
    assert [r.key.function for r in records if isinstance(r, FunctionRecord)] == ["fn-1", "fn-2", "fn-9"]
    assert sum(isinstance(r, ConfigRecord) and r.key == key(9) for r in records) == 2


def test_resume_scan_drops_an_end_record_so_the_file_ends_with_one(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    end = RunRecord("end", {"complete": False})
    write_file(path, to_bytes(START), batch(1).to_bytes(), to_bytes(end))
    state = scan_for_resume(path)
    assert state is not None
    assert state.keep_bytes == len(to_bytes(START)) + len(batch(1).to_bytes())


def test_resume_scan_of_a_file_with_only_the_start_record(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    write_file(path, to_bytes(START), b"{")
    state = scan_for_resume(path)
    assert state is not None
    assert state.finished == frozenset()
    assert state.keep_bytes == len(to_bytes(START))


@pytest.mark.parametrize("content", [None, b"", b'{"type":"ru'])
def test_nothing_to_resume(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "out.ndjson"
    if content is not None:
        path.write_bytes(content)
    assert scan_for_resume(path) is None


def test_resume_refuses_a_file_fcaudit_did_not_start(tmp_path: Path) -> None:
    path = tmp_path / "notes.ndjson"
    write_file(path, batch(1).to_bytes())
    with pytest.raises(ResumeError, match="does not begin with an fcaudit 'run' start record"):
        scan_for_resume(path)


def test_resume_refuses_damage_before_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    write_file(path, to_bytes(START), b"garbage\n", batch(1).to_bytes())
    with pytest.raises(ResumeError, match="line 2"):
        scan_for_resume(path)


def test_resume_refuses_a_function_written_twice(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    write_file(path, to_bytes(START), batch(1).to_bytes(), batch(1).to_bytes())
    with pytest.raises(ResumeError, match="repeats function"):
        scan_for_resume(path)


def failed(n: int) -> FunctionBatch:
    return FunctionBatch((), FunctionRecord(key(n), "error", 0, 0, {"code": "Timeout", "attempts": 6}))


def test_resume_crawls_again_the_functions_whose_last_record_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    # fn-1 failed and was crawled again by an earlier resume; fn-2 failed; fn-3 failed twice, then none
    lines = [failed(1), batch(1), failed(2), batch(4), failed(3), failed(3), batch(3, configs=0)]
    write_file(path, to_bytes(START), *(b.to_bytes() for b in lines))
    stats = RunStats()
    state = scan_for_resume(path, Subscribers(stats))
    assert state is not None
    assert state.finished == {key(1), key(3), key(4)}
    assert state.retrying == 1
    # the statistics count each function by its last record; fn-2's error stands until it is crawled again
    assert (stats.functions_done, stats.functions_by_status) == (4, {"ok": 2, "none": 1, "error": 1})
    assert (stats.configs, stats.errors_by_code) == (4, {"Timeout": 1})
    kept = scan_for_resume(path, retry_errors=False)  # --resume-skip-errors
    assert kept is not None
    assert kept.finished == {key(1), key(2), key(3), key(4)}
    assert kept.retrying == 0


def test_resume_refuses_a_function_written_again_after_an_answer(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    write_file(path, to_bytes(START), failed(1).to_bytes(), batch(1).to_bytes(), failed(1).to_bytes())
    with pytest.raises(ResumeError, match="line 6 repeats function"):
        scan_for_resume(path)


def test_resume_fingerprint_check(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    write_file(path, to_bytes(START))
    state = scan_for_resume(path)
    assert state is not None
    check_resume(state, "abc", force=False)
    with pytest.raises(ResumeError, match=r"other targets, filters or settings.*--force-resume"):
        check_resume(state, "other", force=False)
    check_resume(state, "other", force=True)
