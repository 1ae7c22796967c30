"""The file sink against the real file system (mutation run, issue 18): a write the file system refuses
part-way (the process's file-size limit, as a full disk would) is cut back to the end of the last whole
write on a file ``open_file`` opened, not left with half a record; and a slow crawl's records reach the
disk by the writer's ticker while no other batch arrives."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from crawler.errors import OutputError
from crawler.store.records import FunctionBatch, FunctionKey, FunctionRecord, RunRecord, to_bytes
from crawler.store.writer import Sink, write_batches

START = RunRecord("start", {"fingerprint": "abc", "version": "0.1.0"})


def one(n: int) -> FunctionBatch:
    return FunctionBatch(
        (), FunctionRecord(FunctionKey("123", "cn-hangzhou", "svc", f"fn-{n}"), "none", 0, 1)
    )


@contextlib.contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """Writes past ``size`` bytes fail with EFBIG (SIGXFSZ ignored) until the block ends."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE's short write, then EFBIG, is Linux's")
def test_a_write_refused_part_way_leaves_the_file_at_its_last_whole_write(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    sink = Sink.open_file(path)
    sink.add_run(START)
    anyio.run(sink.flush)
    sink.add_batch(one(1))
    # five bytes of the function's record fit under the limit, the rest is refused
    with file_size_limit(len(to_bytes(START)) + 5), pytest.raises(OutputError) as caught:
        anyio.run(sink.flush)
    assert caught.value.message.startswith(f"cannot write {path}: File too large; it still holds")
    anyio.run(sink.aclose)
    assert path.read_bytes() == to_bytes(START)  # the five bytes are cut off again


def test_a_slow_crawls_record_reaches_the_disk_while_no_other_batch_comes(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    sink = Sink.open_file(path, flush_seconds=0.05)

    async def crawl() -> bytes:
        send, receive = anyio.create_memory_object_stream[FunctionBatch](10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(write_batches, receive, sink)
            async with send:
                await send.send(one(1))
                for _ in range(300):  # up to 3 s; the ticker flushes after 0.05 s
                    if path.read_bytes():
                        break
                    await anyio.sleep(0.01)
                seen = path.read_bytes()  # before the stream ends: only the ticker can have flushed
        await sink.aclose()
        return seen

    assert anyio.run(crawl) == one(1).to_bytes()


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE's short write, then EFBIG, is Linux's")
def test_a_resumed_files_refused_write_is_cut_back_too(tmp_path: Path) -> None:
    """``--resume`` reopens the old file cut to its last whole function: that file is unbuffered too, so
    a write refused part-way is seen at once and cut back, not held in a buffer and half-written later."""
    path = tmp_path / "out.ndjson"
    kept = to_bytes(START) + one(1).to_bytes()
    path.write_bytes(kept + b'{"type":"config","torn')
    sink = Sink.open_file(path, truncate_to=len(kept))
    sink.add_batch(one(2))
    with file_size_limit(len(kept) + 5), pytest.raises(OutputError):
        anyio.run(sink.flush)
    anyio.run(sink.aclose)
    assert path.read_bytes() == kept


def test_a_waiting_record_is_flushed_within_one_and_a_half_flush_periods(tmp_path: Path) -> None:
    """The ticker looks every half ``flush_seconds``: a record that arrives alone is on disk after at
    most 1.5 periods (0.75 s here), not after a whole period more."""
    path = tmp_path / "out.ndjson"
    sink = Sink.open_file(path, flush_seconds=0.5)

    async def crawl() -> float:
        send, receive = anyio.create_memory_object_stream[FunctionBatch](10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(write_batches, receive, sink)
            async with send:
                await anyio.sleep(0.05)  # the ticker's first sleep has begun
                started = anyio.current_time()
                await send.send(one(1))
                for _ in range(300):  # polling the file: the flush has no event to wait on
                    if path.read_bytes():
                        break
                    await anyio.sleep(0.01)
                took = anyio.current_time() - started
        await sink.aclose()
        return took

    assert anyio.run(crawl) < 0.95  # at most 0.75 s; a whole period more (the ticker at 2x) is 1 s+


def test_a_regular_file_is_synced_to_disk_at_each_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability: each flush of a regular file ends with fsync (a power cut loses no flushed record);
    counted by wrapping ``os.fsync``, which still syncs."""
    import os

    real, synced = os.fsync, []

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    sink = Sink.open_file(tmp_path / "out.ndjson")
    sink.add_run(START)
    anyio.run(sink.flush)
    assert len(synced) == 1
    sink.add_batch(one(1))
    anyio.run(sink.flush)
    assert len(synced) == 2
    anyio.run(sink.aclose)
