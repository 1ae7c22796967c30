"""``fcaudit merge``: shard files of one run become one file; anything missing, doubled, unfinished or
foreign is refused in one line (exit 2) and leaves no output behind. Shard assignment is checked per
record with the same hash ``--shard`` uses."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.errors import UsageError
from crawler.store.shard import ShardSpec, shard_of
from tests.support.crawl_support import read_ndjson, run_cli

RUN = "f" * 32


def start(
    index: int, count: int, run: str = RUN, started: str = "2024-05-01T00:00:00+00:00"
) -> dict[str, Any]:
    return {
        "type": "run",
        "phase": "start",
        "tool": "fcaudit",
        "startedAt": started,
        "targets": [{"account": "1", "region": "cn-hangzhou", "endpoint": "http://127.0.0.1:1"}],
        "fingerprint": f"{run[:24]}-{index}-{count}",
        "runFingerprint": run,
        "shard": {"index": index, "count": count},
    }


def end(complete: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "type": "run",
        "phase": "end",
        "complete": complete,
        "finishedAt": "2024-05-01T00:01:00+00:00",
        "requests": 10,
        "throttled": 1,
        "retries": 2,
        "errorsByCode": {"Timeout": 1},
        "functionsDiscovered": 3,
        "functions": {"ok": 2, "none": 1, "gone": 0, "error": 0},
        "configs": 4,
        "pages": 3,
        "elapsedSeconds": 1.5,
        "discoveryErrors": [],
        **extra,
    }


def records_of(service: str) -> list[dict[str, Any]]:
    key = {"account": "1", "region": "cn-hangzhou", "service": service, "function": "fn"}
    body = {"service": service, "function": "fn", "qualifier": "LATEST", "maxAsyncRetryAttempts": 1}
    return [
        {"type": "config", **key, "qualifier": "LATEST", "config": body},
        {"type": "function", **key, "status": "ok", "configs": 1, "pages": 1, "error": None},
    ]


def services_by_shard(count: int, per_shard: int = 2) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {k: [] for k in range(count)}
    n = 0
    while any(len(v) < per_shard for v in found.values()):
        name = f"svc-{n:03d}"
        owner = shard_of("1", "cn-hangzhou", name, count)
        if len(found[owner]) < per_shard:
            found[owner].append(name)
        n += 1
    return found


def write(path: Path, *records: dict[str, Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def shard_files(tmp_path: Path, count: int = 4) -> list[Path]:
    owned = services_by_shard(count)
    return [
        write(
            tmp_path / f"shard-{k}.ndjson",
            start(k, count, started=f"2024-05-01T00:00:0{k}+00:00"),
            *(r for s in owned[k] for r in records_of(s)),
            end(),
        )
        for k in range(count)
    ]


def test_shard_of_is_stable_and_spreads() -> None:
    assert shard_of("1234567890123456", "cn-hangzhou", "orders-0001", 4) == shard_of(
        "1234567890123456", "cn-hangzhou", "orders-0001", 4
    )
    spread = Counter(shard_of("1", "cn-hangzhou", f"svc-{i}", 4) for i in range(4000))
    assert set(spread) == {0, 1, 2, 3}
    assert min(spread.values()) > 800  # blake2b spreads evenly
    assert ShardSpec.parse(" 3/4 ") == ShardSpec(3, 4)
    for bad in ("4/4", "1/0", "x/4", "1"):
        with pytest.raises(UsageError, match="--shard"):
            ShardSpec.parse(bad)


def test_merge_combines_the_shards_into_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shards = shard_files(tmp_path)
    out = tmp_path / "merged.ndjson"
    summary = tmp_path / "summary.json"
    argv = ["merge", "-o", str(out), *reversed([str(p) for p in shards]), "--summary", str(summary)]
    assert run_cli([*argv, "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("#")  # --format is what is printed ...
    assert orjson.loads(summary.read_bytes())["complete"] is True  # ... --summary is always JSON
    merged = read_ndjson(out)
    body = [r for p in shards for r in read_ndjson(p) if r["type"] != "run"]
    assert merged[1:-1] == body  # shard order, byte for byte
    head, tail = merged[0], merged[-1]
    assert head["shard"] is None
    assert head["fingerprint"] == RUN
    assert head["startedAt"] == "2024-05-01T00:00:00+00:00"
    assert [m["index"] for m in head["mergedShards"]] == [0, 1, 2, 3]
    assert tail["complete"] is True
    assert (tail["requests"], tail["throttled"], tail["configs"]) == (40, 4, 16)
    assert tail["functions"] == {"ok": 8, "none": 4, "gone": 0, "error": 0}
    assert tail["errorsByCode"] == {"Timeout": 4}
    assert (tail["elapsedSeconds"], tail["shardSeconds"]) == (1.5, 6.0)
    argv = ["merge", "-o", str(out), *reversed([str(p) for p in shards])]
    assert run_cli(argv) == 0
    captured = capsys.readouterr()
    assert "merged 4 shards" in captured.err
    assert run_cli(["summarize", str(out), "--strict"]) == 0  # the merged file is one whole run


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path) -> str:
    capsys.readouterr()
    assert run_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*"))
    return err


def test_bad_shard_sets_are_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shards = shard_files(tmp_path)
    out = tmp_path / "merged.ndjson"
    paths = [str(p) for p in shards]

    assert "shard(s) 2/4 missing" in refused(capsys, ["merge", "-o", str(out), *paths[:2], paths[3]], out)
    assert "shard 1/4 is given twice" in refused(capsys, ["merge", "-o", str(out), *paths, paths[1]], out)

    other = write(tmp_path / "other.ndjson", start(2, 4, run="e" * 32), end())
    assert "belongs to another run" in refused(
        capsys, ["merge", "-o", str(out), *paths[:2], str(other), paths[3]], out
    )

    three = write(tmp_path / "three.ndjson", start(2, 3), end())
    assert "shards of one run share N" in refused(
        capsys, ["merge", "-o", str(out), *paths[:2], str(three)], out
    )

    unfinished = tmp_path / "unfinished.ndjson"
    unfinished.write_bytes(shards[2].read_bytes().rsplit(b"\n", 2)[0] + b"\n")
    err = refused(capsys, ["merge", "-o", str(out), *paths[:2], str(unfinished), paths[3]], out)
    assert "has no end record" in err
    assert "--resume" in err

    plain = write(tmp_path / "plain.ndjson", {**start(0, 4), "shard": None}, end())
    assert "was not written with --shard" in refused(capsys, ["merge", "-o", str(out), str(plain)], out)

    wrong = read_ndjson(shards[0])
    wrong[1:1] = records_of(services_by_shard(4)[1][0])
    foreign = write(tmp_path / "foreign.ndjson", *wrong)
    err = refused(capsys, ["merge", "-o", str(out), str(foreign), *paths[1:]], out)
    assert "foreign.ndjson line 2" in err
    assert "belongs to shard 1/4, not 0/4" in err

    assert "is the same file as the shard file" in refused(
        capsys, ["merge", "-o", paths[0], *paths], tmp_path / "never.ndjson"
    )


def test_an_incomplete_shard_makes_an_incomplete_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = shard_files(tmp_path, count=2)
    records = read_ndjson(shards[1])
    records[-1] = end(
        complete=False, discoveryErrors=[{"account": "1", "region": "cn-hangzhou", "service": None}]
    )
    write(shards[1], *records)
    out = tmp_path / "merged.ndjson"
    assert run_cli(["merge", "-o", str(out), *map(str, shards)]) == 3
    tail = read_ndjson(out)[-1]
    assert tail["complete"] is False
    assert len(tail["discoveryErrors"]) == 1
    assert "incomplete" in capsys.readouterr().err


def test_the_old_positional_form_is_refused_with_the_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = shard_files(tmp_path)
    out = tmp_path / "merged.ndjson"
    assert run_cli(["merge", str(out), *map(str, shards)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "fcaudit merge -o OUT SHARD..." in err
    assert not out.exists()
    assert all(read_ndjson(p) for p in shards)  # the shards untouched
