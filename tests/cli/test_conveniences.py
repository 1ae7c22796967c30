"""Expected conveniences (issue 16, item 6): shell completion generated from the parser for bash, zsh and
fish; ``--version`` with Python's and the dependencies' versions; the emulator's printed crawl line in a
file; the demo's ``--seed`` saying what it fixes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.app.commands import COMMANDS
from tests.support.crawl_support import run_cli


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_completion_script_is_generated_and_knows_every_command(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "fcaudit" in script
    for command in COMMANDS:
        assert command in script, f"{command} missing from the {shell} script"
    for flag in ("--unreachable-after", "--brief", "--no-progress", "--write-env", "--fail-on"):
        written = f"-l {flag[2:]}" if shell == "fish" else flag  # fish names long options without --
        assert written in script, f"{flag} missing from the {shell} script"  # every subcommand in full


def test_an_unknown_shell_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["completion", "powershell"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_says_how_to_install_completion(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    text = capsys.readouterr().out
    for shell in ("bash", "zsh", "fish"):
        assert f"fcaudit completion {shell} >" in text


def test_version_names_python_and_the_dependencies(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fcaudit ")
    assert lines[1].startswith(f"Python {sys.version_info.major}.{sys.version_info.minor}.")
    names = {line.split()[0] for line in lines[2:]}
    assert {"aiohttp", "anyio", "orjson", "structlog", "rich", "jinja2", "shtab"} <= names


def test_the_demo_seed_says_what_it_fixes_and_what_may_change(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "the same seed gives the same services, functions, configs and findings" in text
    assert "timing" in text


def test_the_emulator_writes_its_crawl_line_to_a_file(tmp_path: Path) -> None:
    env_file = tmp_path / "emulator.env"
    argv = [sys.executable, "-m", "crawler", "emulator", "--port", "0", "--functions", "5", "--services", "1"]
    proc = subprocess.Popen(
        [*argv, "--write-env", str(env_file)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not (env_file.exists() and "# then: fcaudit crawl" in env_file.read_text()):
            assert proc.poll() is None, "the emulator stopped"
            assert time.monotonic() < deadline, "no --write-env file in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        printed, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    written = env_file.read_text()
    assert written == printed.decode()  # what it printed, line for line
    assert "export ALIBABA_CLOUD_ACCESS_KEY_SECRET=" in written
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600  # it holds the emulator's secret


def test_an_unwritable_env_file_is_refused_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "emulator.env"
    assert run_cli(["emulator", "--port", "0", "--write-env", str(missing)]) == 2
    assert "--write-env" in capsys.readouterr().err
