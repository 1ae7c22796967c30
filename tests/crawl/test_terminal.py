"""A terminal that stays readable (issue 16, item 4): the progress line fits 80 columns, shows errors
and retries as they happen, never shares a line with a log message, is off with ``--no-progress`` and
``-q``; ``NO_COLOR`` and a stream that is not a terminal turn colour off, logs included."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from crawler.crawl.progress import describe, fitted
from crawler.emulator.faults import FaultConfig
from crawler.emulator.model import AccountSpec
from crawler.log import CLEAR_LINE, StatusStream, colour_wanted
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import clean_env, run_cli, target_args, use_emulator_keys
from tests.support.fixtures import EmulatorFactory

SGR = re.compile(r"\x1b\[[0-9;]*m")  # a colour or style escape


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """The lines a terminal shows for ``raw``: ``CLEAR_LINE`` erases the line being written, ``\\n``
    ends it. What a reader sees, so two things on one line are two things on one screen line."""
    lines, current = [], ""
    for part in re.split(f"({re.escape(CLEAR_LINE)}|\n)", raw):
        if part == CLEAR_LINE:
            current = ""
        elif part == "\n":
            lines.append(current)
            current = ""
        else:
            current += part
    return [*lines, current] if current else lines


def big_stats() -> RunStats:
    stats = RunStats()
    stats.functions_discovered, stats.functions_done = 100_000, 12_345
    stats.configs, stats.throttled, stats.retries, stats.failed_requests = 140_640, 1_234, 56, 78
    return stats


def test_the_line_shows_errors_and_retries_as_they_happen() -> None:
    stats = RunStats()
    assert "errors 0 · retries 0" in describe(stats, 0.0)
    stats.failed_requests, stats.retries = 2, 1  # attempts failed, one retried: no record written yet
    assert "errors 2 · retries 1" in describe(stats, 0.0)


@pytest.mark.parametrize("columns", [40, 60, 80, 100, 200])
def test_the_line_fits_the_terminal(columns: int) -> None:
    line = fitted(big_stats(), 1234.5, columns)
    assert len(line) <= columns - 1  # a line as wide as the terminal wraps on some
    assert line.count("functions 12,345/100,000") == 1
    if columns >= 80:
        assert "errors 78 · retries 56" in line  # what says something is wrong is never left out


def test_a_log_line_clears_the_status_line_and_it_is_drawn_again_below() -> None:
    raw = FakeTTY()
    stream = StatusStream(raw)
    stream.set_status("functions 1/2")
    stream.write("2026-11-28 [warning] retry.scheduled attempt=1\n")
    stream.set_status("functions 2/2")
    stream.clear_status()
    assert screen(raw.getvalue()) == ["2026-11-28 [warning] retry.scheduled attempt=1"]
    assert raw.getvalue() == (
        f"{CLEAR_LINE}functions 1/2{CLEAR_LINE}2026-11-28 [warning] retry.scheduled attempt=1\n"
        f"functions 1/2{CLEAR_LINE}functions 2/2{CLEAR_LINE}"
    )


SLOW_ACCOUNT = AccountSpec(seed=3, services=3, functions=40, big_functions=0)
SLOW = FaultConfig(seed=1, latency_ms=25.0)


def crawl_on_a_terminal(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> str:
    """``fcaudit crawl`` with stderr a terminal (debug logs on, so log lines and the progress line meet)."""
    clean_env(monkeypatch, tmp_path)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    emulator = emulator_factory(SLOW_ACCOUNT, SLOW)
    use_emulator_keys(monkeypatch, emulator)
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setenv("COLUMNS", "80")
    argv = ["crawl", *target_args(emulator), "-o", str(tmp_path / "out.ndjson"), "--concurrency", "2"]
    assert run_cli([*argv, *extra]) == 0
    return tty.getvalue()


def test_the_progress_line_never_shares_a_line_with_a_log_message(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    raw = crawl_on_a_terminal(emulator_factory, monkeypatch, tmp_path, "-v", env={"NO_COLOR": "1"})
    assert "functions " in raw  # the line was drawn (and redrawn between logs)
    lines = screen(raw)
    logs = [line for line in lines if "client.request" in line]
    assert logs  # the debug lines reached the terminal
    assert not [line for line in lines if "functions " in line and "req/s" in line]  # erased at the end
    for line in lines:
        assert not ("client.request" in line and "req/s" in line), line


@pytest.mark.parametrize("flag", ["--no-progress", "-q"])
def test_no_progress_and_quiet_hide_the_line(
    flag: str, emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    raw = crawl_on_a_terminal(emulator_factory, monkeypatch, tmp_path, flag)
    assert "req/s" not in raw
    assert CLEAR_LINE not in raw


def test_no_color_turns_the_logs_plain_on_a_terminal(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    raw = crawl_on_a_terminal(emulator_factory, monkeypatch, tmp_path, "--no-progress", env={"NO_COLOR": "1"})
    assert "crawl.started" in raw  # console logs on a terminal ...
    assert not SGR.search(raw)  # ... without a colour


def test_a_terminal_without_no_color_gets_colour(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check above can fail: on a terminal, with NO_COLOR unset, the logs are coloured."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    raw = crawl_on_a_terminal(emulator_factory, monkeypatch, tmp_path, "--no-progress")
    assert SGR.search(raw)


def test_colour_is_wanted_only_on_a_terminal_without_no_color() -> None:
    assert colour_wanted(FakeTTY(), {})
    assert not colour_wanted(FakeTTY(), {"NO_COLOR": "1"})
    assert colour_wanted(FakeTTY(), {"NO_COLOR": ""})  # no-color.org: set and not empty
    assert not colour_wanted(io.StringIO(), {})
