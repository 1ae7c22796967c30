"""The ACS3 request headers (FC 3.0 and STS) and the server-side check, pinned to literal text: which
headers ``acs3_signed_headers`` sends (lower-case ``host`` and ``x-acs-*``, the STS token only when
there is one) and that its ``Authorization`` signs exactly those, over a canonical request written out
by hand; and that a server verifying a request canonicalises exactly the headers the client declared
signed, whatever they are (``signed_names``)."""

from __future__ import annotations

import hashlib
import hmac

from crawler.wire.signing import acs3_canonical_headers, acs3_signature, acs3_signed_headers

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
DATE = "2024-05-01T00:00:00Z"


def hand_signed(secret: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return hmac.new(secret.encode(), f"ACS3-HMAC-SHA256\n{digest}".encode(), hashlib.sha256).hexdigest()


def signed(token: str | None) -> dict[str, str]:
    return acs3_signed_headers(
        access_key_id="AKID",
        secret="s3cret",
        security_token=token,
        method="GET",
        encoded_path="/2023-03-30/functions",
        query=[("prefix", "a+b"), ("limit", "5")],
        host="1234.cn-hangzhou.fc.aliyuncs.com",
        action="ListFunctions",
        version="2023-03-30",
        date=DATE,
        nonce="n-1",
    )


def test_the_acs3_headers_without_a_token() -> None:
    headers = signed(None)
    canonical_request = (
        "GET\n/2023-03-30/functions\nlimit=5&prefix=a%2Bb\n"
        "host:1234.cn-hangzhou.fc.aliyuncs.com\n"
        "x-acs-action:ListFunctions\n"
        f"x-acs-content-sha256:{EMPTY_SHA256}\n"
        f"x-acs-date:{DATE}\n"
        "x-acs-signature-nonce:n-1\n"
        "x-acs-version:2023-03-30\n"
        "\nhost;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
        f"{EMPTY_SHA256}"
    )
    assert headers == {
        "host": "1234.cn-hangzhou.fc.aliyuncs.com",
        "x-acs-action": "ListFunctions",
        "x-acs-version": "2023-03-30",
        "x-acs-date": DATE,
        "x-acs-signature-nonce": "n-1",
        "x-acs-content-sha256": EMPTY_SHA256,
        "Authorization": "ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        f"Signature={hand_signed('s3cret', canonical_request)}",
    }


def test_the_acs3_headers_sign_the_sts_token_when_there_is_one() -> None:
    headers = signed("tok/en=")
    canonical_request = (
        "GET\n/2023-03-30/functions\nlimit=5&prefix=a%2Bb\n"
        "host:1234.cn-hangzhou.fc.aliyuncs.com\n"
        "x-acs-action:ListFunctions\n"
        f"x-acs-content-sha256:{EMPTY_SHA256}\n"
        f"x-acs-date:{DATE}\n"
        "x-acs-security-token:tok/en=\n"
        "x-acs-signature-nonce:n-1\n"
        "x-acs-version:2023-03-30\n"
        "\nhost;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;"
        f"x-acs-version\n{EMPTY_SHA256}"
    )
    assert headers["x-acs-security-token"] == "tok/en="
    assert headers["Authorization"] == (
        "ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-action;x-acs-content-sha256;"
        "x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,"
        f"Signature={hand_signed('s3cret', canonical_request)}"
    )
    assert set(headers) == {*signed(None), "x-acs-security-token"}


def test_a_server_canonicalises_exactly_the_headers_the_client_declared_signed() -> None:
    headers = [
        ("Host", "fc.example"),
        ("Accept", "application/json"),
        ("x-acs-date", DATE),
        ("User-Agent", "sdk"),
    ]
    # an official SDK signs accept too; it did not sign x-acs-date here
    canonical, names = acs3_canonical_headers(headers, {"accept", "host"})
    assert (canonical, names) == ("accept:application/json\nhost:fc.example\n", "accept;host")
    signature, names = acs3_signature("s3cret", "GET", "/p", [], headers, signed_names={"accept", "host"})
    assert names == "accept;host"
    canonical_request = f"GET\n/p\n\naccept:application/json\nhost:fc.example\n\naccept;host\n{EMPTY_SHA256}"
    assert signature == hand_signed("s3cret", canonical_request)
