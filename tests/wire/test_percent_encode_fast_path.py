"""``percent_encode`` returns a name with nothing to encode as it is (a regex, cheaper than ``quote`` on
every request's path) and encodes everything else exactly as ``quote(value, safe="-_.~")`` does."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from crawler.wire.fc2_client import encode_segment
from crawler.wire.signing import percent_encode

#: the bare characters, their neighbours in ASCII, and look-alikes a Unicode-aware class would take
_NEAR = "AZaz09_.~-/%+ :@!*'()é\u00a0\u0660\uff10\u212a\u0131"


@given(st.text(alphabet=st.sampled_from(_NEAR), max_size=16) | st.text(max_size=16))
def test_the_fast_path_is_quote(value: str) -> None:
    assert percent_encode(value) == quote(value, safe="-_.~")


def test_a_bare_name_is_returned_as_it_is() -> None:
    name = "thumbnail-00024_v1.2~x"
    assert percent_encode(name) is name


def test_dots_alone_are_encoded_and_dots_within_are_not() -> None:
    assert encode_segment("..", "function") == "%2E%2E"
    assert encode_segment(".", "function") == "%2E"
    assert encode_segment("a.b", "function") == "a.b"
    assert encode_segment(".a.", "function") == ".a."
