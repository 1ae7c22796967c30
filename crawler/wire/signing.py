"""Request signing for the FC control plane: pure functions, shared by the client and the emulator.

FC 2.0 (API 2016-08-15) signs ``METHOD \\n Content-MD5 \\n Content-Type \\n Date \\n`` followed by the
canonicalised ``x-fc-*`` headers and the URL-decoded path; the query string is not signed.
FC 3.0 (API 2023-03-30) uses ACS3-HMAC-SHA256 over a canonical request.
Both the crawler and the emulator import these, and tests hold them to the official SDK's signer, so the
two halves of the project and an independent third party all agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Mapping
from email.utils import formatdate
from urllib.parse import quote

FC2_API_VERSION = "2016-08-15"
FC3_API_VERSION = "2023-03-30"
ACS3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def http_date(timestamp: float) -> str:
    """RFC 1123 date in GMT, as the ``Date`` header wants it."""
    return formatdate(timestamp, usegmt=True)


def canonical_fc_headers(headers: Mapping[str, str]) -> str:
    """Every ``x-fc-*`` header, lower-cased and sorted by name, as ``name:value\\n`` lines."""
    picked = sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-fc-"))
    return "".join(f"{k}:{v}\n" for k, v in picked)


def fc2_string_to_sign(method: str, decoded_path: str, headers: Mapping[str, str]) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    return "\n".join(
        (
            method.upper(),
            lowered.get("content-md5", ""),
            lowered.get("content-type", ""),
            lowered.get("date", ""),
            canonical_fc_headers(headers) + decoded_path,
        )
    )


def fc2_signature(secret: str, method: str, decoded_path: str, headers: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA256 of the FC 2.0 string to sign."""
    to_sign = fc2_string_to_sign(method, decoded_path, headers).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Fc2Signer:
    """FC 2.0 signing for one access key and one fixed set of ``x-fc-*`` headers, for the hot path.

    ``fc2_signature`` lowers, sorts and joins the headers and keys a new HMAC for every request; a
    crawl sends thousands of GETs with the same key, account header and STS token, so this keys the HMAC
    once and canonicalises the ``x-fc-*`` block once, leaving only the date and the path per request.
    The result is exactly ``FC {id}:`` + ``fc2_signature`` (tests hold it to it). The secret lives only
    inside the keyed HMAC object, never in a repr.
    """

    __slots__ = ("_content_type", "_fc_block", "_mac", "_prefix")

    def __init__(
        self, access_key_id: str, secret: str, *, content_type: str, fc_headers: Mapping[str, str]
    ) -> None:
        if any(not k.lower().startswith("x-fc-") for k in fc_headers):
            raise ValueError("fc_headers must hold x-fc-* headers only")
        self._mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
        self._fc_block = canonical_fc_headers(fc_headers)
        self._content_type = content_type
        self._prefix = f"FC {access_key_id}:"

    def __repr__(self) -> str:
        return f"Fc2Signer({self._prefix[3:-1]!r})"

    def authorization(self, method: str, date: str, decoded_path: str) -> str:
        """The ``Authorization`` value of a body-less request with these ``Date`` and path."""
        to_sign = f"{method.upper()}\n\n{self._content_type}\n{date}\n{self._fc_block}{decoded_path}"
        mac = self._mac.copy()
        mac.update(to_sign.encode("utf-8"))
        return self._prefix + base64.b64encode(mac.digest()).decode("ascii")


def parse_fc2_authorization(value: str) -> tuple[str, str] | None:
    """Split ``FC id:signature`` into its parts; ``None`` when it is not of that form."""
    scheme, _, rest = value.partition(" ")
    if scheme != "FC" or ":" not in rest:
        return None
    key_id, _, signature = rest.partition(":")
    if not key_id or not signature:
        return None
    return key_id, signature


#: a value made only of the characters RFC 3986 leaves bare
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def percent_encode(value: str) -> str:
    """RFC 3986 encoding with only unreserved characters left bare (ACS3 and path segments)."""
    if _UNRESERVED.fullmatch(value):  # most names: nothing to encode (a regex is cheaper than quote)
        return value
    return quote(value, safe="-_.~")


def acs3_canonical_query(query: Iterable[tuple[str, str]]) -> str:
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in query)
    return "&".join(f"{k}={v}" for k, v in pairs)


def acs3_canonical_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], names: Collection[str] | None = None
) -> tuple[str, str]:
    """(CanonicalHeaders, SignedHeaders): every ``x-acs-*``, ``host`` and ``content-type`` header (what a
    client signs), or exactly the headers ``names`` (lower-case) lists — a server verifying a request
    canonicalises what the client declared it signed, which an official SDK makes wider (``accept``,
    ``user-agent``)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, list[str]] = {}
    for name, value in items:
        lower = name.lower()
        chosen = (
            lower in names
            if names is not None
            else lower.startswith("x-acs-") or lower in ("host", "content-type")
        )
        if chosen:
            merged.setdefault(lower, []).append(value.strip())
    names = sorted(merged)
    canonical = "".join(f"{n}:{','.join(sorted(merged[n]))}\n" for n in names)
    return canonical, ";".join(names)


def acs3_signature(
    secret: str,
    method: str,
    encoded_path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body_sha256: str = EMPTY_BODY_SHA256,
    *,
    signed_names: Collection[str] | None = None,
) -> tuple[str, str]:
    """(hex signature, SignedHeaders) for ACS3-HMAC-SHA256; ``signed_names``: the headers a request
    declared signed (a server's check), else the client's choice (``acs3_canonical_headers``)."""
    canonical_headers, signed = acs3_canonical_headers(headers, signed_names)
    canonical_request = "\n".join(
        (
            method.upper(),
            encoded_path or "/",
            acs3_canonical_query(query),
            canonical_headers,
            signed,
            body_sha256,
        )
    )
    to_sign = f"{ACS3_ALGORITHM}\n{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest(), signed


def acs3_authorization(
    access_key_id: str,
    secret: str,
    method: str,
    encoded_path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body_sha256: str = EMPTY_BODY_SHA256,
) -> str:
    signature, signed = acs3_signature(secret, method, encoded_path, query, headers, body_sha256)
    return f"{ACS3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={signature}"


def acs3_signed_headers(
    *,
    access_key_id: str,
    secret: str,
    security_token: str | None,
    method: str,
    encoded_path: str,
    query: Iterable[tuple[str, str]],
    host: str,
    action: str,
    version: str,
    date: str,
    nonce: str,
) -> dict[str, str]:
    """The headers of one bodiless ACS3 request (FC 3.0, STS): ``host``, the ``x-acs-*`` set the
    gateway expects, the STS token when there is one, and the ``Authorization`` signing them all."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": EMPTY_BODY_SHA256,
    }
    if security_token is not None:
        headers["x-acs-security-token"] = security_token
    headers["Authorization"] = acs3_authorization(access_key_id, secret, method, encoded_path, query, headers)
    return headers


def parse_acs3_authorization(value: str) -> tuple[str, str, str] | None:
    """(access key id, SignedHeaders, signature) from an ACS3 ``Authorization`` value, or ``None``."""
    scheme, _, rest = value.partition(" ")
    if scheme != ACS3_ALGORITHM:
        return None
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    try:
        return fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        return None
