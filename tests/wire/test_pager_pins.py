"""The pager's defaults and words, pinned: two re-fetches of a repeated token unless told otherwise, a
one-page cap is allowed, the refusal of a zero cap, and the log event each re-fetch leaves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from crawler.errors import PaginationError
from crawler.wire.models import Page
from crawler.wire.pager import iterate_pages

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def repeating(times: int) -> Callable[[str | None], Awaitable[Page]]:
    """First page -> "a"; page "a" answers "a" again ``times`` times, then ends the listing."""
    asked: list[str | None] = []

    async def fetch(token: str | None) -> Page:
        asked.append(token)
        if token is None:
            return Page(items=({"n": 0},), next_token="a", request_id=None)
        repeats = asked.count("a") <= times
        return Page(items=({"n": len(asked)},), next_token="a" if repeats else None, request_id=None)

    return fetch


async def test_by_default_a_repeated_token_is_refetched_twice() -> None:
    pages = [page async for page in iterate_pages(repeating(2), max_pages=10)]
    assert [p.items[0]["n"] for p in pages] == [0, 4]
    with pytest.raises(PaginationError, match=r"after 1 pages \(re-fetched 2 times\)"):
        async for _ in iterate_pages(repeating(3), max_pages=10):
            pass


async def test_each_refetch_is_logged_with_the_pages_so_far_and_its_number() -> None:
    with capture_logs() as logs:
        async for _ in iterate_pages(repeating(2), max_pages=10):
            pass
    assert [(e["event"], e["pages"], e["refetch"]) for e in logs] == [
        ("pager.repeated_token", 1, 1),
        ("pager.repeated_token", 1, 2),
    ]


async def test_a_one_page_cap_allows_a_one_page_listing() -> None:
    async def fetch(token: str | None) -> Page:
        return Page(items=({"n": 0},), next_token=None, request_id=None)

    assert len([p async for p in iterate_pages(fetch, max_pages=1)]) == 1


async def test_a_zero_cap_is_refused_in_words() -> None:
    async def fetch(token: str | None) -> Page:
        raise AssertionError("never fetched")

    with pytest.raises(ValueError, match=r"^max_pages must be >= 1$"):
        async for _ in iterate_pages(fetch, max_pages=0):
            pass


async def test_any_string_is_a_token_even_one_no_encoder_accepts() -> None:
    # a lone surrogate cannot be encoded as UTF-8; the pager must still tell tokens apart
    tokens = {None: "\ud800a", "\ud800a": "\ud800b", "\ud800b": None}

    async def fetch(token: str | None) -> Page:
        return Page(items=({"t": token},), next_token=tokens[token], request_id=None)

    pages = [page.items[0]["t"] async for page in iterate_pages(fetch, max_pages=10)]
    assert pages == [None, "\ud800a", "\ud800b"]
