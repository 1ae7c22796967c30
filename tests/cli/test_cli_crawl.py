"""``fcaudit crawl`` as a new user meets it: credentials from env or a profile, and one clear line for
every mistake — before a single request is made."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from crawler.emulator.server import EmulatorThread
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    clean_env,
    read_ndjson,
    run_cli,
    target_args,
    use_emulator_keys,
)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)
    return home


def write_profile(home: Path, name: str, emulator: EmulatorThread, mode: str = "AK") -> None:
    (home / ".aliyun").mkdir(exist_ok=True)
    profile = {
        "name": name,
        "mode": mode,
        "access_key_id": emulator.access_key_id,
        "access_key_secret": emulator.access_key_secret,
        "sts_token": "",
        "region_id": emulator.region,
    }
    config = {"current": name, "profiles": [profile]}
    (home / ".aliyun" / "config.json").write_bytes(orjson.dumps(config))


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def test_credentials_and_account_from_the_environment(
    emulator: EmulatorThread, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCOUNT_ID", emulator.account_id)
    monkeypatch.setenv("ALIBABA_CLOUD_REGION_ID", emulator.region)
    out = tmp_path / "out.ndjson"

    assert run_cli(["crawl", "--endpoint", emulator.endpoint, "-o", str(out), "-q"]) == 0

    assert_matches_truth(Crawled.of(read_ndjson(out)), emulator.backend.truth_records())


def test_credentials_from_an_aliyun_cli_profile(emulator: EmulatorThread, home: Path, tmp_path: Path) -> None:
    write_profile(home, "audit", emulator)
    out = tmp_path / "out.ndjson"

    argv = ["crawl", "--profile", "audit", "--endpoint", emulator.endpoint, "--account", emulator.account_id]
    assert run_cli([*argv, "-o", str(out), "-q"]) == 0  # the region comes from the profile

    assert_matches_truth(Crawled.of(read_ndjson(out)), emulator.backend.truth_records())


def test_missing_account_is_one_line(
    emulator: EmulatorThread, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No account given and STS cannot say whose the keys are (its endpoint does not answer): one line
    saying to pass --account, nothing sent to FC."""
    use_emulator_keys(monkeypatch, emulator)
    monkeypatch.setenv("ALIBABA_CLOUD_STS_ENDPOINT", "http://127.0.0.1:9")  # loopback, nothing listening
    config = home / "one-attempt.toml"
    config.write_text("[crawl]\nmax_attempts = 1\n")
    argv = [
        "crawl",
        "--endpoint",
        emulator.endpoint,
        "--region",
        emulator.region,
        "--config",
        str(config),
        "-q",
    ]
    assert run_cli(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fcaudit:")]
    assert len(lines) == 1, lines  # the one message (crawl.target_refused is a log line, not it)
    line = lines[0]
    assert "account" in line
    assert "--account" in line
    assert emulator.stats()["requests"] == 0


def test_missing_credentials_say_how_to_supply_them(
    emulator: EmulatorThread, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["crawl", *target_args(emulator)]) == 2
    line = one_line_error(capsys)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in line
    assert "--profile" in line


def test_unknown_profile_is_one_line(
    emulator: EmulatorThread, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_profile(home, "audit", emulator)
    assert run_cli(["crawl", *target_args(emulator), "--profile", "prod"]) == 2
    line = one_line_error(capsys)
    assert "'prod'" in line
    assert "audit" in line  # names the profiles that do exist
    assert emulator.access_key_secret not in line


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--concurrency", "many"], "--concurrency"),
        (["--rate", "0"], "--rate"),
        (["--rate", "-5"], "--rate"),
        (["--page-size", "101"], "--page-size"),
        (["--page-size", "0"], "--page-size"),
        (["--fail-on", "urgent"], "--fail-on"),
        (["--format", "xml"], "--format"),
        (["--region", "Not A Region"], "region"),
        (["--resume"], "--resume needs --output FILE"),
        (["--force-resume", "-o", "x.ndjson"], "--force-resume"),
        (["--endpoint", "ftp://127.0.0.1:1"], "endpoint"),
    ],
)
def test_bad_flag_values_are_one_line_and_exit_2(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    expected: str,
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    monkeypatch.chdir(home)
    assert run_cli(["crawl", *target_args(emulator), *flags]) == 2
    assert expected in one_line_error(capsys)
    assert emulator.stats()["requests"] == 0


@pytest.mark.parametrize("flag", ["--output", "--summary", "--findings"])
def test_an_unwritable_path_is_refused_before_crawling(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    flag: str,
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    missing = tmp_path / "no-such-dir" / "file"
    argv = ["crawl", *target_args(emulator), flag, str(missing)]
    if flag != "--output":
        argv += ["-o", str(tmp_path / "out.ndjson")]
    assert run_cli(argv) == 2
    line = one_line_error(capsys)
    assert flag in line
    assert "no-such-dir" in line
    assert emulator.stats()["requests"] == 0


def test_output_to_a_directory_is_refused(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    assert run_cli(["crawl", *target_args(emulator), "-o", str(tmp_path)]) == 2
    assert "--output" in one_line_error(capsys)


def test_a_bad_config_file_names_the_key(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    config = tmp_path / "fcaudit.toml"
    config.write_text("[crawl]\nconcurency = 4\n")
    assert run_cli(["crawl", *target_args(emulator), "--config", str(config)]) == 2
    assert "concurency" in one_line_error(capsys)


def test_fail_on_findings_exits_1_and_the_summary_goes_to_stdout(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    out, summary, findings = tmp_path / "o.ndjson", tmp_path / "s.json", tmp_path / "f.json"
    argv = ["crawl", *target_args(emulator), "-o", str(out), "--summary", str(summary), "--format", "json"]
    argv += ["--findings", str(findings), "--fail-on", "info", "-q"]

    assert (
        run_cli(argv) == 1
    )  # the seeded account has findings (e.g. functions without a failure destination)

    printed = orjson.loads(capsys.readouterr().out)
    assert printed["findings"]["total"] > 0
    assert orjson.loads(summary.read_bytes()) == printed
    assert findings.stat().st_size > 0


def test_summary_file_is_json_and_findings_file_holds_every_finding(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """--summary is JSON whatever --format says; --findings gets all findings, not the listed few."""
    use_emulator_keys(monkeypatch, emulator)
    out, summary, findings = tmp_path / "o.ndjson", tmp_path / "s.json", tmp_path / "f.ndjson"
    config = tmp_path / "audit.toml"
    config.write_text("[audit]\nmax_findings = 3\n", encoding="utf-8")
    argv = ["crawl", *target_args(emulator), "-o", str(out), "--summary", str(summary), "--format", "table"]
    argv += ["--findings", str(findings), "--config", str(config), "-q"]

    assert run_cli(argv) == 0

    report = orjson.loads(summary.read_bytes())
    lines = findings.read_bytes().splitlines()
    assert report["findings"]["listed"] == 3 < report["findings"]["total"]
    assert len(lines) == report["findings"]["total"]
    fired = {rule for rule, count in report["findings"]["byRule"].items() if count}
    assert {orjson.loads(line)["ruleId"] for line in lines} == fired
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
