"""The progress line (only on a terminal) and the log setup of ``fcaudit crawl``."""

from __future__ import annotations

import io
from pathlib import Path

import anyio
import orjson
import pytest

from crawler.crawl.progress import ProgressLine, RequestRate, describe
from crawler.emulator.server import EmulatorThread
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import clean_env, run_cli, target_args, use_emulator_keys


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def busy_stats() -> RunStats:
    stats = RunStats()
    stats.functions_discovered = 10
    stats.functions_done = 3
    stats.configs = 1234
    stats.functions_by_status["error"] = 1
    stats.throttled = 7
    return stats


def test_the_line_shows_every_figure() -> None:
    text = describe(busy_stats(), 42.4)
    assert "functions 3/10" in text
    assert "configs 1,234" in text
    assert "errors 1" in text
    assert "42 req/s" in text
    assert "throttled 7" in text


def test_request_rate_over_a_window() -> None:
    rate = RequestRate(window=2.0)
    assert rate.sample(0.0, 0) == 0.0
    assert rate.sample(1.0, 50) == 50.0
    assert rate.sample(2.0, 150) == 75.0
    assert rate.sample(3.0, 250) == 100.0  # the sample at 0 s fell out of the window: (250 - 50) / 2 s
    assert rate.sample(5.0, 250) == 0.0  # idle for the whole window


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()

    async def main() -> None:
        with ProgressLine(busy_stats(), stream=stream) as progress:
            assert not progress.enabled
            await progress.refresh_forever()  # returns at once: nothing to refresh

    anyio.run(main)
    assert stream.getvalue() == ""


def test_the_line_is_drawn_on_a_terminal() -> None:
    stream = FakeTTY()

    async def main() -> None:
        with ProgressLine(busy_stats(), stream=stream) as progress:
            assert progress.enabled
            with anyio.move_on_after(0.3):
                await progress.refresh_forever()

    anyio.run(main)
    assert "functions 3/10" in stream.getvalue()


def test_the_line_is_redrawn_every_quarter_second_with_fresh_figures() -> None:
    """Pins the periodic redraw: every ``REFRESH_SECONDS`` (0.25 s, on an injected clock and sleep) the
    line is drawn again from the stats as they are then, the request rate read on that clock. A line
    drawn once at the start (the stats at 0/10) shows none of the later figures."""
    stream = FakeTTY()
    stats = RunStats()
    stats.functions_discovered = 10
    now = [0.0]
    waits: list[float] = []
    done = anyio.Event()

    async def sleep(seconds: float) -> None:
        if len(waits) == 4:  # four redraws are enough
            done.set()
            await anyio.sleep_forever()
        waits.append(seconds)
        now[0] += seconds
        stats.functions_done += 1
        stats.requests += 25  # 25 requests per 0.25 s: 100 req/s

    async def main() -> None:
        with ProgressLine(stats, stream=stream, clock=lambda: now[0], sleep=sleep) as progress:
            async with anyio.create_task_group() as tg:
                tg.start_soon(progress.refresh_forever)
                await done.wait()
                tg.cancel_scope.cancel()

    anyio.run(main)
    drawn = stream.getvalue()
    assert waits == [0.25] * 4
    for done_so_far in (1, 2, 3, 4):
        assert f"functions {done_so_far}/10" in drawn
    assert "100 req/s" in drawn


def test_crawl_logs_json_lines_and_no_progress_when_piped(
    emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "o.ndjson"

    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "--log-format", "json", "-v"]) == 0

    err = capsys.readouterr().err
    assert "req/s" not in err  # no progress line: stderr is not a terminal
    events = [orjson.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "crawl.started" in events
    assert "crawl.finished" in events


def test_quiet_drops_info_logs(
    emulator: EmulatorThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(monkeypatch, tmp_path)
    use_emulator_keys(monkeypatch, emulator)

    assert (
        run_cli(["crawl", *target_args(emulator), "-o", str(tmp_path / "o"), "--log-format", "json", "-q"])
        == 0
    )

    assert "crawl.started" not in capsys.readouterr().err
