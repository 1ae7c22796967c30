"""``fcaudit emulator``: bad flags are one line and exit 2; it prints working credentials, serves, stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import fc2
import orjson
import pytest

from crawler.cli.main import main
from crawler.emulator import AccountSpec, generate_account


def run_main(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code or 0)


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "x"],
        ["--port", "70000"],
        ["--fault", "boom=0.1"],
        ["--fault", "reset"],
        ["--fault", "reset=2"],
        ["--services", "-1"],
        ["--services", "0", "--functions", "3"],
        ["--quota", "0"],
        ["--throttle-status", "500"],
        ["--distribution", "zipf"],
        ["--retry-hint", "soon"],
        ["--account-id", "abc"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_are_one_line_and_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["emulator", *args, "--no-serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_dump_truth_without_serving(tmp_path: Path) -> None:
    out = tmp_path / "truth.ndjson"
    args = ["emulator", "--seed", "5", "--services", "2", "--functions", "30", "--distribution", "skewed"]
    assert run_main([*args, "--dump-truth", str(out), "--no-serve", "--log-format", "json"]) == 0
    spec = AccountSpec(seed=5, services=2, functions=30, distribution="skewed")
    expected = b"".join(
        orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in generate_account(spec).truth_records()
    )
    assert out.read_bytes() == expected


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "emulator", "--port", "0", "--log-format", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def test_serves_with_the_printed_credentials_until_interrupted(tmp_path: Path) -> None:
    truth = tmp_path / "truth.ndjson"
    proc = _start(
        ["--seed", "3", "--services", "2", "--functions", "6", "--dump-truth", str(truth)], tmp_path
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        exports = dict(
            line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export ")
        )
        endpoint = lines[0].split()[4]
        assert endpoint.startswith("http://127.0.0.1:")
        client = fc2.Client(
            endpoint=endpoint,
            accessKeyID=exports["ALIBABA_CLOUD_ACCESS_KEY_ID"],
            accessKeySecret=exports["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
            Timeout=10,
        )
        services = client.list_services().data["services"]
        assert len(services) == 2
        assert exports["ALIBABA_CLOUD_ACCOUNT_ID"] in services[0]["role"]
        assert exports["ALIBABA_CLOUD_REGION_ID"] == "cn-hangzhou"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert '"emulator.stopped"' in err
    assert '"requests":1' in err
    assert truth.read_bytes().count(b"\n") > 6


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _start(["--functions", "2", "--services", "1", "--port", str(port)], tmp_path)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].startswith("fcaudit: error: cannot listen on 127.0.0.1:")
