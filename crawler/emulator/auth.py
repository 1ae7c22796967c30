"""The emulator's gates: FC 2.0 signature, Date and STS token checks, and the RPC v1 (HMAC-SHA1)
signature STS accepts, strict like the real services.

A crawler that signs one byte wrong must fail here exactly as it would against Alibaba Cloud, or the
tests prove nothing. The emulator recomputes the FC 2.0 signature with ``crawler.wire.signing`` over the
URL-decoded path (the query is not signed) and the headers as received; the official SDK, which signs
independently, is the witness in tests that both halves agree with the outside world. The RPC v1
signature (what the official credentials libraries send to STS) is computed here, in the emulator's own
code, never the crawler's. A gate given an ``IdentityRegistry`` also accepts the RAM users' keys and the
session credentials STS issued — for their own account only, and only until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, Final
from urllib.parse import quote

from crawler.emulator import api_errors
from crawler.emulator.api_errors import FC2_GATE, GateCodes, denied
from crawler.emulator.ram import IdentityRegistry, Principal
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
        identity: IdentityRegistry | None = None,
        account_id: str | None = None,
    ) -> None:
        self._keys = dict(keys)
        self._token = security_token
        self._wall_clock = wall_clock
        self._identity = identity
        self._account_id = account_id

    def __repr__(self) -> str:  # never the secrets
        return f"{type(self).__name__}(keys={sorted(self._keys)!r}, sts={self._token is not None})"

    def _secret(self, key_id: str) -> str:
        secret = self._keys.get(key_id)
        if secret is None:
            raise denied(self.codes.unknown_key, f"the access key id {key_id} does not exist")
        return secret

    def _credential(self, key_id: str, sent_token: str | None, header: str) -> tuple[str, Principal | None]:
        """(secret, whose) of ``key_id``: the server's own key (its STS token checked later, by
        ``_check_token``), or a RAM user's or an issued session's from the identity registry — a
        session's token must be the one issued with it, and it must not have expired."""
        secret = self._keys.get(key_id)
        if secret is not None or self._identity is None:
            return self._secret(key_id), None
        known = self._identity.lookup(key_id)
        if known is None:
            raise denied(self.codes.unknown_key, f"the access key id {key_id} does not exist")
        if known.token is not None:
            if not sent_token:
                raise denied(self.codes.token_missing, f"an STS security token is required ({header})")
            if not hmac.compare_digest(sent_token.encode("utf-8"), known.token.encode("utf-8")):
                raise denied(
                    self.codes.token_mismatch, "the security token does not belong to the access key"
                )
            if known.expires_at is not None and self._identity.now() >= known.expires_at:
                raise denied(self.codes.token_expired, "the security token has expired")
        return known.secret, known.principal

    def _check_account(self, principal: Principal | None) -> None:
        """Credentials of another account than the one served here are refused (after the signature)."""
        if (
            principal is not None
            and self._account_id is not None
            and principal.account_id != self._account_id
        ):
            raise api_errors.other_account(principal.account_id, self._account_id)

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
        identity: IdentityRegistry | None = None,
        account_id: str | None = None,
    ) -> None:
        super().__init__(
            keys,
            security_token=security_token,
            wall_clock=wall_clock,
            identity=identity,
            account_id=account_id,
        )
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
        secret, principal = self._credential(
            key_id, headers.get("x-fc-security-token"), "x-fc-security-token"
        )
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
        if principal is None:
            self._check_token(headers.get("x-fc-security-token"), "x-fc-security-token")
        expected = fc2_signature(secret, method, decoded_path, headers)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            string_to_sign = fc2_string_to_sign(method, decoded_path, headers)
            raise denied(
                self.codes.bad_signature,
                f"the request signature does not match; the string to sign was {string_to_sign!r}",
            )
        self._check_account(principal)
        return key_id


# --- RPC v1 (HMAC-SHA1): what the official credentials libraries sign STS calls with ----------------
V1_REQUIRED: Final = ("AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp")
#: nonces remembered against replay (the window is the allowed clock skew)
NONCE_MEMORY: Final = 100_000


def pop_encode(value: str) -> str:
    """POP's percent encoding: RFC 3986, only ``A-Za-z0-9-_.~`` bare (a space is ``%20``, ``*`` ``%2A``)."""
    return quote(value, safe="-_.~")


def rpc_v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` + the encoded canonical query: every parameter but ``Signature``, sorted by its
    name as sent (before encoding: ``é`` sorts after ``0``, though ``%C3%A9`` would sort before), each
    ``name=value`` percent-encoded, joined by ``&``."""
    names = sorted(name for name in params if name != "Signature")
    canonical = "&".join(f"{pop_encode(name)}={pop_encode(params[name])}" for name in names)
    return f"{method.upper()}&{pop_encode('/')}&{pop_encode(canonical)}"


def rpc_v1_signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Base64 of HMAC-SHA1 keyed with ``secret + "&"`` over the string to sign."""
    digest = hmac.new(
        f"{secret}&".encode(), rpc_v1_string_to_sign(method, params).encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class NonceWindow:
    """Signature nonces seen recently; a nonce used twice is a replay (``SignatureNonceUsed``)."""

    def __init__(self, size: int = NONCE_MEMORY) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def use(self, nonce: str) -> None:
        if nonce in self._seen:
            raise api_errors.sts_nonce_used()
        self._seen[nonce] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)


class RpcV1Verifier(KeyedVerifier):
    """Checks an RPC v1 request (``Signature`` among the parameters); raises 403 with ``codes``."""

    codes = api_errors.STS_GATE

    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        wall_clock: Callable[[], float] = time.time,
        identity: IdentityRegistry | None = None,
        nonces: NonceWindow | None = None,
    ) -> None:
        super().__init__(keys, wall_clock=wall_clock, identity=identity)
        self._nonces = nonces if nonces is not None else NonceWindow()

    def verify(self, method: str, params: Mapping[str, str]) -> tuple[str, Principal | None]:
        """(access key id, whose) of a correctly signed request."""
        missing = [name for name in (*V1_REQUIRED, "Signature") if not params.get(name)]
        if missing:
            raise denied(self.codes.no_authorization, f"the request lacks {', '.join(missing)}")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise denied(
                self.codes.bad_authorization,
                f"SignatureMethod {params['SignatureMethod']!r} / SignatureVersion "
                f"{params['SignatureVersion']!r}: only HMAC-SHA1 / 1.0 are supported",
            )
        key_id = params["AccessKeyId"]
        secret, principal = self._credential(key_id, params.get("SecurityToken"), "SecurityToken")
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise denied(
                self.codes.bad_date, f"Timestamp {params['Timestamp']!r} is not YYYY-MM-DDThh:mm:ssZ"
            ) from None
        skew = abs(self._wall_clock() - stamp.timestamp())
        if skew > MAX_SKEW_SECONDS:
            raise denied(self.codes.skewed, f"Timestamp is {skew:.0f}s away from the server's time")
        expected = rpc_v1_signature(secret, method, params)
        if not hmac.compare_digest(expected.encode("ascii"), params["Signature"].encode("utf-8", "replace")):
            # unlike FC 2.0's gate, the string to sign is not echoed: it would hold the SecurityToken
            raise denied(self.codes.bad_signature, "Specified signature is not matched with our calculation.")
        self._nonces.use(params["SignatureNonce"])
        return key_id, principal
