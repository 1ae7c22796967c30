"""An External profile's ``process_command``: what it must print, and how each failure is said — always
without the command line, stdout or stderr (a credentials helper may print secrets on either)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from crawler.errors import IdentityError
from crawler.identity.external import process_credentials

pytestmark = pytest.mark.anyio


def helper(tmp_path: Path, stdout: bytes, code: int = 0, sleep: float = 0.0) -> str:
    script = tmp_path / "helper.py"
    script.write_text(
        "import sys, time\n"
        f"time.sleep({sleep})\n"
        f"sys.stdout.buffer.write({stdout!r})\n"
        "sys.stderr.write('SECRET-ON-STDERR')\n"
        f"sys.exit({code})\n"
    )
    return f"{sys.executable} {script}"


async def test_sts_token_mode(tmp_path: Path) -> None:
    payload = {
        "mode": "StsToken",
        "access_key_id": "STS.ext",
        "access_key_secret": "ext-secret",
        "sts_token": "ext-token",
        "expiration": "2030-01-01T00:00:00Z",
    }
    counts: Counter[str] = Counter()
    creds = await process_credentials(helper(tmp_path, orjson.dumps(payload)), "p", counts=counts)
    assert (creds.access_key_id, creds.security_token) == ("STS.ext", "ext-token")
    assert creds.expiration is not None
    assert counts == {"externalProcess": 1}


async def test_ak_mode_has_no_token_and_never_expires(tmp_path: Path) -> None:
    payload = {"mode": "AK", "access_key_id": "LTAIext", "access_key_secret": "ext-secret"}
    creds = await process_credentials(helper(tmp_path, orjson.dumps(payload)), "p", counts=Counter())
    assert creds.security_token is None
    assert creds.expiration is None


@pytest.mark.parametrize(
    ("stdout", "says"),
    [
        (b"not json SECRET-ON-STDOUT", "did not print a JSON object"),
        (b'["SECRET-ON-STDOUT"]', "did not print a JSON object"),
        (
            b'{"mode": "CloudSSO", "access_key_id": "a", "access_key_secret": "SECRET-ON-STDOUT"}',
            "mode 'CloudSSO'",
        ),
        (b'{"mode": "AK", "access_key_secret": "SECRET-ON-STDOUT"}', "no access_key_id"),
        (
            b'{"mode": "StsToken", "access_key_id": "a", "access_key_secret": "SECRET-ON-STDOUT"}',
            "without an sts_token",
        ),
        (
            b'{"mode": "StsToken", "access_key_id": "a", "access_key_secret": "SECRET-ON-STDOUT",'
            b' "sts_token": "t", "expiration": "tomorrow"}',
            "not a UTC timestamp",
        ),
        (b'{"mode": "AK", "access_key_id": "a", "access_key_secret": "SECRET ON STDOUT"}', "cannot be used"),
        (b" " * (64 * 1024 + 1), "printed over"),
    ],
)
async def test_bad_output_is_said_without_showing_it(tmp_path: Path, stdout: bytes, says: str) -> None:
    command = helper(tmp_path, stdout)
    with pytest.raises(IdentityError) as caught:
        await process_credentials(command, "prof", counts=Counter())
    message = caught.value.message
    assert says in message
    assert "profile 'prof'" in message
    for hidden in ("SECRET-ON-STDOUT", "SECRET ON STDOUT", "SECRET-ON-STDERR", command):
        assert hidden not in message


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("", "is empty"),
        ("'unbalanced", "cannot be split"),
        ("/nonexistent/helper --secret=x", "could not be started"),
    ],
)
async def test_a_command_that_cannot_run(command: str, says: str) -> None:
    with pytest.raises(IdentityError) as caught:
        await process_credentials(command, "prof", counts=Counter())
    assert says in caught.value.message
    assert "--secret=x" not in caught.value.message


async def test_a_helper_that_hangs_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(IdentityError) as caught:
        await process_credentials(helper(tmp_path, b"{}", sleep=5), "prof", counts=Counter(), time_limit=0.3)
    assert "did not finish within 0.3 s" in caught.value.message
