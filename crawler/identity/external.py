"""Credentials from an External profile's ``process_command``: run it, read JSON from its stdout.

The command is split like a shell would (``shlex``) but run without one, with stdin closed and a time
limit (``PROCESS_TIMEOUT``). Its stdout must be ``{"mode": "AK"|"StsToken", "access_key_id",
"access_key_secret", "sts_token", "expiration"}`` (the aliyun CLI's format). Its stderr is read and
thrown away: a credentials helper may print secrets there, so no message, log line or error ever
holds it — nor the command line, nor stdout. A failure says what failed (not found, the exit status,
no JSON, a missing field) and which profile's command it was.
"""

from __future__ import annotations

import shlex
import subprocess
from collections import Counter
from typing import Any, Final

import anyio
import orjson

from crawler.errors import CrawlerError, IdentityError
from crawler.settings.credentials import Credentials
from crawler.wire.sts_client import parse_expiration

PROCESS_TIMEOUT: Final = 60.0
MAX_STDOUT: Final = 64 * 1024


async def process_credentials(
    command: str, profile: str, *, counts: Counter[str], time_limit: float = PROCESS_TIMEOUT
) -> Credentials:
    """Run ``command`` and read the credentials it prints (module docstring)."""
    what = f"the process_command of profile {profile!r}"
    try:
        argv = shlex.split(command)
    except ValueError:
        raise IdentityError(
            f"{what} cannot be split into words (unbalanced quotes?)", code="ExternalCommand"
        ) from None
    if not argv:
        raise IdentityError(f"{what} is empty", code="ExternalCommand")
    counts["externalProcess"] += 1
    try:
        with anyio.fail_after(time_limit):
            done = await anyio.run_process(argv, check=False, stdin=subprocess.DEVNULL)
    except TimeoutError:
        raise IdentityError(
            f"{what} did not finish within {time_limit:g} s", code="ExternalTimeout"
        ) from None
    except OSError as exc:  # not found, not executable
        raise IdentityError(
            f"{what} could not be started ({exc.strerror or type(exc).__name__}: {argv[0]})",
            code="ExternalCommand",
        ) from None
    if done.returncode != 0:
        # stderr is never shown: a credentials helper may print secrets there
        raise IdentityError(
            f"{what} exited with status {done.returncode} ({len(done.stderr)} bytes on stderr, not shown: "
            "they may hold secrets); run it by hand to see why",
            code="ExternalFailed",
        )
    return _parse(done.stdout, what, f"profile {profile!r} (External)")


def _fail(message: str, code: str = "ExternalOutput") -> IdentityError:
    return IdentityError(message, code=code)


def _parse(stdout: bytes, what: str, source: str) -> Credentials:
    if len(stdout) > MAX_STDOUT:
        raise IdentityError(f"{what} printed over {MAX_STDOUT} bytes", code="ExternalOutput")
    try:
        data: Any = orjson.loads(stdout)
    except orjson.JSONDecodeError:
        raise IdentityError(f"{what} did not print a JSON object on stdout", code="ExternalOutput") from None
    if not isinstance(data, dict):
        raise IdentityError(f"{what} did not print a JSON object on stdout", code="ExternalOutput")
    mode = data.get("mode", "AK")
    if mode not in ("AK", "StsToken"):
        shown = mode if isinstance(mode, str) and mode.isalnum() and len(mode) < 30 else "?"
        raise IdentityError(f"{what} printed mode {shown!r}; expected AK or StsToken", code="ExternalOutput")
    key_id, secret = data.get("access_key_id"), data.get("access_key_secret")
    if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
        raise IdentityError(f"{what} printed no access_key_id or access_key_secret", code="ExternalOutput")
    token: str | None = None
    expiration = None
    if mode == "StsToken":
        raw = data.get("sts_token")
        if not isinstance(raw, str) or not raw:
            raise IdentityError(f"{what} printed mode StsToken without an sts_token", code="ExternalOutput")
        token = raw
        if data.get("expiration") is not None:
            try:
                expiration = parse_expiration(data.get("expiration"), what)
            except CrawlerError as exc:
                raise IdentityError(exc.message, code="ExternalOutput") from None
    try:
        return Credentials(key_id, secret, token, source=source, expiration=expiration)
    except CrawlerError:  # a value that cannot go in a header: never shown (it may be the secret)
        raise IdentityError(
            f"{what} printed credentials that cannot be used", code="ExternalOutput"
        ) from None


__all__ = ["PROCESS_TIMEOUT", "process_credentials"]
