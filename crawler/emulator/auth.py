"""The emulator's gate: FC 2.0 signature, Date and STS token checks, strict like the real service.

A crawler that signs one byte wrong must fail here exactly as it would against Alibaba Cloud, or the
tests prove nothing. The emulator recomputes the signature with ``crawler.wire.signing`` over the URL-decoded
path (the query is not signed) and the headers as received; the official SDK, which signs independently,
is the witness in tests that both halves agree with the outside world.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import ClassVar, Final

from crawler.emulator.api_errors import FC2_GATE, GateCodes, denied
from crawler.wire.signing import fc2_signature, fc2_string_to_sign, parse_fc2_authorization

MAX_SKEW_SECONDS: Final = 15 * 60


class KeyedVerifier:
    """What every signature gate shares: the accepted keys, the STS token, the clock, a safe repr, and
    the error codes it answers (``codes``, the API's ``api_errors.GateCodes``)."""

    codes: ClassVar[GateCodes]

    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        security_token: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = dict(keys)
        self._token = security_token
        self._wall_clock = wall_clock

    def __repr__(self) -> str:  # never the secrets
        return f"{type(self).__name__}(keys={sorted(self._keys)!r}, sts={self._token is not None})"

    def _secret(self, key_id: str) -> str:
        secret = self._keys.get(key_id)
        if secret is None:
            raise denied(self.codes.unknown_key, f"the access key id {key_id} does not exist")
        return secret

    def _check_token(self, sent: str | None, header: str) -> None:
        """When the server was started with an STS token, the request must carry exactly it."""
        if self._token is None:
            return
        if not sent:
            raise denied(self.codes.token_missing, f"an STS security token is required ({header})")
        if not hmac.compare_digest(sent.encode("utf-8"), self._token.encode("utf-8")):
            raise denied(self.codes.token_mismatch, "the security token is invalid or expired")


class RequestVerifier(KeyedVerifier):
    """Checks one request's ``Authorization``, ``Date`` and ``x-fc-security-token``; raises 403 on failure."""

    codes = FC2_GATE

    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        security_token: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(keys, security_token=security_token, wall_clock=wall_clock)
        self._last_date: tuple[str, float] = ("", 0.0)

    def _date_timestamp(self, value: str) -> float:
        cached, stamp = self._last_date
        if value == cached:
            return stamp
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise denied(self.codes.bad_date, f"the Date header {value!r} is not an RFC 1123 date") from None
        if parsed.tzinfo is None:
            raise denied(self.codes.bad_date, f"the Date header {value!r} has no time zone (use GMT)")
        stamp = parsed.timestamp()
        self._last_date = (value, stamp)
        return stamp

    def verify(self, method: str, decoded_path: str, headers: Mapping[str, str]) -> str:
        """The access key id that signed the request, when everything checks out."""
        authorization = headers.get("Authorization")
        if not authorization:
            raise denied(self.codes.no_authorization, "the request has no Authorization header")
        parsed = parse_fc2_authorization(authorization)
        if parsed is None:
            raise denied(
                self.codes.bad_authorization,
                "the Authorization header is not of the form 'FC AccessKeyId:Signature'",
            )
        key_id, signature = parsed
        secret = self._secret(key_id)
        date = headers.get("Date")
        if not date:
            raise denied(self.codes.bad_date, "the request has no Date header")
        skew = self._wall_clock() - self._date_timestamp(date)
        if abs(skew) > MAX_SKEW_SECONDS:
            raise denied(
                self.codes.skewed,
                f"the Date header is {abs(skew):.0f}s away from the server's time (at most "
                f"{MAX_SKEW_SECONDS}s allowed)",
            )
        self._check_token(headers.get("x-fc-security-token"), "x-fc-security-token")
        expected = fc2_signature(secret, method, decoded_path, headers)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            string_to_sign = fc2_string_to_sign(method, decoded_path, headers)
            raise denied(
                self.codes.bad_signature,
                f"the request signature does not match; the string to sign was {string_to_sign!r}",
            )
        return key_id
