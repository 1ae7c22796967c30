"""Walk one ``nextToken`` listing to its end — and never in circles, never silently short.

A listing ends on a missing, ``null`` or ``""`` ``nextToken``. Two guards stop a server bug from becoming
an endless loop: a token already seen in this listing is first re-fetched from the page before it (up to
``repeat_retries`` times; the repeated page is discarded, since servers have transient bugs), and if the
token still repeats the listing fails with ``PaginationError``; more than ``max_pages`` pages is a
``PaginationError`` too. Either way the caller records an ``error`` for that listing instead of a short
list that looks complete.

Memory: a listing remembers a 16-byte BLAKE2b digest of each token it has followed, never the token
itself (a server's tokens may be long: ``max_token_length`` caps one, in ``wire.transport``), so what a
listing remembers is at most ``max_pages`` digests however large the tokens are.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from crawler.errors import PaginationError
from crawler.log import get_logger

if TYPE_CHECKING:
    from crawler.wire.models import Page

log = get_logger(__name__)


async def iterate_pages(
    fetch: Callable[[str | None], Awaitable[Page]], *, max_pages: int, repeat_retries: int = 2
) -> AsyncIterator[Page]:
    """Yield each page of a listing; ``fetch(token)`` gets one page (``None`` for the first)."""
    if max_pages < 1:
        raise ValueError("max_pages must be >= 1")
    seen: set[bytes] = set()  # digests of the tokens followed so far
    token: str | None = None
    current = b""  # the digest of ``token``
    pages = 0
    repeats = 0
    while True:
        page = await fetch(token)
        following = page.next_token or None
        digest = _digest(following) if following is not None else b""
        if following is not None and (digest == current or digest in seen):
            repeats += 1
            if repeats > repeat_retries:
                raise PaginationError(
                    f"the server repeated nextToken after {pages} pages "
                    f"(re-fetched {repeat_retries} times); the listing would never end"
                )
            log.warning("pager.repeated_token", pages=pages, refetch=repeats)
            continue
        repeats = 0
        pages += 1
        if pages > max_pages:
            raise PaginationError(
                f"more than {max_pages} pages; raise the max_pages setting if a listing is that long"
            )
        yield page
        if following is None:
            return
        if token is not None:
            seen.add(current)
        token, current = following, digest


def _digest(token: str) -> bytes:
    return hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=16).digest()
