"""Paging for the emulator's listings: ``limit`` validation and opaque, listing-bound ``nextToken``s.

A token carries the key of the next item to return (so resuming is one bisect, O(log n), however far into
a 100,000-function listing the client is, and still correct after items were deleted) and an HMAC over
the listing's identity and that key under a per-server key. A token that was edited, made up, or taken
from another listing (another service, function, listing kind or prefix) fails the HMAC and the request
is refused with 400 ``InvalidArgument``, as the real service refuses tokens it did not issue.

FC 3.0 signs the query, ``nextToken`` included, so its tokens (``TokenCodec(key, reserved=True)``) are
spelled to exercise the canonical query's percent-encoding: ``RESERVED_MARK`` (``+/=$``) then standard
base64 with its padding. A client that signs or sends a token without percent-encoding it fails here, as
it would against FC once a real token held one of those characters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

from crawler.emulator import api_errors

DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 100
_VERSION: Final = b"\x01"
_MAC_BYTES: Final = 12
#: how every FC 3.0 token begins: each character the ACS3 canonical query must percent-encode
RESERVED_MARK: Final = "+/=$"


def parse_limit(raw: str | None) -> int:
    """The ``limit`` query value: absent → 20; an integer in 1..100 → itself; anything else → 400."""
    if raw is None:
        return DEFAULT_LIMIT
    text = raw.strip()
    if text.isdigit() and text.isascii():
        value = int(text)
        if 1 <= value <= MAX_LIMIT:
            return value
    raise api_errors.invalid_limit(raw, MAX_LIMIT)


def listing_identity(kind: str, service: str = "", function: str = "", prefix: str = "") -> bytes:
    """What a token is bound to: the listing kind, its parent resources and its prefix."""
    return "\x00".join((kind, service, function, prefix)).encode("utf-8")


class TokenCodec:
    """Issues and checks ``nextToken`` values under one server key."""

    def __init__(self, key: bytes, *, reserved: bool = False) -> None:
        self._key = key
        self._reserved = reserved

    def _mac(self, identity: bytes, position: bytes) -> bytes:
        message = identity + b"\x00\x00" + position
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, identity: bytes, position: str) -> str:
        raw = position.encode("utf-8")
        blob = _VERSION + raw + self._mac(identity, raw)
        if self._reserved:
            return RESERVED_MARK + base64.b64encode(blob).decode("ascii")
        return base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")

    def decode(self, identity: bytes, token: str) -> str:
        """The position a token resumes at; 400 ``InvalidArgument`` when it is not this listing's."""
        try:
            if not self._reserved:
                padded = token + "=" * (-len(token) % 4)
                blob = base64.urlsafe_b64decode(padded.encode("ascii"))
            elif token.startswith(RESERVED_MARK):
                blob = base64.b64decode(token[len(RESERVED_MARK) :].encode("ascii"), validate=True)
            else:
                blob = b""
        except (binascii.Error, UnicodeEncodeError, ValueError):
            blob = b""
        if len(blob) > 1 + _MAC_BYTES and blob[:1] == _VERSION:
            raw, mac = blob[1:-_MAC_BYTES], blob[-_MAC_BYTES:]
            if hmac.compare_digest(mac, self._mac(identity, raw)):
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError:
                    pass
        raise api_errors.invalid_token()


def select_page(
    keys: Sequence[str], *, start: str = "", prefix: str = "", limit: int = DEFAULT_LIMIT
) -> tuple[list[str], str | None]:
    """Up to ``limit`` keys ``>= start`` that begin with ``prefix``, and the key that follows them.

    ``keys`` is sorted; the work is one bisect plus the page itself, never a scan of the listing.
    """
    lo = bisect_left(keys, max(start, prefix))
    chunk = list(keys[lo : lo + limit])
    following = keys[lo + limit] if lo + limit < len(keys) else None
    if prefix:
        for i, key in enumerate(chunk):
            if not key.startswith(prefix):
                return chunk[:i], None
        if following is not None and not following.startswith(prefix):
            following = None
    return chunk, following
