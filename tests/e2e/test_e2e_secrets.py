"""Secrets never leave: a debug-level crawl with an STS token writes neither the secret nor the token
anywhere — stdout, stderr, the records, the summary, the findings. Refused credentials of each kind end
the run after a handful of requests with exit 2 and a line saying which."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.emulator.faults import FaultConfig, FaultKind
from tests.support.crawl_support import clean_env, read_ndjson, run_cli, target_args
from tests.support.fixtures import SMALL_ACCOUNT, EmulatorFactory

TOKEN = "sts-token-0123456789abcdef-SECRETISH"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)


def test_a_debug_crawl_writes_no_secret_anywhere(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # faults make the client log retries and errors, the paths where a careless message would leak
    faults = FaultConfig(seed=4, rates={FaultKind.HTTP_500: 0.1, FaultKind.MALFORMED: 0.05})
    emulator = emulator_factory(SMALL_ACCOUNT, faults, security_token=TOKEN)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    out, summary, findings = tmp_path / "o.ndjson", tmp_path / "s.md", tmp_path / "f.json"
    argv = [
        "crawl",
        *target_args(emulator),
        "-o",
        str(out),
        "--summary",
        str(summary),
        "--format",
        "markdown",
    ]

    code = run_cli([*argv, "--findings", str(findings), "-v", "--log-format", "json"])

    captured = capfd.readouterr()
    assert code == 0
    assert "retry.scheduled" in captured.err  # debug logs were on and the failure paths were taken
    written = [
        captured.out.encode(),
        captured.err.encode(),
        *(p.read_bytes() for p in (out, summary, findings)),
    ]
    for secret in (emulator.access_key_secret, TOKEN):
        for blob in written:
            assert secret.encode() not in blob


@pytest.mark.parametrize(
    ("key_id", "secret", "token", "says"),
    [
        (None, "wrong-secret", TOKEN, "SignatureNotMatch"),
        ("LTAInoSuchKey000000000", None, TOKEN, "InvalidAccessKeyID"),
        (None, None, "an-expired-token", "InvalidSecurityToken"),
    ],
    ids=["signature-mismatch", "unknown-key", "expired-token"],
)
def test_each_kind_of_refusal_stops_fast_with_exit_2(
    emulator_factory: EmulatorFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key_id: str | None,
    secret: str | None,
    token: str,
    says: str,
) -> None:
    emulator = emulator_factory(SMALL_ACCOUNT, FaultConfig(latency_ms=2.0), security_token=TOKEN)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id or emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret or emulator.access_key_secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", token)
    out = tmp_path / "o.ndjson"

    assert run_cli(["crawl", *target_args(emulator), "-o", str(out), "-q"]) == 2

    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert says in lines[0]
    assert (key_id or emulator.access_key_id) in lines[0]
    assert emulator.access_key_secret not in lines[0]
    assert token not in lines[0]
    assert emulator.stats()["requests"] <= 5
    end = read_ndjson(out)[-1]
    assert end["complete"] is False
    assert end["aborted"]["code"] == says
