"""``fcaudit demo --role``: the demo's crawl goes through STS AssumeRole, as an estate's audit does."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.app.demo_command import through_role_line
from tests.support.crawl_support import Crawled, read_ndjson, run_cli


def test_demo_through_a_role_assumes_it_once_and_crawls_every_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    through = tmp_path / "role"
    assert (
        run_cli(["demo", "--functions", "200", "--seed", "5", "-q", "--output-dir", str(through), "--role"])
        == 0
    )

    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert any(
        line.startswith("through a role: acs:ram::") and ":role/fcaudit-readonly" in line for line in lines
    )
    assert "STS answered 1 AssumeRole, 1 GetCallerIdentity; 2 STS requests" in lines
    assert all(len(line) <= 80 for line in lines if line.startswith(("through a role", "STS answered")))
    crawled = Crawled.of(read_ndjson(through / "configs.ndjson"))
    [end] = crawled.end
    assert end["complete"] is True
    assert end["functions"]["error"] == 0
    assert len(crawled.functions) == 200
    assert crawled.configs
    assert end["sts"]["requests"] == 2


def test_the_role_line_counts_refreshes_and_refusals() -> None:
    served = {"calls": {"AssumeRole": 4, "GetCallerIdentity": 1}, "refused": {"Throttling": 2}}
    assert through_role_line(served, {"requests": 7}) == (
        "STS answered 4 AssumeRole (3 refreshes), 1 GetCallerIdentity, 2 refused; 7 STS requests"
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--session-seconds", "30"], "--session-seconds needs --role"),
        (["--role", "--session-seconds", "2"], "--session-seconds must be at least 5, got 2"),
        (["--role", "--session-seconds", "nan"], "--session-seconds must be at least 5"),
    ],
)
def test_session_seconds_is_checked_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert run_cli(["demo", "--output-dir", str(tmp_path / "out"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
