"""Signing details pinned to literal text: the ACS3 canonical request spelled out by hand (which headers
are signed, how they are joined, the path), the FC 2.0 string to sign when optional headers are absent,
the HTTP date, and how both ``Authorization`` parsers split (and refuse) a header value."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from crawler.wire.signing import (
    Fc2Signer,
    acs3_authorization,
    acs3_canonical_headers,
    fc2_string_to_sign,
    http_date,
    parse_acs3_authorization,
    parse_fc2_authorization,
)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DATE = "2024-05-01T00:00:00Z"


def hand_signed(secret: str, canonical_request: str) -> str:
    """ACS3-HMAC-SHA256 from a canonical request written out in the test, not built by the module."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), f"ACS3-HMAC-SHA256\n{digest}".encode(), hashlib.sha256).hexdigest()


def test_acs3_signs_host_content_type_and_x_acs_headers_only() -> None:
    headers = {
        "Host": "1234.cn-hangzhou.fc.aliyuncs.com",
        "Content-Type": "application/json",
        "X-Acs-Date": DATE,
        "x-acs-action": "ListFunctions",
        "Accept": "application/json",
        "User-Agent": "fcaudit",
    }
    canonical, signed = acs3_canonical_headers(headers)
    assert canonical == (
        "content-type:application/json\n"
        "host:1234.cn-hangzhou.fc.aliyuncs.com\n"
        "x-acs-action:ListFunctions\n"
        f"x-acs-date:{DATE}\n"
    )
    assert signed == "content-type;host;x-acs-action;x-acs-date"
    # a mapping and the same pairs as a list sign alike
    assert acs3_canonical_headers(list(headers.items())) == (canonical, signed)


def test_acs3_authorization_matches_a_canonical_request_written_by_hand() -> None:
    headers = [("host", "fc.example"), ("x-acs-date", DATE)]
    path = "/2023-03-30/functions/my-fn/async-invoke-configs"
    value = acs3_authorization("AKID", "s3cret", "get", path, [("limit", "5")], headers)
    canonical_request = (
        f"GET\n{path}\nlimit=5\nhost:fc.example\nx-acs-date:{DATE}\n\nhost;x-acs-date\n{EMPTY_SHA256}"
    )
    assert value == (
        "ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-date,"
        f"Signature={hand_signed('s3cret', canonical_request)}"
    )


def test_acs3_signs_an_empty_path_as_the_root() -> None:
    headers = [("host", "fc.example")]
    value = acs3_authorization("AKID", "s3cret", "GET", "", [], headers)
    canonical_request = f"GET\n/\n\nhost:fc.example\n\nhost\n{EMPTY_SHA256}"
    assert value.endswith(f"Signature={hand_signed('s3cret', canonical_request)}")


def test_fc2_string_to_sign_lines() -> None:
    # absent Content-MD5, Content-Type and Date are empty lines, not "None"
    assert fc2_string_to_sign("get", "/p", {}) == "GET\n\n\n\n/p"
    headers = {"Content-MD5": "bWQ1", "Content-Type": "text/plain", "Date": "D", "X-Fc-B": "2", "x-fc-a": "1"}
    assert fc2_string_to_sign("GET", "/p", headers) == "GET\nbWQ1\ntext/plain\nD\nx-fc-a:1\nx-fc-b:2\n/p"


def test_http_date_is_the_given_instant_in_gmt() -> None:
    assert http_date(0.0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(1_714_521_600.0) == "Wed, 01 May 2024 00:00:00 GMT"


def test_fc2_authorization_parsing() -> None:
    assert parse_fc2_authorization("FC AK:c2ln") == ("AK", "c2ln")
    # the scheme is the first word; the key id ends at the first colon
    assert parse_fc2_authorization("FC AK:a:b") == ("AK", "a:b")
    assert parse_fc2_authorization("FC AK:a b") == ("AK", "a b")
    for refused in ("Bearer AK:c2ln", "FC :c2ln", "FC AK:", "FC AKc2ln", ""):
        assert parse_fc2_authorization(refused) is None, refused


def test_acs3_authorization_parsing() -> None:
    signed = acs3_authorization("AKID", "s3cret", "GET", "/", [], [("host", "fc.example")])
    assert parse_acs3_authorization(signed) == ("AKID", "host", signed.rpartition("=")[2])
    spaced = "ACS3-HMAC-SHA256 Credential=AK=1, SignedHeaders=host;x-acs-date, Signature=ab12"
    assert parse_acs3_authorization(spaced) == ("AK=1", "host;x-acs-date", "ab12")
    for refused in (
        "FC AK:sig",
        "ACS3-HMAC-SHA1 Credential=AK,SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host",
        "ACS3-HMAC-SHA256 Credential=AK,Signature=ab",
        "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=ab",
    ):
        assert parse_acs3_authorization(refused) is None, refused


def test_the_fast_signer_refuses_other_headers_in_words() -> None:
    with pytest.raises(ValueError, match=r"^fc_headers must hold x-fc-\* headers only$"):
        Fc2Signer("AK", "s", content_type="application/json", fc_headers={"Date": "x"})
