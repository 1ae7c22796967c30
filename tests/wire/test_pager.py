"""The nextToken walk: where a listing ends, and the guards against servers that loop."""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable, Mapping

import pytest

from crawler.errors import PaginationError
from crawler.wire.models import Page
from crawler.wire.pager import iterate_pages

pytestmark = pytest.mark.anyio


Fetch = Callable[[str | None], Awaitable[Page]]


def server(links: Mapping[str | None, list[str | None]], calls: list[str | None]) -> Fetch:
    """``links[token]`` lists the nextToken answered on each successive request with that token."""
    answered: dict[str | None, int] = {}

    async def fetch(token: str | None) -> Page:
        calls.append(token)
        n = answered.get(token, 0)
        answered[token] = n + 1
        options = links[token]
        following = options[min(n, len(options) - 1)]
        return Page(items=({"page": token or "first"},), next_token=following, request_id=None)

    return fetch


async def collect(fetch: Fetch, *, max_pages: int = 100, repeat_retries: int = 2) -> list[str]:
    return [
        page.items[0]["page"]
        async for page in iterate_pages(fetch, max_pages=max_pages, repeat_retries=repeat_retries)
    ]


@pytest.mark.parametrize("end", [None, ""])
async def test_walks_tokens_until_null_or_empty(end: str | None) -> None:
    calls: list[str | None] = []
    pages = await collect(server({None: ["a"], "a": ["b"], "b": [end]}, calls))
    assert pages == ["first", "a", "b"]
    assert calls == [None, "a", "b"]


async def test_a_transient_repeat_is_refetched_and_discarded() -> None:
    calls: list[str | None] = []
    # the first answer for "a" repeats "a"; asked again, the server answers properly
    pages = await collect(server({None: ["a"], "a": ["a", "b"], "b": [None]}, calls))
    assert pages == ["first", "a", "b"]
    assert calls == [None, "a", "a", "b"]


async def test_the_repeat_allowance_is_per_page_not_per_listing() -> None:
    """Pins the per-page reset of the repeat counter: one transient repeat on each of three pages (three
    in all, more than ``repeat_retries=2``) is three separate blips, each re-fetched, and the listing
    completes; only repeats of one page in a row count against the allowance."""
    calls: list[str | None] = []
    links: dict[str | None, list[str | None]] = {
        None: ["a"],
        "a": ["a", "b"],
        "b": ["b", "c"],
        "c": ["c", None],
    }
    pages = await collect(server(links, calls), repeat_retries=2)
    assert pages == ["first", "a", "b", "c"]
    assert calls == [None, "a", "a", "b", "b", "c", "c"]


async def test_a_persistent_repeat_is_a_pagination_error() -> None:
    calls: list[str | None] = []
    with pytest.raises(PaginationError, match="repeated nextToken"):
        await collect(server({None: ["a"], "a": ["a"]}, calls), repeat_retries=2)
    assert calls == [None, "a", "a", "a"]


async def test_a_cycle_back_to_an_earlier_token_is_caught() -> None:
    calls: list[str | None] = []
    with pytest.raises(PaginationError):
        await collect(server({None: ["a"], "a": ["b"], "b": ["a"]}, calls), repeat_retries=1)
    assert calls == [None, "a", "b", "b"]


async def test_page_cap() -> None:
    links: dict[str | None, list[str | None]] = {None: ["t1"]}
    links.update({f"t{i}": [f"t{i + 1}"] for i in range(1, 10)})
    links["t10"] = [None]
    assert len(await collect(server(links, []), max_pages=11)) == 11
    with pytest.raises(PaginationError, match="more than 10 pages"):
        await collect(server(links, []), max_pages=10)


async def test_bad_cap_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="max_pages"):
        await collect(server({None: [None]}, []), max_pages=0)


async def test_a_listing_remembers_digests_of_its_tokens_not_the_tokens() -> None:
    """Before: every token followed was kept, so 2,000 pages of 16 KB tokens held 32 MB until the end."""
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        held = 0

        async def fetch(token: str | None) -> Page:
            serial = int(token[:8]) + 1 if token else 0
            return Page(items=(), next_token=f"{serial:08d}".ljust(16 * 1024, "t"), request_id=None)

        async for _page in iterate_pages(fetch, max_pages=2_000):
            held = max(held, tracemalloc.get_traced_memory()[0] - baseline)
    except PaginationError:
        pass  # the page cap: the listing never ended
    finally:
        tracemalloc.stop()
    assert held < 2 * 2**20, f"the listing held {held / 2**20:.1f} MB"
