"""Every input of ``fcaudit crawl`` is checked before the first request (issue 16, item 2): a mistyped
region gets "did you mean" and exit 2, several regions at one fixed endpoint are refused, an account id
that is not 16 digits is warned about, and the audit outputs are opened (a temporary file made beside
each) before the crawl — a place that cannot take the file is refused, not found out an hour later."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator.server import EmulatorThread
from crawler.errors import ConfigError, UsageError
from crawler.settings.config import CrawlSettings, load_config_file, resolve_targets
from tests.support.crawl_support import clean_env, run_cli, target_args, use_emulator_keys

ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKTEST", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-a-real-secret"}
ACCOUNT = "1234567890123456"


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)
    return home


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fcaudit:")]
    assert len(lines) == 1, lines
    return lines[0]


def requests_seen(emulator: EmulatorThread) -> int:
    return int(emulator.stats()["requests"])


# ---- regions --------------------------------------------------------------------------------------------


def test_a_mistyped_region_gets_did_you_mean() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_targets(env=ENV, settings=CrawlSettings(), account=ACCOUNT, regions=["cn-hangzou"])
    assert "--region: 'cn-hangzou' is not a Function Compute region fcaudit knows" in caught.value.message
    assert "did you mean cn-hangzhou?" in caught.value.message
    assert "--endpoint" in caught.value.message  # how to crawl a region fcaudit does not know yet


def test_a_mistyped_region_is_exit_2_on_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out.ndjson"
    code = run_cli(["crawl", "--account", ACCOUNT, "--region", "eu-centrl-1", "-o", str(out)])
    assert code == 2
    line = one_line_error(capsys)
    assert "did you mean eu-central-1?" in line
    assert not out.exists()  # refused before anything was opened


def test_a_region_from_the_environment_or_the_file_is_checked_too(tmp_path: Path) -> None:
    env = {**ENV, "ALIBABA_CLOUD_REGION_ID": "ap-southeast-l"}
    with pytest.raises(
        UsageError, match=r"ALIBABA_CLOUD_REGION_ID: 'ap-southeast-l'.*did you mean ap-southeast-1"
    ):
        resolve_targets(env=env, settings=CrawlSettings(), account=ACCOUNT)
    config = tmp_path / "c.toml"
    config.write_text('[[targets]]\naccount = "1234567890123456"\nregions = ["us-eats-1"]\n')
    with pytest.raises(ConfigError, match=r"\[\[targets\]\] #1 regions: 'us-eats-1'.*did you mean us-east-1"):
        resolve_targets(env=ENV, settings=CrawlSettings(), file=load_config_file(config))


def test_a_region_fcaudit_does_not_know_is_fine_with_an_endpoint_of_its_own() -> None:
    (target,) = resolve_targets(
        env=ENV,
        settings=CrawlSettings(),
        account=ACCOUNT,
        regions=["me-central-1"],
        endpoint="https://1234567890123456.me-central-1.fc.aliyuncs.com",
    )
    assert target.region == "me-central-1"


def test_every_region_at_one_fixed_endpoint_is_refused_before_a_request(
    emulator: EmulatorThread, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    argv = ["crawl", "--endpoint", emulator.endpoint, "--account", emulator.account_id, "--region", "*"]
    assert run_cli(argv) == 2
    line = one_line_error(capsys)
    assert f"--endpoint {emulator.endpoint} has no {{region}}" in line
    assert "19 regions of --region would all be crawled at that one host" in line
    assert requests_seen(emulator) == 0


def test_two_regions_at_one_fixed_endpoint_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[targets]]\naccount = "1234567890123456"\nregions = ["cn-beijing", "cn-shanghai"]\n'
        'endpoint = "http://127.0.0.1:9"\n'
    )
    with pytest.raises(
        ConfigError, match=r"\[\[targets\]\] #1 endpoint http://127.0.0.1:9 has no \{region\}"
    ):
        resolve_targets(env=ENV, settings=CrawlSettings(), file=load_config_file(config))
    # with {region} in the host each region has its own
    config.write_text(config.read_text().replace("http://127.0.0.1:9", "https://fc.{region}.example.test"))
    targets = resolve_targets(env=ENV, settings=CrawlSettings(), file=load_config_file(config))
    assert [t.endpoint for t in targets] == [
        "https://fc.cn-beijing.example.test",
        "https://fc.cn-shanghai.example.test",
    ]


# ---- the account id ----------------------------------------------------------------------------------------


def test_an_account_id_that_is_not_16_digits_is_warned_about(
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    argv = ["crawl", "--endpoint", emulator.endpoint, "--account", "12345678", "--region", emulator.region]
    assert run_cli([*argv, "-o", str(out), "--log-format", "json"]) == 0  # a warning, not a refusal
    err = capsys.readouterr().err
    warning = next(line for line in err.splitlines() if "config.unusual_account_id" in line)
    assert '"level":"warning"' in warning
    assert '"account":"12345678"' in warning
    assert "16 digits" in warning
    assert err.index("config.unusual_account_id") < err.index("crawl.started")  # before the first request


def test_a_16_digit_account_id_is_not_warned_about(
    emulator: EmulatorThread, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    assert run_cli(["crawl", *target_args(emulator), "-o", "/dev/null", "--log-format", "json"]) == 0
    assert "unusual_account_id" not in capsys.readouterr().err


# ---- the audit outputs are opened before the crawl ---------------------------------------------------------


@pytest.mark.parametrize("flag", ["--summary", "--findings", "--report", "--metrics"])
def test_an_output_that_cannot_be_created_is_refused_before_the_crawl(
    flag: str,
    emulator: EmulatorThread,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A name the file system takes, in a writable directory (``os.access`` says yes), but too long for
    the temporary file it is written through: found out at the end, it cost the whole crawl."""
    use_emulator_keys(monkeypatch, emulator)
    out = tmp_path / "out.ndjson"
    bad = tmp_path / ("x" * 250)
    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), flag, str(bad)]) == 2
    line = one_line_error(capsys)
    assert line.startswith(f"fcaudit: error: cannot create {flag} {bad}")
    assert requests_seen(emulator) == 0
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [home]  # no temporary file left behind


def test_an_output_in_a_missing_directory_is_refused_before_the_crawl(
    emulator: EmulatorThread, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_emulator_keys(monkeypatch, emulator)
    missing = home / "nowhere" / "report.html"
    assert run_cli(["crawl", *target_args(emulator), "-o", "/dev/null", "--report", str(missing)]) == 2
    assert f"directory {missing.parent} does not exist" in one_line_error(capsys)
    assert requests_seen(emulator) == 0


def test_the_check_leaves_nothing_behind(
    emulator: EmulatorThread, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check creates a file beside each output and removes it: after the run only the outputs are
    there, an earlier summary replaced whole."""
    use_emulator_keys(monkeypatch, emulator)
    summary = tmp_path / "summary.json"
    summary.write_text("yesterday")
    argv = ["crawl", *target_args(emulator), "-o", "/dev/null", "--summary", str(summary), "-q"]
    assert run_cli([*argv, "--report", str(tmp_path / "r.html"), "--metrics", str(tmp_path / "m.prom")]) == 0
    assert summary.read_text().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "m.prom", "r.html", "summary.json"]
