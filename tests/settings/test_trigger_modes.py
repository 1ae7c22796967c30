"""The trigger-type table, its ``[audit] trigger_modes`` override and the per-trigger classifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.errors import ConfigError
from crawler.settings.config_file import load_config_file
from crawler.settings.trigger_modes import TRIGGER_MODES, check_trigger_modes, classify, effective_modes
from crawler.store.records import TriggerInfo, exposure_of


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("oss", "async"),
        ("log", "async"),
        ("cdn_events", "async"),
        ("timer", "async"),
        ("mns_topic", "async"),
        ("tablestore", "sync"),
        ("http", "sync"),
        ("alb", "unknown"),  # a type the table does not know is never guessed
        ("", "unknown"),
    ],
)
def test_the_table(kind: str, mode: str) -> None:
    assert classify(kind, {}) == mode


@pytest.mark.parametrize(
    ("config", "mode"),
    [
        ({"asyncInvocationType": True}, "async"),
        ({"asyncInvocationType": False}, "sync"),
        ({}, "unknown"),
        ({"asyncInvocationType": "true"}, "unknown"),  # not a boolean: not read as one
        (json.dumps({"asyncInvocationType": True}), "async"),  # FC 3.0 sends the config as a string
        (json.dumps({"asyncInvocationType": False}), "sync"),
        ("not json", "unknown"),
        ("[1, 2]", "unknown"),
        (None, "unknown"),
    ],
)
def test_an_eventbridge_trigger_is_decided_by_its_config(config: object, mode: str) -> None:
    assert classify("eventbridge", config) == mode


def test_an_override_fixes_a_type_eventbridge_included() -> None:
    modes = effective_modes(check_trigger_modes({"timer": "sync", "eventbridge": "async", "alb": "sync"}))
    assert classify("timer", {}, modes) == "sync"
    assert classify("alb", {}, modes) == "sync"
    assert classify("eventbridge", {"asyncInvocationType": False}, modes) == "async"
    assert classify("oss", {}, modes) == "async"  # the rest of the table stays
    assert TRIGGER_MODES["timer"] == "async"  # the table itself is untouched


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"timer": "sometimes"}, "trigger_modes.timer"),
        ({"timer": "unknown"}, "trigger_modes.timer"),
        ({"timer": True}, "trigger_modes.timer"),
        ("async", "must be a table"),
        ({"": "sync"}, "non-empty"),
    ],
)
def test_a_bad_override_is_refused(value: object, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_trigger_modes(value)
    assert needle in caught.value.message
    assert "\n" not in caught.value.message


def test_the_config_file_checks_the_override_and_the_switch(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[crawl]\ntriggers = true\n[audit]\ntrigger_modes = { log = "sync" }\n')
    data = load_config_file(good)
    assert data["crawl"]["triggers"] is True
    bad = tmp_path / "bad.toml"
    bad.write_text('[audit]\ntrigger_modes = { log = "maybe" }\n')
    with pytest.raises(ConfigError) as caught:
        load_config_file(bad)
    assert "[audit] trigger_modes.log" in caught.value.message
    switch = tmp_path / "switch.toml"
    switch.write_text('[crawl]\ntriggers = "yes"\n')
    with pytest.raises(ConfigError) as caught:
        load_config_file(switch)
    assert "triggers must be true or false" in caught.value.message


def test_exposure_from_modes() -> None:
    def of(*modes: str) -> tuple[TriggerInfo, ...]:
        return tuple(TriggerInfo(f"t{i}", "x", m) for i, m in enumerate(modes))  # type: ignore[arg-type]

    assert exposure_of(None) == "unknown"
    assert exposure_of(()) == "sync"
    assert exposure_of(of("sync", "sync")) == "sync"
    assert exposure_of(of("sync", "async")) == "async"
    assert exposure_of(of("unknown", "async")) == "async"
    assert exposure_of(of("sync", "unknown")) == "unknown"
