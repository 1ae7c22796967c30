"""The STS request signature (ACS3-HMAC-SHA256 over ``POST /`` with the parameters in the query) held to
the official signer of ``alibabacloud-tea-openapi`` — what ``alibabacloud-sts20150401`` signs with — on
random role ARNs, session names, external ids, keys and tokens, as ``test_signing_acs3`` does for FC 3.0.
The emulator checks STS signatures with ``crawler.wire.signing`` itself, so only a third party can catch
a canonical request both halves get wrong."""

from __future__ import annotations

import string
from collections import Counter

from alibabacloud_tea_openapi.utils import Utils as SdkUtils
from darabonba.request import DaraRequest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.settings.credentials import Credentials
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.signing import EMPTY_BODY_SHA256
from crawler.wire.sts_client import STS_API_VERSION, StsClient

ALGORITHM = "ACS3-HMAC-SHA256"


def sdk_authorization(key_id: str, secret: str, query: dict[str, str], headers: dict[str, str]) -> str:
    request = DaraRequest()
    request.method = "POST"
    request.pathname = "/"
    request.query = dict(query)
    request.headers = dict(headers)
    value: str = SdkUtils.get_authorization(request, ALGORITHM, EMPTY_BODY_SHA256, key_id, secret)
    return value


def client(nonce: str, now: float) -> StsClient:
    policy = RetryPolicy(1, 0.01, 0.01, RetryBudget(1))
    # the session is never used: only the signing of one attempt's headers is under test
    return StsClient(
        None,  # type: ignore[arg-type]
        limiter=RateLimiter(1.0, 1),
        retry=policy,
        counts=Counter(),
        wall_clock=lambda: now,
        nonce=lambda: nonce,
    )


_printable = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
_session = st.text(alphabet=string.ascii_letters + string.digits + ".@_-", min_size=2, max_size=32)
_external = st.text(alphabet=string.ascii_letters + string.digits + "+=,.@:/-_", min_size=2, max_size=60)


@settings(max_examples=300, deadline=None)
@example(
    action="AssumeRole",
    account="1234567890123456",
    role="fcaudit-readonly",
    session="fcaudit-1700000000",
    external="ext+id=/:@,.",
    duration=3600,
    key_id="LTAIkey",
    secret="secret",
    token=None,
    host="sts.aliyuncs.com",
    nonce="n",
    now=1_700_000_000.0,
)
@given(
    action=st.sampled_from(["AssumeRole", "GetCallerIdentity"]),
    account=st.text(alphabet=string.digits, min_size=16, max_size=16),
    role=st.text(alphabet=string.ascii_letters + string.digits + "-_.+=,@", min_size=1, max_size=64),
    session=_session,
    external=st.one_of(st.none(), _external),
    duration=st.integers(900, 43200),
    key_id=st.text(alphabet=string.ascii_letters + string.digits + ".", min_size=1, max_size=30),
    secret=_printable,
    token=st.one_of(st.none(), _printable),
    host=st.sampled_from(["sts.aliyuncs.com", "sts.cn-shanghai.aliyuncs.com", "127.0.0.1:18080"]),
    nonce=st.text(alphabet=string.hexdigits, min_size=1, max_size=32),
    now=st.floats(1e9, 4e9),
)
def test_sts_signature_agrees_with_the_official_signer(
    action: str,
    account: str,
    role: str,
    session: str,
    external: str | None,
    duration: int,
    key_id: str,
    secret: str,
    token: str | None,
    host: str,
    nonce: str,
    now: float,
) -> None:
    query = [("Action", action), ("Version", STS_API_VERSION)]
    if action == "AssumeRole":
        query += [
            ("RoleArn", f"acs:ram::{account}:role/{role}"),
            ("RoleSessionName", session),
            ("DurationSeconds", str(duration)),
        ]
        if external is not None:
            query.append(("ExternalId", external))
    creds = Credentials(key_id, secret, token)
    ours = client(nonce, now).signed_headers(action, host, query, creds)
    signed = {k: v for k, v in ours.items() if k not in ("Authorization", "Accept")}
    assert signed["x-acs-version"] == "2015-04-01"
    assert signed["x-acs-action"] == action
    assert ("x-acs-security-token" in signed) is (token is not None)
    assert ours["Authorization"] == sdk_authorization(key_id, secret, dict(query), signed)
