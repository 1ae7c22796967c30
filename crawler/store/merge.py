"""``fcaudit merge``: N shard files of one run (``crawl --shard K/N``) → one NDJSON file, checked.

Shards are written by independent processes, so before anything is combined every file must prove it
belongs: it starts with a ``run`` start record naming shard ``K/N`` and the run's fingerprint, it ends
with its ``run`` end record (the process finished), all name the same ``N`` and the same run, and every
``K`` from 0 to ``N-1`` is present exactly once. While the records are copied, each one is checked to
belong to its file's shard (the same hash ``--shard`` used), so two shards can never both hold a
function and a file from another run cannot slip in. Any failure is one line naming the file (and the
line), and no output is left behind: the merged file is written beside ``OUT`` and renamed into place
only when everything checked out. ``OUT`` is locked (``crawler.store.output_lock``) for the whole merge.

The merged file reads like one unsharded crawl: one start record (shard 0's, with ``shard: null``, the
run fingerprint as its fingerprint, and ``mergedShards`` listing the parts), the shards' config and
function records in shard order, byte for byte, and one end record whose counters are the shards' sums
(``elapsedSeconds`` is the longest shard's, ``shardSeconds`` their sum; ``complete`` only if every shard
was). Memory stays flat: lines are streamed, never held.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import orjson

from crawler.errors import InputError, reading
from crawler.store.atomic_file import AtomicFile, same_file
from crawler.store.output_lock import lock_output
from crawler.store.records import too_deep, too_deep_message
from crawler.store.shard import ShardSpec, shard_of

TAIL_BLOCK: Final = 64 * 1024
#: end-record counters that add up across shards
SUMMED: Final = (
    "requests",
    "throttled",
    "retries",
    "functionsDiscovered",
    "configs",
    "pages",
    "duplicateConfigsDropped",
    "resumedFunctions",
    "triggerRequests",
    "triggerErrors",
)


def _load(line: bytes, where: str, *, whole: bool = False) -> Any:
    """One line's JSON; ``whole``: a run record, copied into the merged file's own, checked for depth
    (configs and function records are copied as they are, and the summary quotes them safely)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    if whole and too_deep(line, obj):
        raise InputError(f"{where}: {too_deep_message()}")
    return obj


def _last_line(handle: IO[bytes], size: int) -> bytes:
    """The file's last non-empty line, read backwards in blocks (end records are small, files are not)."""
    tail = b""
    position = size
    while position > 0:
        step = min(TAIL_BLOCK, position)
        position -= step
        handle.seek(position)
        tail = handle.read(step) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail.rstrip(b"\n")


@dataclass(frozen=True, slots=True)
class ShardFile:
    """One shard's output file, its start and end ``run`` records read and checked."""

    path: Path
    spec: ShardSpec
    run: str
    start: Mapping[str, Any]
    end: Mapping[str, Any]


def inspect_shard(path: Path) -> ShardFile:
    """Open ``path`` and check it is a finished shard of some run; ``InputError`` naming what is wrong."""
    name = str(path)
    with reading(name, "a shard's NDJSON file"), path.open("rb") as handle:
        first = handle.readline()
        size = os.fstat(handle.fileno()).st_size
        last = _last_line(handle, size) if first else b""
    if not first.strip():
        raise InputError(f"{name}: is empty, not a shard's NDJSON file")
    start = _load(first, f"{name} line 1", whole=True)
    if not (isinstance(start, dict) and start.get("type") == "run" and start.get("phase") == "start"):
        raise InputError(f"{name}: does not begin with an fcaudit 'run' start record")
    spec = ShardSpec.from_dict(start.get("shard"))
    run = start.get("runFingerprint")
    if spec is None or not isinstance(run, str):
        raise InputError(f"{name}: was not written with --shard K/N (its start record names no shard)")
    end = _load(last, f"{name} last line", whole=True) if last.endswith(b"}") else None
    if not (isinstance(end, dict) and end.get("type") == "run" and end.get("phase") == "end"):
        raise InputError(
            f"{name} (shard {spec.label}): has no end record, so that crawl did not finish; "
            "finish it with `fcaudit crawl ... --resume` and merge again"
        )
    return ShardFile(path, spec, run, start, end)


def check_set(shards: Sequence[ShardFile]) -> int:
    """The shard count N, once the files are all the shards of one run, each exactly once."""
    if not shards:
        raise InputError("no shard files given")
    first = shards[0]
    seen: dict[int, ShardFile] = {}
    for shard in shards:
        if shard.spec.count != first.spec.count:
            raise InputError(
                f"{shard.path} is shard {shard.spec.label} but {first.path} is shard {first.spec.label}: "
                "shards of one run share N"
            )
        if shard.run != first.run:
            raise InputError(
                f"{shard.path} belongs to another run than {first.path} (different targets, filters or "
                "settings: run fingerprints differ)"
            )
        twin = seen.get(shard.spec.index)
        if twin is not None:
            raise InputError(f"shard {shard.spec.label} is given twice: {twin.path} and {shard.path}")
        seen[shard.spec.index] = shard
    count = first.spec.count
    missing = [f"{k}/{count}" for k in range(count) if k not in seen]
    if missing:
        raise InputError(f"shard(s) {', '.join(missing)} missing: pass all {count} shard files of the run")
    return count


def merged_start(shards: Sequence[ShardFile]) -> dict[str, Any]:
    head = dict(shards[0].start)
    starts = [str(s.start["startedAt"]) for s in shards if isinstance(s.start.get("startedAt"), str)]
    head.update(
        shard=None,
        fingerprint=shards[0].run,
        startedAt=min(starts) if starts else head.get("startedAt"),
        mergedShards=[
            {
                **s.spec.as_dict(),
                "file": str(s.path),
                "startedAt": s.start.get("startedAt"),
                "finishedAt": s.end.get("finishedAt"),
                "complete": s.end.get("complete") is True,
            }
            for s in shards
        ],
    )
    return head


def _number(value: Any) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def merged_end(shards: Sequence[ShardFile]) -> dict[str, Any]:
    ends = [s.end for s in shards]
    out: dict[str, Any] = {"type": "run", "phase": "end"}
    out["complete"] = all(e.get("complete") is True for e in ends)
    finished = [e["finishedAt"] for e in ends if isinstance(e.get("finishedAt"), str)]
    out["finishedAt"] = max(finished) if finished else None
    out["interrupted"] = next((e["interrupted"] for e in ends if e.get("interrupted")), None)
    out["aborted"] = next((e["aborted"] for e in ends if e.get("aborted")), None)
    out["discoveryErrors"] = [d for e in ends for d in (e.get("discoveryErrors") or [])]
    for name in SUMMED:
        out[name] = sum(int(_number(e.get(name))) for e in ends)
    functions: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for e in ends:
        for table, into in ((e.get("functions"), functions), (e.get("errorsByCode"), errors)):
            if isinstance(table, dict):
                into.update({str(k): int(_number(v)) for k, v in table.items()})
    out["functions"] = {s: functions.get(s, 0) for s in ("ok", "none", "gone", "error")}
    out["errorsByCode"] = dict(sorted(errors.items()))
    seconds = [float(_number(e.get("elapsedSeconds"))) for e in ends]
    out["elapsedSeconds"] = round(max(seconds), 3)
    out["shardSeconds"] = round(sum(seconds), 3)
    out["shards"] = len(shards)
    return out


def shard_body(shard: ShardFile) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """The config and function lines between a shard's run records, each checked to be the shard's,
    with the record each line holds (parsed once, here)."""
    spec, name = shard.spec, str(shard.path)
    owner: dict[tuple[str, str, str], bool] = {}
    with shard.path.open("rb") as handle:
        handle.readline()
        lineno = 1
        for line in handle:
            lineno += 1
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                line += b"\n"
            obj = _load(line, f"{name} line {lineno}")
            kind = obj.get("type") if isinstance(obj, dict) else None
            if kind == "run":
                if obj.get("phase") == "end":
                    continue  # the last line (inspect_shard checked): its counters go into the merged end
                raise InputError(f"{name} line {lineno}: a second start record; is this two files in one?")
            if kind not in ("config", "function"):
                raise InputError(f"{name} line {lineno}: not an fcaudit config or function record")
            account, region, service = obj.get("account"), obj.get("region"), obj.get("service")
            if not (isinstance(account, str) and isinstance(region, str) and isinstance(service, str)):
                raise InputError(f"{name} line {lineno}: record without account, region and service")
            key = (account, region, service)
            mine = owner.get(key)
            if mine is None:
                mine = owner[key] = spec.owns(account, region, service)
            if not mine:
                owner_index = shard_of(account, region, service, spec.count)
                raise InputError(
                    f"{name} line {lineno}: service {service} (account {account}, region {region}) belongs "
                    f"to shard {owner_index}/{spec.count}, not {spec.label}"
                )
            yield line, obj


def merge_shards(
    paths: Sequence[Path], out: Path, on_record: Callable[[dict[str, Any]], None] = lambda _r: None
) -> tuple[int, dict[str, Any]]:
    """Merge the shard files into ``out`` (atomically); (N, the merged end record). ``on_record`` sees
    every record written, in order."""
    if any(same_file(out, p) for p in paths):
        raise InputError(f"{out} is also one of the shard files; write the merge to another file")
    with lock_output(out, "the merged file"):  # one merge per OUT, before any shard is read
        return _merge(paths, out, on_record)


def _merge(
    paths: Sequence[Path], out: Path, on_record: Callable[[dict[str, Any]], None]
) -> tuple[int, dict[str, Any]]:
    shards = sorted((inspect_shard(p) for p in paths), key=lambda s: s.spec.index)
    count = check_set(shards)
    with AtomicFile(out, what="the merged file") as sink:
        start = {"type": "run", "phase": "start", **_without_type(merged_start(shards))}
        sink.write(orjson.dumps(start) + b"\n")
        on_record(start)
        for shard in shards:
            for line, record in shard_body(shard):
                sink.write(line)
                on_record(record)
        end = merged_end(shards)
        sink.write(orjson.dumps(end) + b"\n")
        on_record(end)
    return count, end


def _without_type(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("type", "phase")}
