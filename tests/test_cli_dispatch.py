"""The dispatcher: every subcommand listed, only the one run imported, bad flags as one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crawler.cli import COMMAND_HELP, main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for name in COMMAND_HELP:
        assert f"    {name}" in out


def test_only_the_subcommand_being_run_is_imported() -> None:
    probe = (
        "import sys; from crawler.cli import build_parser; build_parser(['crawl', '--help-not-parsed']); "
        "print(sorted(m for m in sys.modules if m.startswith(('crawler.commands.', 'crawler.emulator'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['crawler.commands.crawl']"


def test_a_crawl_loads_the_html_and_diff_modules_only_when_asked_for() -> None:
    # every crawl pays its imports at start (about 0.3 s); Jinja2 and the report templates are for --report
    probe = (
        "import sys; from crawler.cli import build_parser; build_parser(['crawl', '--help-not-parsed']); "
        "print(sorted(m for m in ('jinja2', 'crawler.html_report', 'crawler.diff') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", list(COMMAND_HELP))
def test_each_subcommand_parses_its_own_flags(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([name, "--help"])
    assert stop.value.code == 0
    assert f"usage: fcaudit {name}" in capsys.readouterr().out


def test_an_unknown_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["summarize", "--no-such-flag", "x.ndjson"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--no-such-flag" in err
