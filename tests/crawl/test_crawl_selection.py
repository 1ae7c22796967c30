"""Glob filters and the ``--targets`` file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.crawl.selection import NameFilter, PairSpec, Selection, parse_targets, read_targets_file
from crawler.errors import InputError


def test_include_and_exclude_globs() -> None:
    f = NameFilter(include=("prod-*",), exclude=("prod-test-*",))
    assert f.matches("prod-api")
    assert not f.matches("prod-test-api")
    assert not f.matches("dev-api")
    assert NameFilter().matches("anything")
    assert not NameFilter(exclude=("*",)).matches("x")


def test_function_globs_with_a_slash_match_service_slash_function() -> None:
    sel = Selection(functions=NameFilter(exclude=("legacy-*/*",), include=("*",)))
    assert sel.wants_function("app", "legacy-worker")
    assert not sel.wants_function("legacy-app", "worker")
    sel = Selection(services=NameFilter(include=("a*",)), functions=NameFilter(include=("*-job",)))
    assert sel.wants_function("app", "nightly-job")
    assert not sel.wants_function("app", "nightly")
    assert not sel.wants_function("bpp", "nightly-job")


def test_targets_file_both_forms_comments_and_duplicates() -> None:
    lines = [
        "# pairs to re-crawl",
        "",
        "svc-a/fn-1",
        '{"service": "svc-b", "function": "fn 2", "region": "cn-shanghai"}',
        '{"type": "function", "account": "123", "region": "cn-hangzhou", "service": "s", "function": "f"}',
        "svc-a/fn-1",
    ]
    assert parse_targets(lines, "t") == (
        PairSpec("svc-a", "fn-1", line=3),
        PairSpec("svc-b", "fn 2", None, "cn-shanghai", line=4),
        PairSpec("s", "f", "123", "cn-hangzhou", line=5),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("just-a-service", "line 2: expected 'service/function'"),
        ("a/b/c", "line 2: expected"),
        ("/fn", "line 2: expected"),
        ("svc /fn", "line 2: expected"),
        ('{"service": "s"}', "line 2: expected"),
        ('{"service": "s", "function": 3}', "line 2: expected"),
        ('{"service": "s", "function": "f", "region": 5}', "line 2: field 'region'"),
        ("{not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected"),
    ],
)
def test_bad_targets_lines_name_their_line(line: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_targets(["ok/fine", line], "--targets t.txt")


def test_an_empty_targets_file_is_refused() -> None:
    with pytest.raises(InputError, match="no service/function pairs"):
        parse_targets(["# nothing", ""], "--targets t.txt")


def test_reading_a_missing_or_binary_targets_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_targets_file(tmp_path / "nope.txt")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        read_targets_file(binary)
