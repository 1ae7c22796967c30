"""The single writer: NDJSON to stdout or a file, batched, fsynced, and resumable after a crash.

Only one task ever writes, so the output is never interleaved. Records arrive as whole functions
(``FunctionBatch``: the configs, then the ``function`` record that marks the function finished); the
writer buffers a few hundred records or a second's worth and writes the buffer with one call, so a file
holds whole functions only — except a torn last line if the process is killed mid-write. On a file the
writer also fsyncs after each such write, so a kill loses at most the last moment's work; a write that
fails (a full disk) is cut back off, so the file stays whole and resumable.

``scan_for_resume`` reads a file a killed run left behind: it finds the end of the last complete
``function`` record (everything after it — a torn line, the configs of a function whose marker never
made it, an end ``run`` record — is cut off when the sink reopens the file), and collects the finished
functions so the new run skips them. A function whose last record is ``error`` is not finished: the new
run crawls it again (unless ``retry_errors`` is off) and appends its new records, so "resume until
complete" converges. The file keeps both lines; the last record of a function is the one that counts
(``audit.summary``, ``audit.drift``). Only an ``error`` record may be followed by another record of
the same function. The start ``run`` record's fingerprint tells whether the file came from the same
targets and settings.

Records flow one way: the writer is the only thing that tells anyone of a record. Each record it accepts
for the write (``add_run``, ``add_batch``) is turned into its dict once, serialised from that dict, and
the record with the same dict (``records.Written``) is published to the sink's ``Subscribers`` — the live
summary, the drift's new side, the run statistics — in file order; ``scan_for_resume`` publishes the
records a resumed file already holds to the same subscribers, parsed and validated once. So what the
subscribers saw is what the file holds (if a write fails the run fails, and nothing is reported from them).

The blocking write and fsync run in a worker thread so a slow disk or a slow reader of stdout never
stalls the event loop; an ``anyio.Lock`` keeps the buffer flushes in order.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import anyio
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream

from crawler.errors import InputError, OutputError, ResumeError, UnwritableRecordError
from crawler.log import get_logger
from crawler.store.records import (
    ConfigRecord,
    FunctionBatch,
    FunctionKey,
    FunctionRecord,
    RecordSubscriber,
    RunRecord,
    Written,
    parse_written,
    too_deep,
    too_deep_message,
)

log = get_logger(__name__)

FLUSH_RECORDS: Final = 500
FLUSH_SECONDS: Final = 1.0


def _describe_os_error(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class Subscribers:
    """Who is told of each record the writer accepts (``RecordSubscriber.add``), in file order: the
    records a run writes and those a resumed file already holds (``scan_for_resume``) alike."""

    def __init__(self, *subscribers: RecordSubscriber) -> None:
        self._subscribers: list[RecordSubscriber] = []
        for subscriber in subscribers:
            self.subscribe(subscriber)

    def subscribe(self, subscriber: RecordSubscriber) -> None:
        """Add ``subscriber``; one already subscribed is not added twice (it would count twice)."""
        if not any(s is subscriber for s in self._subscribers):
            self._subscribers.append(subscriber)

    def publish(self, written: Written) -> None:
        for subscriber in self._subscribers:
            subscriber.add(written)

    def publish_all(self, records: Sequence[Written]) -> None:
        """``records`` in order to each subscriber in turn (one function's records: a subscriber sees
        the records in file order; the first subscribers have all of them if a later one raises)."""
        for subscriber in self._subscribers:
            add = subscriber.add
            for written in records:
                add(written)


class Sink:
    """Buffers records and writes them out in whole functions; fsyncs when writing to a file.

    Call ``add_run``/``add_batch`` (synchronous, cheap), then ``flush()`` when ``due`` is true, and
    ``aclose()`` at the end. ``flush`` writes everything buffered in one write.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        fsync: bool,
        name: str,
        close_stream: bool,
        flush_records: int = FLUSH_RECORDS,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        size: int | None = None,
        subscribers: Subscribers | None = None,
    ) -> None:
        self._stream = stream
        #: told of each record once it is accepted for the write (``add_run``, ``add_batch``)
        self.subscribers = subscribers if subscribers is not None else Subscribers()
        #: a file's size after the last whole write: a failed write is cut back to it (``None``: a stream)
        self._size = size
        self._fsync = fsync
        self._close_stream = close_stream
        self._flush_records = flush_records
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._pending: list[bytes] = []
        self._pending_records = 0
        self._last_flush = clock()
        self._lock = anyio.Lock()
        self._closed = False
        #: a write failed (full disk, closed pipe): nothing more can be written, not even an end record
        self.failed = False
        self.name = name
        self.records_written = 0
        self.writes = 0

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def to_stdout(
        cls,
        *,
        flush_records: int = FLUSH_RECORDS,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        subscribers: Subscribers | None = None,
    ) -> Sink:
        """Records on stdout: no fsync (a pipe or terminal), stdout itself is left open."""
        return cls(
            sys.stdout.buffer,
            fsync=False,
            name="<stdout>",
            close_stream=False,
            flush_records=flush_records,
            flush_seconds=flush_seconds,
            clock=clock,
            subscribers=subscribers,
        )

    @classmethod
    def open_file(
        cls,
        path: Path,
        *,
        truncate_to: int | None = None,
        flush_records: int = FLUSH_RECORDS,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        subscribers: Subscribers | None = None,
    ) -> Sink:
        """Open ``path`` for writing: a fresh file, or (resume) the old one cut to ``truncate_to`` bytes."""
        try:
            if truncate_to is None:
                raw = open(path, "wb", buffering=0)  # noqa: SIM115 - owned and closed by the Sink
            else:
                raw = open(path, "r+b", buffering=0)  # noqa: SIM115
                raw.truncate(truncate_to)
                raw.seek(truncate_to)
                os.fsync(raw.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write --output {path}: {_describe_os_error(exc)}") from None
        return cls(
            raw,
            fsync=stat.S_ISREG(os.fstat(raw.fileno()).st_mode),  # not /dev/null or a FIFO: EINVAL
            name=str(path),
            close_stream=True,
            flush_records=flush_records,
            flush_seconds=flush_seconds,
            clock=clock,
            size=truncate_to or 0,
            subscribers=subscribers,
        )

    # -- buffering ---------------------------------------------------------------------------------

    def add_run(self, record: RunRecord) -> None:
        written = Written.of(record)
        self._add(orjson.dumps(written.line, option=orjson.OPT_APPEND_NEWLINE), 1)
        self.subscribers.publish(written)

    def add_batch(self, batch: FunctionBatch) -> None:
        """Buffer one function; ``UnwritableRecordError`` (nothing buffered, nothing published) when one
        of its configs cannot be written."""
        data, written = batch.serialise()
        self._add(data, len(written))
        self.subscribers.publish_all(written)

    def _add(self, data: bytes, records: int) -> None:
        if self._closed:
            raise RuntimeError("sink is closed")
        self._pending.append(data)
        self._pending_records += records

    @property
    def due(self) -> bool:
        """True when the buffer holds enough records, or has waited long enough, to be written."""
        if not self._pending:
            return False
        return (
            self._pending_records >= self._flush_records
            or self._clock() - self._last_flush >= self._flush_seconds
        )

    @property
    def flush_seconds(self) -> float:
        return self._flush_seconds

    # -- writing ----------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything buffered in one write (and fsync on a file). Ordered by a lock."""
        async with self._lock:
            if self.failed:  # the error was raised once; nothing more goes after a failed write
                self._pending, self._pending_records = [], 0
            if not self._pending:
                self._last_flush = self._clock()
                return
            data = b"".join(self._pending)
            records = self._pending_records
            self._pending = []
            self._pending_records = 0
            await anyio.to_thread.run_sync(self._write_out, data)
            self._last_flush = self._clock()
            self.records_written += records
            self.writes += 1

    def _write_out(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self._stream.write(view)
                view = view[written:]
            self._stream.flush()
            if self._fsync:
                os.fsync(self._stream.fileno())
            if self._size is not None:
                self._size += len(data)
        except BrokenPipeError:
            self.failed = True
            raise
        except OSError as exc:
            self.failed = True
            if self._size is not None:  # a full disk took part of the write: cut it, the file stays whole
                with contextlib.suppress(OSError):
                    self._stream.truncate(self._size)
            hint = (
                "; it still holds every function written before: free some space (or fix the cause) and "
                "continue the crawl with --resume"
                if self._close_stream
                else ""
            )
            raise OutputError(f"cannot write {self.name}: {_describe_os_error(exc)}{hint}") from None

    async def aclose(self) -> None:
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            if self._close_stream:
                self._stream.close()


async def write_batches(receive: MemoryObjectReceiveStream[FunctionBatch], sink: Sink) -> None:
    """The writer task: take finished functions until the stream ends; flush by size, by time and when idle.
    A function whose configs cannot be written is written as an ``error`` instead (``_add_writable``).
    The sink tells its subscribers of each record it accepts.

    Each time it wakes it takes every batch already waiting, not one per turn of the event loop: a fast
    crawl finishes several functions per turn. A ticker flushes a buffer that has waited
    ``flush_seconds`` even while no batch arrives, so a slow crawl still reaches the disk every second.
    """
    async with anyio.create_task_group() as tg:
        tg.start_soon(_ticker, sink)
        async with receive:
            async for batch in receive:
                while True:
                    _add_writable(sink, batch)
                    try:
                        batch = receive.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                if sink.due:
                    await sink.flush()
        tg.cancel_scope.cancel()
    await sink.flush()


def _add_writable(sink: Sink, batch: FunctionBatch) -> None:
    """Buffer ``batch``, or, when one of its configs cannot be written (nested deeper than fcaudit
    writes), the function as an ``error`` naming why. One odd config costs its own function, never the
    run: exactly one record of the function is accepted (and published)."""
    try:
        sink.add_batch(batch)
    except UnwritableRecordError as exc:
        key = batch.function.key
        log.warning(
            "crawl.function_unwritable",
            account=key.account,
            region=key.region,
            service=key.service,
            function=key.function,
            code=exc.code,
            message=exc.message,
        )
        sink.add_batch(batch.unwritable(exc))


async def _ticker(sink: Sink) -> None:
    while True:
        await anyio.sleep(sink.flush_seconds / 2)
        if sink.due:
            await sink.flush()


# -- resume --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResumeState:
    """What a previous run left in its output file."""

    path: Path
    start: RunRecord
    #: the functions the new run skips (whose last record is not ``error``, or any with retry_errors off)
    finished: frozenset[FunctionKey]
    keep_bytes: int  # the file is cut here: the end of the last complete function record
    dropped_bytes: int  # what lies beyond (torn line, orphan configs, an end run record)
    #: functions whose last record is ``error``, crawled again by this run (even if discovery misses them)
    retry: frozenset[FunctionKey] = frozenset()

    @property
    def retrying(self) -> int:
        return len(self.retry)

    @property
    def fingerprint(self) -> str | None:
        value = self.start.data.get("fingerprint")
        return value if isinstance(value, str) else None


def scan_for_resume(
    path: Path, subscribers: Subscribers | None = None, *, retry_errors: bool = True
) -> ResumeState | None:
    """Read a previous run's output; ``None`` when there is nothing to resume (missing or empty file).
    ``retry_errors``: functions whose last record is ``error`` are not finished (crawled again).

    Every kept record (the start record, then each complete function's configs and function record, in
    file order) is published to ``subscribers`` — the same ones the sink that continues the file tells
    of its records — so the live summary and the run statistics cover the whole file. A corrupt line
    anywhere but the torn tail, or a file that does not begin with an fcaudit start record, raises
    ``ResumeError``.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ResumeError(f"cannot read --output {path} to resume: {_describe_os_error(exc)}") from None
    with handle:
        return _scan(path, handle, subscribers or Subscribers(), retry_errors)


def _scan(path: Path, handle: BinaryIO, subscribers: Subscribers, retry_errors: bool) -> ResumeState | None:
    start: RunRecord | None = None
    last: dict[FunctionKey, str] = {}  # each function's last status
    keep = 0
    offset = 0
    held: list[Written] = []  # configs after the last function record: kept only if one follows
    publish = subscribers.publish
    lineno = 0
    for line in handle:
        lineno += 1
        end = offset + len(line)
        if not line.endswith(b"\n"):
            break  # a torn last line: cut off
        try:
            written = parse_written(line, lineno)
            record = written.record
            if isinstance(record, RunRecord) and too_deep(line, record.data):  # kept in the live summary
                raise InputError(f"line {lineno}: {too_deep_message()}")
        except InputError as exc:
            raise ResumeError(f"cannot resume from {path}: {exc.message}; the file is damaged") from None
        if start is None:
            if not (isinstance(record, RunRecord) and record.phase == "start"):
                raise ResumeError(
                    f"cannot resume from {path}: it does not begin with an fcaudit 'run' start record"
                )
            start = record
            keep = end
            publish(written)
        elif isinstance(record, FunctionRecord):
            if last.get(record.key, "error") != "error":  # only an error may be crawled again
                raise ResumeError(f"cannot resume from {path}: line {lineno} repeats function {record.key}")
            last[record.key] = record.status
            for kept in held:
                publish(kept)
            publish(written)
            held = []
            keep = end
        elif isinstance(record, ConfigRecord):
            held.append(written)
        # run records after the start (an earlier end record) are dropped with the tail or kept in place
        offset = end
    size = path.stat().st_size
    if start is None:
        if lineno <= 1 and offset == 0:
            return None  # empty, or only a torn first line: nothing worth keeping
        raise ResumeError(f"cannot resume from {path}: it does not begin with an fcaudit 'run' start record")
    finished = frozenset(k for k, status in last.items() if not (retry_errors and status == "error"))
    return ResumeState(
        path=path,
        start=start,
        finished=finished,
        keep_bytes=keep,
        dropped_bytes=size - keep,
        retry=frozenset(last) - finished,
    )


def check_resume(state: ResumeState, fingerprint: str, *, force: bool) -> None:
    """Refuse to continue a file another crawl (other targets, filters or settings) started."""
    if state.fingerprint == fingerprint:
        return
    if force:
        log.warning("resume.fingerprint_mismatch_forced", path=str(state.path))
        return
    raise ResumeError(
        f"{state.path} was written by a crawl with other targets, filters or settings; "
        "run without --resume to start over, or pass --force-resume to continue it anyway"
    )
