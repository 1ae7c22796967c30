"""A function record's facts — ``timeout``, ``triggers``, ``exposure``, ``triggersError`` — written and read
back, and the shapes they must keep (docs/records.md)."""

from __future__ import annotations

import orjson
import pytest

from crawler.errors import InputError
from crawler.store.records import (
    FunctionKey,
    FunctionRecord,
    TriggerInfo,
    function_facts,
    parse_line,
    to_bytes,
)

KEY = FunctionKey("1234567890123456", "cn-hangzhou", "media", "resize")


def line(**fields: object) -> bytes:
    base: dict[str, object] = {
        "type": "function",
        "account": KEY.account,
        "region": KEY.region,
        "service": KEY.service,
        "function": KEY.function,
        "status": "ok",
        "configs": 1,
        "pages": 1,
        "error": None,
    }
    base.update(fields)
    return orjson.dumps(base)


def test_a_record_with_triggers_round_trips() -> None:
    triggers = (TriggerInfo("http-0", "http", "sync"), TriggerInfo("oss-1", "oss", "async"))
    record = FunctionRecord(KEY, "ok", 2, 1, timeout=60, triggers=triggers)
    data = orjson.loads(to_bytes(record))
    assert data["timeout"] == 60
    assert data["exposure"] == "async"
    assert data["triggers"] == [
        {"name": "http-0", "type": "http", "mode": "sync"},
        {"name": "oss-1", "type": "oss", "mode": "async"},
    ]
    assert "triggersError" not in data
    assert parse_line(to_bytes(record)) == record


def test_without_triggers_the_record_has_unknown_exposure_and_no_triggers_key() -> None:
    data = orjson.loads(to_bytes(FunctionRecord(KEY, "none", 0, 1)))
    assert data["exposure"] == "unknown"
    assert data["timeout"] is None
    assert "triggers" not in data


def test_a_failed_listing_is_said_on_the_record() -> None:
    failure = {"code": "AccessDenied", "http": 403, "message": "no", "requestId": None, "attempts": 1}
    record = FunctionRecord(KEY, "ok", 1, 1, timeout=3, triggers_error=failure)
    data = orjson.loads(to_bytes(record))
    assert data["exposure"] == "unknown"
    assert data["triggersError"] == failure
    assert "triggers" not in data
    assert parse_line(to_bytes(record)) == record


def test_a_record_of_an_older_version_still_reads() -> None:
    record = parse_line(line())
    assert isinstance(record, FunctionRecord)
    assert record.timeout is None
    assert record.triggers is None
    assert record.exposure == "unknown"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"timeout": "60"}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"triggers": {}}, "triggers"),
        ({"triggers": [{"name": "a", "type": "oss"}], "exposure": "async"}, "mode"),
        ({"triggers": [{"name": "a", "type": "oss", "mode": "often"}], "exposure": "async"}, "mode"),
        ({"triggers": [{"name": "a", "type": "oss", "mode": "async"}], "exposure": "sync"}, "exposure"),
        ({"exposure": "async"}, "exposure"),  # async with no trigger data cannot be
        ({"triggersError": "broken"}, "triggersError"),
    ],
)
def test_a_malformed_fact_is_refused_with_its_line(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_line(line(**fields), 7)
    assert caught.value.message.startswith("line 7:")
    assert needle in caught.value.message


def test_the_facts_of_a_line_without_building_its_record() -> None:
    facts = function_facts(orjson.loads(line(timeout=60, triggers=[], exposure="sync")), 3)
    assert (facts.timeout, facts.triggers, facts.exposure) == (60, (), "sync")
    old = function_facts(orjson.loads(line()))
    assert (old.timeout, old.triggers, old.exposure) == (None, None, "unknown")
    with pytest.raises(InputError) as caught:
        function_facts(orjson.loads(line(exposure="async")), 3)
    assert caught.value.message.startswith("line 3:")
