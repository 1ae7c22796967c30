"""The dispatcher: every subcommand listed, only the one run imported, bad flags as one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crawler.app.commands import COMMAND_HELP
from crawler.cli.main import main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for name in COMMAND_HELP:
        assert f"    {name}" in out


def loaded_after_building_the_crawl_parser(modules: str) -> str:
    """In a fresh interpreter: build the ``crawl`` parser, then print ``modules`` (an expression over
    ``loaded``, the names in ``sys.modules``)."""
    probe = (
        "import sys; from crawler.cli.main import build_parser; "
        "build_parser(['crawl', '--help-not-parsed']); "
        f"loaded = set(sys.modules); print({modules})"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout


def test_only_the_subcommand_being_run_is_imported() -> None:
    ours = (
        "sorted(m for m in loaded if m.endswith(('_command', '_flags')) or m.startswith('crawler.emulator'))"
    )
    expected = "['crawler.app.crawl_command', 'crawler.cli.crawl_flags', 'crawler.cli.shared_flags']"
    assert loaded_after_building_the_crawl_parser(ours).strip() == expected


def test_cli_is_argument_parsing_only() -> None:
    """No command's ``register`` (argparse) left in ``crawler.app``; each one's flags in ``crawler.cli``."""
    import importlib

    for name in COMMAND_HELP:
        assert not hasattr(importlib.import_module(f"crawler.app.{name}_command"), "register")
        assert callable(importlib.import_module(f"crawler.cli.{name}_flags").register)


def test_a_crawl_loads_the_html_and_diff_modules_only_when_asked_for() -> None:
    # every crawl pays its imports at start (about 0.3 s); Jinja2 and the report templates are for --report
    optional = "sorted(loaded & {'jinja2', 'crawler.report.html.page', 'crawler.audit.drift'})"
    assert loaded_after_building_the_crawl_parser(optional).strip() == "[]"


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
