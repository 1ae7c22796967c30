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
from tests.emulator.test_emulator_sts import http
from tests.support.identity_support import credentials_of, role_params, v1_signed_params


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
        ["--session-seconds", "30"],
        ["--role", "--session-seconds", "1"],
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


def test_with_role_the_printed_user_assumes_the_role_and_only_its_session_reads_the_account(
    tmp_path: Path,
) -> None:
    proc = _start(["--seed", "3", "--services", "2", "--functions", "6", "--role"], tmp_path)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(7)]
        exports = dict(
            line.removeprefix("export ").strip().split("=", 1) for line in lines if line.startswith("export ")
        )
        endpoint = lines[0].split()[4]
        sts = lines[1].split()[3].rstrip(":")
        crawl = lines[6].split()
        role_arn = crawl[crawl.index("--role-arn") + 1]
        external_id = crawl[crawl.index("--external-id") + 1]
        assert crawl[crawl.index("--sts-endpoint") + 1] == sts
        key_id, secret = exports["ALIBABA_CLOUD_ACCESS_KEY_ID"], exports["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]

        def services(key: str, secret: str, token: str = "") -> object:
            client = fc2.Client(
                endpoint=endpoint, accessKeyID=key, accessKeySecret=secret, securityToken=token, Timeout=10
            )
            return len(client.list_services().data["services"])

        with pytest.raises(fc2.fc_exceptions.FcError, match="AccessDenied"):
            services(key_id, secret)  # the central user's keys do not open the account
        query = v1_signed_params("AssumeRole", role_params(role_arn, ExternalId=external_id), key_id, secret)
        assumed = http("GET", sts + "/", params=query)
        assert assumed.status == 200, assumed.body
        assert services(*credentials_of(assumed.json())) == 2  # the official SDK, with the session token
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 130
