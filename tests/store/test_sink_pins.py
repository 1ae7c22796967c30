"""Pins on the single writer that the mutation run (issue 18) found unpinned: the stdout sink, the
error texts of a failed open or write, a write the stream takes in pieces, and the forced resume's log."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import anyio
import orjson
import pytest
from structlog.testing import capture_logs

from crawler.errors import OutputError, ResumeError
from crawler.store.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    RunRecord,
    Written,
    to_bytes,
)
from crawler.store.writer import Sink, Subscribers, check_resume, scan_for_resume, write_batches

START = RunRecord("start", {"fingerprint": "abc", "version": "0.1.0"})


def one(n: int) -> FunctionBatch:
    return FunctionBatch(
        (), FunctionRecord(FunctionKey("123", "cn-hangzhou", "svc", f"fn-{n}"), "none", 0, 1)
    )


class Heard:
    def __init__(self) -> None:
        self.records: list[Written] = []

    def add(self, written: Written) -> None:
        self.records.append(written)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_stdout_sink_writes_to_stdout_keeps_it_open_and_honours_its_settings(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    """``Sink.to_stdout``: the records go to stdout, named ``<stdout>``, which stays open after ``aclose``;
    the flush size, flush time, clock and subscribers given are the ones the sink uses."""
    clock, heard = Clock(), Heard()
    sink = Sink.to_stdout(flush_records=2, flush_seconds=7.0, clock=clock, subscribers=Subscribers(heard))
    assert sink.name == "<stdout>"
    assert sink.flush_seconds == 7.0
    sink.add_run(START)
    assert not sink.due  # one record of two, no time passed
    clock.now = 106.9
    assert not sink.due
    clock.now = 107.0
    assert sink.due  # seven seconds of the injected clock
    clock.now = 100.0
    sink.add_batch(one(1))
    assert sink.due  # two records
    anyio.run(sink.aclose)
    out = capfdbinary.readouterr().out
    assert out == to_bytes(START) + one(1).to_bytes()
    assert [type(w.record).__name__ for w in heard.records] == ["RunRecord", "FunctionRecord"]
    assert not sys.stdout.closed


class Trickle(io.RawIOBase):
    """A stream that takes at most three bytes per write, as a pipe may."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.flushed = 0

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        chunk = bytes(b)[:3]  # type: ignore[call-overload]
        self.data += chunk
        return len(chunk)

    def flush(self) -> None:
        self.flushed += 1


def test_a_write_the_stream_takes_in_pieces_is_written_whole() -> None:
    """``_write_out`` writes again until the stream has taken every byte; the counters count one write."""
    stream = Trickle()
    sink = Sink(stream, fsync=False, name="trickle", close_stream=False)  # type: ignore[arg-type]
    sink.add_run(START)
    sink.add_batch(one(1))
    anyio.run(sink.aclose)
    assert bytes(stream.data) == to_bytes(START) + one(1).to_bytes()
    assert (sink.writes, sink.records_written) == (1, 2)
    assert stream.flushed >= 1
    assert not stream.closed  # close_stream=False


class Refusing(io.RawIOBase):
    """A stream whose every write fails with ``error``."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        raise self.error


@pytest.mark.parametrize(
    ("error", "reason"),
    [(OSError(28, "No space left on device"), "No space left on device"), (OSError(), "OSError")],
)
def test_a_failed_write_names_the_sink_and_the_reason(error: OSError, reason: str) -> None:
    """A failed write raises ``OutputError`` naming the sink and the OS's reason, or the error's type when
    it gives none; a stream (not a file fcaudit owns) gets no hint to resume; the sink is marked failed and
    a later flush writes nothing."""
    sink = Sink(Refusing(error), fsync=False, name="pipe", close_stream=False)  # type: ignore[arg-type]
    sink.add_run(START)
    with pytest.raises(OutputError) as caught:
        anyio.run(sink.flush)
    assert caught.value.message == f"cannot write pipe: {reason}"
    assert sink.failed
    sink.add_batch(one(1))
    anyio.run(sink.flush)  # dropped: nothing goes after a failed write
    assert (sink.writes, sink.records_written) == (0, 0)


def test_a_broken_pipe_is_raised_as_it_is_and_marks_the_sink_failed() -> None:
    """A reader that went away (``BrokenPipeError``) is not turned into an ``OutputError``."""
    sink = Sink(Refusing(BrokenPipeError(32, "Broken pipe")), fsync=False, name="pipe", close_stream=False)  # type: ignore[arg-type]
    sink.add_run(START)
    with pytest.raises(BrokenPipeError):
        anyio.run(sink.flush)
    assert sink.failed


def test_a_directory_as_output_is_one_clear_error(tmp_path: Path) -> None:
    """``open_file`` on a directory: 'cannot write --output PATH: Is a directory'."""
    with pytest.raises(OutputError) as caught:
        Sink.open_file(tmp_path)
    assert caught.value.message == f"cannot write --output {tmp_path}: Is a directory"


def test_a_sink_on_dev_null_does_not_fsync() -> None:
    """``open_file`` fsyncs only a regular file: /dev/null (fsync would fail with EINVAL) takes writes."""
    sink = Sink.open_file(Path("/dev/null"))
    sink.add_run(START)
    anyio.run(sink.aclose)
    assert (sink.writes, sink.records_written, sink.failed) == (1, 1, False)


def test_a_closed_sink_refuses_records_and_closes_once(tmp_path: Path) -> None:
    """After ``aclose`` the sink refuses records ('sink is closed'); a second ``aclose`` does nothing."""
    sink = Sink.open_file(tmp_path / "out.ndjson")
    anyio.run(sink.aclose)
    anyio.run(sink.aclose)
    with pytest.raises(RuntimeError, match=r"^sink is closed$"):
        sink.add_run(START)


def test_a_subscriber_given_twice_hears_each_record_once() -> None:
    """``Subscribers`` adds one subscriber once, however often it is given."""
    heard = Heard()
    subscribers = Subscribers(heard, heard)
    subscribers.subscribe(heard)
    subscribers.publish(Written.of(START))
    subscribers.publish_all([Written.of(START), Written.of(START)])
    assert len(heard.records) == 3


def test_a_forced_resume_of_another_crawls_file_is_logged(tmp_path: Path) -> None:
    """``check_resume(force=True)`` with another fingerprint logs 'resume.fingerprint_mismatch_forced'
    with the file's path; the refusal without force names the file."""
    path = tmp_path / "out.ndjson"
    path.write_bytes(to_bytes(START))
    state = scan_for_resume(path)
    assert state is not None
    with capture_logs() as logs:
        check_resume(state, "other", force=True)
        check_resume(state, "abc", force=True)
    assert logs == [
        {"event": "resume.fingerprint_mismatch_forced", "path": str(path), "log_level": "warning"}
    ]
    with pytest.raises(ResumeError) as caught:
        check_resume(state, "other", force=False)
    assert caught.value.message == (
        f"{path} was written by a crawl with other targets, filters or settings; "
        "run without --resume to start over, or pass --force-resume to continue it anyway"
    )


def test_a_resumed_file_is_cut_to_its_last_whole_function(tmp_path: Path) -> None:
    """``open_file(truncate_to=N)`` keeps the first N bytes and appends after them."""
    path = tmp_path / "out.ndjson"
    path.write_bytes(to_bytes(START) + b'{"type":"conf')
    sink = Sink.open_file(path, truncate_to=len(to_bytes(START)))
    sink.add_batch(one(1))
    anyio.run(sink.aclose)
    assert path.read_bytes() == to_bytes(START) + one(1).to_bytes()
    assert [orjson.loads(x)["type"] for x in path.read_bytes().splitlines()] == ["run", "function"]


class FillsUp(io.FileIO):
    """A real file that fills up once ``full`` is set: a write takes five bytes and then fails as a full
    disk does."""

    full = False

    def write(self, b: object) -> int:
        if not self.full:
            return super().write(b)  # type: ignore[arg-type]
        super().write(bytes(b)[:5])  # type: ignore[call-overload]
        raise OSError(28, "No space left on device")


def test_a_full_disk_cuts_the_partial_write_off_and_hints_at_resume(tmp_path: Path) -> None:
    """A failed write on a file fcaudit owns is cut back to the end of the last whole write (the size
    grows with each write), and the error says the
    file still holds every function written before and how to continue (--resume)."""
    path = tmp_path / "out.ndjson"
    path.write_bytes(to_bytes(START))
    stream = FillsUp(path, "r+b")
    stream.seek(0, 2)
    sink = Sink(stream, fsync=True, name=str(path), close_stream=True, size=len(to_bytes(START)))
    sink.add_batch(one(1))
    anyio.run(sink.flush)
    stream.full = True
    sink.add_batch(one(2))
    with pytest.raises(OutputError) as caught:
        anyio.run(sink.flush)
    assert caught.value.message == (
        f"cannot write {path}: No space left on device; it still holds every function written before: "
        "free some space (or fix the cause) and continue the crawl with --resume"
    )
    stream.close()
    assert path.read_bytes() == to_bytes(START) + one(1).to_bytes()


def test_a_function_whose_config_cannot_be_written_is_logged_and_written_as_an_error(tmp_path: Path) -> None:
    """``write_batches``: a config nested deeper than fcaudit writes turns its function into one ``error``
    record (UnwritableRecord) and logs 'crawl.function_unwritable' naming the function and why."""
    key = FunctionKey("123", "cn-hangzhou", "svc", "deep")
    deep: object = 1
    for _ in range(250):
        deep = [deep]
    bad = FunctionBatch(
        (ConfigRecord(key, "LATEST", {"qualifier": "LATEST", "x": deep}),), FunctionRecord(key, "ok", 1, 1)
    )
    path = tmp_path / "out.ndjson"
    sink = Sink.open_file(path)

    async def main() -> None:
        send, recv = anyio.create_memory_object_stream[FunctionBatch](4)
        async with send:
            await send.send(bad)
        await write_batches(recv, sink)
        await sink.aclose()

    why = (
        "the config of qualifier 'LATEST' cannot be written: nested deeper than 200 levels of JSON objects "
        "and arrays, more than fcaudit writes"
    )
    with capture_logs() as logs:
        anyio.run(main)
    assert logs == [
        {
            "event": "crawl.function_unwritable",
            "account": "123",
            "region": "cn-hangzhou",
            "service": "svc",
            "function": "deep",
            "code": "UnwritableRecord",
            "message": why,
            "log_level": "warning",
        }
    ]
    (line,) = path.read_bytes().splitlines()
    record = orjson.loads(line)
    assert (record["type"], record["status"], record["error"]["code"]) == (
        "function",
        "error",
        "UnwritableRecord",
    )


def test_a_flush_of_an_empty_buffer_restarts_the_wait(tmp_path: Path) -> None:
    """Every flush, an empty one included, restarts the ``flush_seconds`` wait: a record added half a
    second after a flush at 5.0 is not due yet."""
    clock = Clock()
    clock.now = 0.0
    sink = Sink.open_file(tmp_path / "out.ndjson", flush_seconds=1.0, clock=clock)
    clock.now = 5.0
    anyio.run(sink.flush)
    clock.now = 5.5
    sink.add_run(START)
    assert not sink.due
    clock.now = 6.0
    assert sink.due
    anyio.run(sink.flush)
    clock.now = 6.5
    sink.add_batch(one(1))
    assert not sink.due
    anyio.run(sink.aclose)


def test_a_start_record_nested_too_deep_is_refused_naming_the_line(tmp_path: Path) -> None:
    """``scan_for_resume`` refuses a run record nested deeper than fcaudit writes: the file is damaged."""
    deep: object = 1
    for _ in range(250):
        deep = [deep]
    path = tmp_path / "out.ndjson"
    path.write_bytes(to_bytes(RunRecord("start", {"fingerprint": "abc", "x": deep})))
    with pytest.raises(ResumeError) as caught:
        scan_for_resume(path)
    assert caught.value.message == (
        f"cannot resume from {path}: line 1: nested deeper than 200 levels of JSON objects and arrays, more "
        "than fcaudit writes; the file is damaged"
    )


def test_the_stdout_sink_never_fsyncs_so_a_pipe_on_stdout_takes_the_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Sink.to_stdout`` does not fsync: with stdout a pipe (where fsync fails with EINVAL) the records
    arrive and the write does not fail."""
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as reader, open(write_end, "wb", buffering=0) as writer:
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(writer))
        sink = Sink.to_stdout()
        sink.add_run(START)
        anyio.run(sink.aclose)
        assert not sink.failed
        writer.close()
        assert reader.read() == to_bytes(START)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_file_sink_that_fills_up_names_its_path_and_hints_at_resume() -> None:
    """``open_file``: the sink is named by its path and owns its file, so a failed write (/dev/full: no
    space) says 'cannot write <path>: ...' with the hint to free space and --resume; its flush time is
    the one given."""
    sink = Sink.open_file(Path("/dev/full"), flush_seconds=7.0)
    assert (sink.name, sink.flush_seconds) == ("/dev/full", 7.0)
    sink.add_run(START)
    with pytest.raises(OutputError) as caught:
        anyio.run(sink.flush)
    assert caught.value.message == (
        "cannot write /dev/full: No space left on device; it still holds every function written before: "
        "free some space (or fix the cause) and continue the crawl with --resume"
    )
    anyio.run(sink.aclose)


def test_an_unreadable_output_to_resume_is_one_clear_error(tmp_path: Path) -> None:
    """``scan_for_resume`` of a path it cannot read (a directory): 'cannot read --output <path> to
    resume: <the OS's reason>'."""
    with pytest.raises(ResumeError) as caught:
        scan_for_resume(tmp_path)
    assert caught.value.message == f"cannot read --output {tmp_path} to resume: Is a directory"


def test_the_written_count_adds_up_over_flushes_and_each_flush_empties_the_count(tmp_path: Path) -> None:
    """``records_written`` sums every flush; a flush empties the pending count, so the next buffer is due
    by its own records only."""
    sink = Sink.open_file(tmp_path / "out.ndjson", flush_records=2, clock=Clock())
    sink.add_run(START)
    sink.add_batch(one(1))
    anyio.run(sink.flush)
    sink.add_batch(one(2))
    assert not sink.due  # one record of two
    sink.add_batch(one(3))
    anyio.run(sink.aclose)
    assert (sink.records_written, sink.writes) == (4, 2)
