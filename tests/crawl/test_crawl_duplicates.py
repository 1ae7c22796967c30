"""A qualifier answered twice within one function's listing is written once, and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crawl_support import clean_env, read_ndjson, run_cli
from tests.support.hostile import HostileServer
from tests.support.hostile.duplicates import duplicate_qualifiers


def test_a_qualifier_listed_twice_is_written_once_and_counted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Pins duplicate dropping within one listing: the first config of a qualifier is kept (``""`` and
    ``LATEST`` are one qualifier), later ones are dropped, the function record counts what was written,
    and the end record's ``duplicateConfigsDropped`` counts what was dropped."""
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIduplicates0000")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret")
    out = tmp_path / "out.ndjson"
    with HostileServer(duplicate_qualifiers()) as server:
        argv = ["crawl", "--endpoint", server.endpoint, "--account", "1234567890123456"]
        assert run_cli([*argv, "--region", "cn-hangzhou", "-o", str(out), "-q"]) == 0

    records = read_ndjson(out)
    configs = [(r["function"], r["qualifier"], r["config"]) for r in records if r["type"] == "config"]
    assert sorted(configs, key=lambda c: (c[0], c[1])) == [
        ("dup", "LATEST", {"qualifier": "", "maxAsyncRetryAttempts": 2}),
        ("dup", "prod", {"qualifier": "prod", "maxAsyncRetryAttempts": 1}),
        ("dup", "v1", {"qualifier": "v1", "maxAsyncRetryAttempts": 3}),
        ("plain", "LATEST", {"qualifier": "LATEST", "maxAsyncRetryAttempts": 0}),
    ]
    functions = {
        r["function"]: (r["status"], r["configs"], r["pages"]) for r in records if r["type"] == "function"
    }
    assert functions == {"dup": ("ok", 3, 2), "plain": ("ok", 1, 1)}
    end = records[-1]
    assert end["complete"] is True
    assert end["configs"] == 4
    assert end["duplicateConfigsDropped"] == 2
