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
