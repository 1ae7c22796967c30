"""The hot path's shortcuts sign and clean exactly as the reference functions do: ``Fc2Signer`` (keyed
once) against ``fc2_authorization``, the client's per-second Date cache against a fresh date each time,
and the printable fast path of the text cleaner against the regex alone."""

from __future__ import annotations

import random
import re

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.settings.config import CrawlSettings
from crawler.settings.credentials import Credentials
from crawler.wire.credential_provider import StaticProvider
from crawler.wire.fc2_client import FcClient
from crawler.wire.models import ClientOptions
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.run_stats import RunStats
from crawler.wire.signing import Fc2Signer, http_date
from crawler.wire.transport import Transport, _clean
from tests.support.signing_support import fc2_authorization

SECRET = "s3cr3t-Value-0123456789"
TOKEN = "sts-token-abcdef"
PATHS = [
    "/2016-08-15/services",
    "/2016-08-15/services/svc/functions/fn/async-invoke-configs",
    "/2016-08-15/services/sv c/functions/ünïcode/../%2F/async-invoke-configs",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("token", [None, TOKEN])
def test_the_signer_matches_the_reference(path: str, token: str | None) -> None:
    fc_headers = {"x-fc-account-id": "1234567890123456"}
    if token is not None:
        fc_headers["X-Fc-Security-Token"] = token  # any case: canonicalised like the reference
    signer = Fc2Signer("LTAIkey", SECRET, content_type="application/json", fc_headers=fc_headers)
    for date in ("Thu, 26 Nov 2026 04:41:13 GMT", "Fri, 27 Nov 2026 00:00:00 GMT"):
        headers = {"Date": date, "Content-Type": "application/json", **fc_headers}
        assert signer.authorization("GET", date, path) == fc2_authorization(
            "LTAIkey", SECRET, "GET", path, headers
        )


def test_the_signer_refuses_other_headers_and_hides_the_secret() -> None:
    with pytest.raises(ValueError, match="x-fc-"):
        Fc2Signer("LTAIkey", SECRET, content_type="application/json", fc_headers={"Date": "x"})
    signer = Fc2Signer("LTAIkey", SECRET, content_type="application/json", fc_headers={})
    assert SECRET not in repr(signer)
    assert "LTAIkey" in repr(signer)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("token", [None, TOKEN])
async def test_each_attempt_is_signed_with_the_date_of_its_second(
    anyio_backend: str, token: str | None
) -> None:
    clock = [1_700_000_000.2]
    creds = Credentials("LTAIkey", SECRET, token)
    settings = CrawlSettings()
    async with aiohttp.ClientSession() as session:
        options = ClientOptions(
            endpoint="http://127.0.0.1:9",
            account="1234567890123456",
            region="cn-hangzhou",
            credentials=StaticProvider(creds),
            limiter=RateLimiter(10.0, 1),
            retry=RetryPolicy(1, 0.1, 1.0, RetryBudget(1), random.Random(1).random),
            stats=RunStats(),
            settings=settings,
            wall_clock=lambda: clock[0],
        )
        client = FcClient(Transport(session, options))
        for now in (1_700_000_000.2, 1_700_000_000.9, 1_700_000_001.0, 1_700_000_007.5):
            clock[0] = now
            headers = client._headers(creds, PATHS[1])
            assert headers["Date"] == http_date(now)
            expected = {k: v for k, v in headers.items() if k != "Authorization"}
            assert headers["Authorization"] == fc2_authorization("LTAIkey", SECRET, "GET", PATHS[1], expected)
            assert ("x-fc-security-token" in headers) is (token is not None)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@given(st.text(max_size=60))
def test_the_printable_fast_path_cleans_like_the_regex(text: str) -> None:
    expected = _CONTROL.sub(" ", text.replace(SECRET, "[redacted]"))
    expected = expected if len(expected) <= 300 else expected[:297] + "..."
    assert _clean(text, (SECRET,)) == expected
