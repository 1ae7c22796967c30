"""The emulator's FC 3.0 ``nextToken``s hold ``+ / = $``, so every FC 3.0 test that pages signs and sends
a token a careless client would mangle (FC 3.0 signs the query; ``+`` in a raw query reads as a space)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.emulator import EmulatorApiError
from crawler.emulator.paging import RESERVED_MARK, TokenCodec, listing_identity

FC3 = TokenCodec(b"k" * 32, reserved=True)
FC2 = TokenCodec(b"k" * 32)
CONFIGS = listing_identity("fc3-configs")


@given(st.text(min_size=1, max_size=200))
def test_fc3_tokens_round_trip_and_hold_every_reserved_character(position: str) -> None:
    """Pins the FC 3.0 token spelling: it starts with ``+/=$`` and decodes back to its position."""
    token = FC3.encode(CONFIGS, position)
    assert token.startswith("+/=$")
    assert {"+", "/", "=", "$"} <= set(token)
    assert FC3.decode(CONFIGS, token) == position


@pytest.mark.parametrize(
    "forged",
    [
        "",
        RESERVED_MARK,
        RESERVED_MARK + "!!",
        FC2.encode(CONFIGS, "svc$fn\x00LATEST"),  # an FC 2.0 spelling of a valid token
    ],
)
def test_fc3_tokens_that_were_mangled_or_not_issued_are_refused(forged: str) -> None:
    with pytest.raises(EmulatorApiError) as caught:
        FC3.decode(CONFIGS, forged)
    assert (caught.value.http, caught.value.code) == (400, "InvalidArgument")


def test_a_space_for_the_plus_is_refused() -> None:
    token = FC3.encode(CONFIGS, "svc$fn\x00LATEST")
    with pytest.raises(EmulatorApiError):
        FC3.decode(CONFIGS, token.replace("+", " "))
