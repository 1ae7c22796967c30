"""Paging primitives: ``limit`` validation, listing-bound tokens, and page selection by bisect."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.emulator import EmulatorApiError
from crawler.emulator.paging import TokenCodec, listing_identity, parse_limit, select_page

CODEC = TokenCodec(b"k" * 32)
FUNCTIONS = listing_identity("functions", "svc")


@pytest.mark.parametrize(("raw", "expected"), [(None, 20), ("1", 1), ("100", 100), (" 42 ", 42)])
def test_valid_limits(raw: str | None, expected: int) -> None:
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "101", "abc", "", "-1", "1.5", "1e2", "٣"])
def test_invalid_limits_are_400_invalid_argument(raw: str) -> None:
    with pytest.raises(EmulatorApiError) as caught:
        parse_limit(raw)
    assert (caught.value.http, caught.value.code) == (400, "InvalidArgument")


@given(st.text(min_size=1, max_size=200))
def test_tokens_round_trip(position: str) -> None:
    assert CODEC.decode(FUNCTIONS, CODEC.encode(FUNCTIONS, position)) == position


def _rejected(identity: bytes, token: str) -> bool:
    try:
        CODEC.decode(identity, token)
    except EmulatorApiError as exc:
        return exc.code == "InvalidArgument" and exc.http == 400
    return False


def test_a_token_is_bound_to_its_listing() -> None:
    token = CODEC.encode(FUNCTIONS, "fn-00042")
    assert _rejected(listing_identity("functions", "other"), token)
    assert _rejected(listing_identity("configs", "svc", "fn"), token)
    assert _rejected(listing_identity("functions", "svc", prefix="fn-"), token)
    assert _rejected(FUNCTIONS, TokenCodec(b"another-server-key").encode(FUNCTIONS, "fn-00042"))


@pytest.mark.parametrize("forged", ["", "x", "not base64 !!", "AAAA", "AXN2Yw", "é"])
def test_made_up_tokens_are_rejected(forged: str) -> None:
    assert _rejected(FUNCTIONS, forged)


def test_an_edited_token_is_rejected() -> None:
    raw = bytearray(base64.urlsafe_b64decode(CODEC.encode(FUNCTIONS, "fn-00042") + "=="))
    raw[3] ^= 1  # change one byte of the position, keep the MAC
    edited = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert _rejected(FUNCTIONS, edited)


KEYS = ["a-1", "a-2", "a-3", "b-1", "b-2", "c-1"]


def test_select_page_walks_the_listing() -> None:
    assert select_page(KEYS, limit=4) == (["a-1", "a-2", "a-3", "b-1"], "b-2")
    assert select_page(KEYS, start="b-2", limit=4) == (["b-2", "c-1"], None)
    assert select_page(KEYS, start="b", limit=1) == (["b-1"], "b-2")
    assert select_page(KEYS, start="zzz", limit=5) == ([], None)


def test_select_page_with_prefix_and_start_key() -> None:
    assert select_page(KEYS, prefix="a-", limit=2) == (["a-1", "a-2"], "a-3")
    assert select_page(KEYS, prefix="a-", limit=3) == (["a-1", "a-2", "a-3"], None)
    assert select_page(KEYS, prefix="b-", start="b-2", limit=5) == (["b-2"], None)
    assert select_page(KEYS, prefix="b-", start="a-2", limit=5) == (["b-1", "b-2"], None)
    assert select_page(KEYS, prefix="x", limit=5) == ([], None)


@given(st.lists(st.text(alphabet="abc-1", min_size=1, max_size=4), unique=True), st.integers(1, 5))
def test_paging_to_the_end_returns_every_key_once(keys: list[str], limit: int) -> None:
    keys.sort()
    seen: list[str] = []
    start = ""
    while True:
        page, following = select_page(keys, start=start, limit=limit)
        seen += page
        if following is None:
            break
        start = following
    assert seen == keys
