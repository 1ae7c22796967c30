"""The FC 3.0 signer (ACS3-HMAC-SHA256) held to an independent witness: the official signer of
``alibabacloud-tea-openapi`` (what ``alibabacloud-fc20230330`` signs with), on random requests whose
paths, queries and headers hold the characters a canonical request must percent-encode.

The emulator verifies ACS3 with ``crawler.wire.signing`` itself, so a crawler and emulator that agree on a
wrong canonical request would pass every end-to-end test; only a third party can catch that.
"""

from __future__ import annotations

import hashlib
import string

from alibabacloud_tea_openapi.utils import Utils as SdkUtils
from darabonba.request import DaraRequest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.wire.signing import acs3_authorization, percent_encode

ALGORITHM = "ACS3-HMAC-SHA256"
#: the characters the issue names, and a few more that quote() treats specially
RESERVED = "+/=$~*% &?#@:;,'!()[]"


def sdk_authorization(
    access_key_id: str,
    secret: str,
    method: str,
    pathname: str,
    query: dict[str, str],
    headers: dict[str, str],
    payload_sha256: str,
) -> str:
    """The official SDK's ``Authorization`` for this request (its ``Utils.get_authorization``)."""
    request = DaraRequest()
    request.method = method
    request.pathname = pathname
    request.query = dict(query)
    request.headers = dict(headers)
    value: str = SdkUtils.get_authorization(request, ALGORITHM, payload_sha256, access_key_id, secret)
    return value


_any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
_reserved_text = st.text(alphabet=RESERVED + "aZ09-_.é函数", max_size=30)
_value = st.one_of(_reserved_text, _any_text)
_segment = st.one_of(_reserved_text, _any_text).filter(bool)
# FC 3.0's query names are plain identifiers (the SDK does not encode names, only values)
_query_name = st.one_of(
    st.sampled_from(["limit", "nextToken", "prefix", "functionName", "qualifier", "fcVersion"]),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12),
)
_header_name = st.tuples(
    st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12),
    st.sampled_from([str.lower, str.upper, str.title]),
).map(lambda pair: pair[1]("x-acs-" + pair[0]))
_header_value = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/=+,;$", max_size=40)


@settings(max_examples=300, deadline=None)
@example(
    segments=["functions", "svc$fn"],
    query={"limit": "100", "nextToken": "+/=$~*%é", "prefix": "a+b/c=d$"},
    headers={"x-acs-date": "2024-01-01T00:00:00Z"},
    host="127.0.0.1:8080",
    content_type=None,
    method="GET",
    secret="secret",
    body=b"",
)
@given(
    segments=st.lists(_segment, min_size=1, max_size=4),
    query=st.dictionaries(_query_name, _value, max_size=5),
    headers=st.dictionaries(_header_name, _header_value, max_size=5),
    host=st.sampled_from(
        ["127.0.0.1:8080", "fcv3.cn-hangzhou.aliyuncs.com", "1234.cn-shanghai.fc.aliyuncs.com"]
    ),
    content_type=st.sampled_from([None, "application/json", "application/octet-stream"]),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    secret=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=40),
    body=st.binary(max_size=64),
)
def test_acs3_agrees_with_the_official_sdk(
    segments: list[str],
    query: dict[str, str],
    headers: dict[str, str],
    host: str,
    content_type: str | None,
    method: str,
    secret: str,
    body: bytes,
) -> None:
    """Pins the whole ACS3 canonical request (path, percent-encoded query values, canonical headers,
    signed headers, body hash) to the official signer: same ``Authorization``, byte for byte."""
    sent = {"host": host, **headers}
    if content_type is not None:
        sent["content-type"] = content_type
    payload = hashlib.sha256(body).hexdigest()
    ours_path = "/2023-03-30/" + "/".join(percent_encode(s) for s in segments)
    sdk_path = "/2023-03-30/" + "/".join(SdkUtils.get_encode_param(s) for s in segments)
    expected = sdk_authorization("AKID", secret, method, sdk_path, query, sent, payload)
    ours = acs3_authorization("AKID", secret, method, ours_path, list(query.items()), sent, payload)
    assert ours == expected
