"""``store.merge``'s parts on hand-written shard files, with literal expectations: each refusal's exact
words, how the last line is found (long lines, no final newline, blanks after it), the merged start and
end records field by field, the body's checks record by record, and what ``merge_shards`` reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.errors import InputError, OutputError
from crawler.store.merge import (
    ShardFile,
    check_set,
    inspect_shard,
    merge_shards,
    merged_end,
    merged_start,
    shard_body,
)
from crawler.store.shard import ShardSpec, shard_of

RUN = "f" * 32
A, R = "1", "cn-hangzhou"


def owned(index: int, count: int, n: int = 2) -> list[str]:
    """The first ``n`` services named svc-<i> that shard ``index`` of ``count`` owns."""
    found = [f"svc-{i}" for i in range(200) if shard_of(A, R, f"svc-{i}", count) == index]
    return found[:n]


def start(index: int, count: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "run",
        "phase": "start",
        "startedAt": f"2024-05-01T00:00:0{index}+00:00",
        "fingerprint": f"{RUN[:24]}-{index}-{count}",
        "runFingerprint": RUN,
        "shard": {"index": index, "count": count},
        **extra,
    }


def end(**extra: Any) -> dict[str, Any]:
    return {"type": "run", "phase": "end", "complete": True, **extra}


def config(service: str) -> dict[str, Any]:
    return {
        "type": "config",
        "account": A,
        "region": R,
        "service": service,
        "function": "fn",
        "qualifier": "LATEST",
        "config": {},
    }


def write(path: Path, *lines: dict[str, Any] | bytes, final_newline: bool = True) -> Path:
    data = b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)
    path.write_bytes(data + (b"\n" if final_newline else b""))
    return path


def refusal(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        inspect_shard(path)
    return caught.value.message


# ---- inspect_shard -----------------------------------------------------------------------------


def test_files_that_are_not_a_finished_shard_are_refused_in_words(tmp_path: Path) -> None:
    p = tmp_path / "s.ndjson"
    assert refusal(p) == f"{p}: no such file"
    assert refusal(tmp_path) == f"{tmp_path}: is a directory, not a shard's NDJSON file"
    p.write_bytes(b"")
    assert refusal(p) == f"{p}: is empty, not a shard's NDJSON file"
    p.write_bytes(b"{oops\n")
    assert refusal(p).startswith(f"{p} line 1: not valid JSON (")
    for first in ([1, 2], config("svc"), {"type": "config", "phase": "start"}, end()):
        write(p, first, end())  # type: ignore[arg-type]
        assert refusal(p) == f"{p}: does not begin with an fcaudit 'run' start record", first
    write(p, {"type": "run", "phase": "start"}, end())
    assert refusal(p) == f"{p}: was not written with --shard K/N (its start record names no shard)"


@pytest.mark.parametrize(
    "last",
    [
        None,  # only the start record
        config("svc"),
        {"type": "config", "phase": "end"},
        b'{"type":"run","phase":"end"',  # torn
        b'{"type":"run","phase":"end","complete":true}  ',  # blanks after it
        b'{"type":"run","phase":"end","complete":true}X',  # junk after it
    ],
)
def test_a_shard_without_an_end_record_did_not_finish(
    tmp_path: Path, last: dict[str, Any] | bytes | None
) -> None:
    p = tmp_path / "s.ndjson"
    write(p, start(1, 4), *([] if last is None else [last]))
    assert refusal(p) == (
        f"{p} (shard 1/4): has no end record, so that crawl did not finish; "
        "finish it with `fcaudit crawl ... --resume` and merge again"
    )


def test_a_broken_last_line_that_looks_like_an_object_is_named(tmp_path: Path) -> None:
    p = write(tmp_path / "s.ndjson", start(1, 4), b'{"type":"run",}')
    assert refusal(p).startswith(f"{p} last line: not valid JSON (")


def test_the_last_line_is_found_however_long_and_however_spaced(tmp_path: Path) -> None:
    long_end = end(discoveryErrors=[{"account": A, "region": R, "service": "s" * 100}] * 1000)
    assert len(orjson.dumps(long_end)) > 64 * 1024  # longer than the block read backwards
    p = write(tmp_path / "s.ndjson", start(0, 1), config("a"), long_end)
    assert inspect_shard(p).end == long_end
    spaced = b'{"type": "run", "phase": "end", "complete": true}'  # written by hand, not by fcaudit
    p = write(tmp_path / "t.ndjson", start(0, 1), spaced, final_newline=False)
    assert inspect_shard(p).end == {"type": "run", "phase": "end", "complete": True}


def test_a_one_line_file_just_over_a_block_is_still_read_to_its_first_byte(tmp_path: Path) -> None:
    head = orjson.dumps(start(0, 1, pad=""))
    pad = 64 * 1024 + 1 - len(head) - 1  # the whole file: 65,537 bytes, newline included
    p = write(tmp_path / "s.ndjson", start(0, 1, pad="x" * pad))
    assert p.stat().st_size == 64 * 1024 + 1
    assert "has no end record" in refusal(p)


# ---- check_set ---------------------------------------------------------------------------------


def shard(path: str, index: int, count: int, run: str = RUN) -> ShardFile:
    return ShardFile(Path(path), ShardSpec(index, count), run, start(index, count), end())


def refused_set(*shards: ShardFile) -> str:
    with pytest.raises(InputError) as caught:
        check_set(shards)
    return caught.value.message


def test_a_set_of_shards_is_refused_in_words() -> None:
    assert refused_set() == "no shard files given"
    assert refused_set(shard("a", 0, 4), shard("b", 1, 3)) == (
        "b is shard 1/3 but a is shard 0/4: shards of one run share N"
    )
    assert refused_set(shard("a", 0, 2), shard("b", 1, 2, run="e" * 32)) == (
        "b belongs to another run than a (different targets, filters or settings: run fingerprints differ)"
    )
    assert refused_set(shard("a", 0, 4), shard("c", 2, 4)) == (
        "shard(s) 1/4, 3/4 missing: pass all 4 shard files of the run"
    )
    assert check_set([shard("a", 0, 1)]) == 1


# ---- the merged run records ------------------------------------------------------------------------


def test_the_merged_start_record() -> None:
    first = ShardFile(
        Path("a"),
        ShardSpec(0, 2),
        RUN,
        start(0, 2, tool="fcaudit"),
        end(finishedAt="2024-05-01T01:00:00+00:00"),
    )
    second = ShardFile(
        Path("b"),
        ShardSpec(1, 2),
        RUN,
        {**start(1, 2), "startedAt": "2024-04-30T23:00:00+00:00"},
        end(complete=False),
    )
    head = merged_start([first, second])
    assert head == {
        **start(0, 2, tool="fcaudit"),
        "shard": None,
        "fingerprint": RUN,
        "startedAt": "2024-04-30T23:00:00+00:00",  # the earliest
        "mergedShards": [
            {
                "index": 0,
                "count": 2,
                "file": "a",
                "startedAt": "2024-05-01T00:00:00+00:00",
                "finishedAt": "2024-05-01T01:00:00+00:00",
                "complete": True,
            },
            {
                "index": 1,
                "count": 2,
                "file": "b",
                "startedAt": "2024-04-30T23:00:00+00:00",
                "finishedAt": None,
                "complete": False,
            },
        ],
    }


def test_a_merged_start_without_string_times_keeps_the_first_shards() -> None:
    only = ShardFile(Path("a"), ShardSpec(0, 1), RUN, {**start(0, 1), "startedAt": 5}, end())
    assert merged_start([only])["startedAt"] == 5
    assert merged_start([only])["fingerprint"] == RUN


def test_the_merged_end_record() -> None:
    ends = [
        end(
            finishedAt="2024-05-01T01:00:00+00:00",
            interrupted=None,
            requests=10,
            throttled="many",  # not a number: counts 0
            functions={"ok": 3, "error": 1},
            errorsByCode={"ServerError": 1},
            elapsedSeconds=1.23456,
        ),
        end(
            complete=False,
            finishedAt="2024-05-01T02:00:00+00:00",
            interrupted="SIGTERM",
            aborted="deadline",
            requests=5,
            functions={"ok": 1, "none": 2},
            errorsByCode={"AccessDenied": 2, "ServerError": 1},
            elapsedSeconds=2,
            discoveryErrors=[{"account": A}],
        ),
    ]
    shards = [ShardFile(Path(str(i)), ShardSpec(i, 2), RUN, start(i, 2), e) for i, e in enumerate(ends)]
    assert merged_end(shards) == {
        "type": "run",
        "phase": "end",
        "complete": False,
        "finishedAt": "2024-05-01T02:00:00+00:00",
        "interrupted": "SIGTERM",
        "aborted": "deadline",
        "discoveryErrors": [{"account": A}],
        "requests": 15,
        "throttled": 0,
        "retries": 0,
        "functionsDiscovered": 0,
        "configs": 0,
        "pages": 0,
        "duplicateConfigsDropped": 0,
        "resumedFunctions": 0,
        "triggerRequests": 0,
        "triggerErrors": 0,
        "functions": {"ok": 4, "none": 2, "gone": 0, "error": 1},
        "errorsByCode": {"AccessDenied": 2, "ServerError": 2},
        "elapsedSeconds": 2.0,
        "shardSeconds": 3.235,
        "shards": 2,
    }
    assert merged_end(shards[:1])["elapsedSeconds"] == 1.235
    bare = merged_end(
        [ShardFile(Path("a"), ShardSpec(0, 1), RUN, start(0, 1), {"type": "run", "phase": "end"})]
    )
    assert (bare["finishedAt"], bare["interrupted"], bare["aborted"]) == (None, None, None)


# ---- the body --------------------------------------------------------------------------------------


def body_of(path: Path) -> list[dict[str, Any]]:
    return [record for _, record in shard_body(inspect_shard(path))]


def body_refusal(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        body_of(path)
    return caught.value.message


def test_blank_lines_stray_end_records_and_a_missing_final_newline_are_read_past(tmp_path: Path) -> None:
    a, b = owned(0, 2)
    p = write(
        tmp_path / "s.ndjson", start(0, 2), config(a), b"", end(), config(b), end(), final_newline=False
    )
    assert [r["service"] for r in body_of(p)] == [a, b]
    lines = [line for line, _ in shard_body(inspect_shard(p))]
    assert all(line.endswith(b"\n") for line in lines)


def test_each_body_line_is_checked(tmp_path: Path) -> None:
    mine, theirs = owned(0, 2, 1)[0], owned(1, 2, 1)[0]
    p = tmp_path / "s.ndjson"
    write(p, start(0, 2), config(mine), b"{oops", end())
    assert body_refusal(p).startswith(f"{p} line 3: not valid JSON (")
    write(p, start(0, 2), start(0, 2), end())
    assert body_refusal(p) == f"{p} line 2: a second start record; is this two files in one?"
    write(p, start(0, 2), b"[1, 2]", end())
    assert body_refusal(p) == f"{p} line 2: not an fcaudit config or function record"
    for partial in (
        {"account": A, "region": R},
        {"region": R, "service": mine},
        {"account": A, "service": mine},
    ):
        write(p, start(0, 2), {"type": "config", **partial}, end())
        assert body_refusal(p) == f"{p} line 2: record without account, region and service", partial
    write(p, start(0, 2), config(mine), config(theirs), end())
    assert body_refusal(p) == (
        f"{p} line 3: service {theirs} (account {A}, region {R}) belongs to shard 1/2, not 0/2"
    )
    # svc-0 is shard 3's of 4 (pinned in test_shard); the message names the owner, not the reader
    write(p, start(2, 4), config("svc-0"), end())
    assert (
        body_refusal(p)
        == f"{p} line 2: service svc-0 (account {A}, region {R}) belongs to shard 3/4, not 2/4"
    )
    deep: Any = "leaf"
    for _ in range(250):
        deep = [deep]
    write(p, start(0, 2), {**config(mine), "config": {"deep": deep}}, end())
    assert len(body_of(p)) == 1  # a deep config is copied as it is (the summary quotes it safely)
    write(p, start(0, 2, deep=deep), end())
    assert refusal(p) == (
        f"{p} line 1: nested deeper than 200 levels of JSON objects and arrays, more than fcaudit writes"
    )
    write(p, start(0, 2), end(deep=deep))  # the end record is copied into the merged one too
    assert refusal(p) == (
        f"{p} last line: nested deeper than 200 levels of JSON objects and arrays, more than fcaudit writes"
    )


# ---- merge_shards ----------------------------------------------------------------------------------


def test_merge_shards_reports_every_record_in_order(tmp_path: Path) -> None:
    paths = [write(tmp_path / f"{k}.ndjson", start(k, 2), config(owned(k, 2, 1)[0]), end()) for k in (0, 1)]
    seen: list[tuple[str, str]] = []
    count, last = merge_shards(
        paths, tmp_path / "out.ndjson", lambda r: seen.append((r["type"], r.get("phase", "")))
    )
    assert count == 2
    assert seen == [("run", "start"), ("config", ""), ("config", ""), ("run", "end")]
    assert last["shards"] == 2
    with pytest.raises(OutputError, match=r"^the merged file .* is a directory; name a file"):
        merge_shards(paths, tmp_path)
    missing = tmp_path / "missing" / "out.ndjson"
    with pytest.raises(OutputError) as caught:
        merge_shards(paths, missing)
    assert (
        str(caught.value)
        == f"cannot write the merged file {missing}: directory {missing.parent} does not exist"
    )
    with pytest.raises(InputError) as refused:
        merge_shards(paths, paths[1])
    assert (
        refused.value.message == f"{paths[1]} is also one of the shard files; write the merge to another file"
    )
