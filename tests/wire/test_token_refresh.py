"""A 403 naming an expired or invalid security token gets one refresh and one more try of that request;
only a refusal that survives fresh credentials is final (``AuthError``). Over a real loopback socket:
the fake FC server refuses the old token and accepts the new one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from crawler.errors import AuthError, CrawlerError, NotFoundError
from crawler.settings.credentials import Credentials
from crawler.wire.run_stats import RunStats
from crawler.wire.transport import stale_token
from tests.support.fake_fc import SECRET, Handler, client_for, configs, json, serving

pytestmark = pytest.mark.anyio

OLD = Credentials(
    "STS.old", SECRET, "token-old", source="test role", expiration=datetime(2030, 1, 1, tzinfo=UTC)
)
NEW = Credentials("STS.new", SECRET + "2", "token-new", source="test role")


class Rotating:
    """A provider whose ``refreshed`` moves from OLD to NEW once; counts what it was asked."""

    description = "test role"

    def __init__(self, fresh: Credentials = NEW) -> None:
        self.creds = OLD
        self.fresh = fresh
        self.current_calls = 0
        self.refreshes = 0

    async def current(self) -> Credentials:
        self.current_calls += 1
        return self.creds

    async def refreshed(self, stale: Credentials) -> Credentials:
        if self.creds is stale:
            self.refreshes += 1
            self.creds = self.fresh
        return self.creds


def expired_unless_new(code: str = "InvalidSecurityToken.Expired") -> Handler:
    ok = json({"configs": []})
    refused = json({"ErrorCode": code, "ErrorMessage": "the security token has expired"}, status=403)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("x-fc-security-token") == "token-new":
            return await ok(request)
        return await refused(request)

    return handler


@pytest.mark.parametrize(
    "code", ["InvalidSecurityToken.Expired", "InvalidSecurityToken.Malformed", "SecurityTokenExpired"]
)
async def test_an_expired_token_is_refreshed_once_and_the_request_sent_again(code: str) -> None:
    provider = Rotating()
    stats = RunStats()
    async with serving() as server, client_for(server.endpoint, provider=provider, stats=stats) as client:
        server.answer(expired_unless_new(code))
        page = await configs(client)
    assert page.items == ()
    assert server.served == [403, 200]
    assert provider.refreshes == 1
    assert [s.headers.get("x-fc-security-token") for s in server.seen] == ["token-old", "token-new"]
    assert server.seen[1].headers["Authorization"].startswith("FC STS.new:")
    assert stats.retries == 0  # not a retry of the policy: the same attempt, with fresh credentials


async def test_a_refusal_that_survives_fresh_credentials_is_final() -> None:
    provider = Rotating()
    async with serving() as server, client_for(server.endpoint, provider=provider, attempts=5) as client:
        server.answer(json({"ErrorCode": "InvalidSecurityToken.Expired", "ErrorMessage": "no"}, status=403))
        with pytest.raises(AuthError) as caught:
            await configs(client)
    assert server.served == [403, 403]  # one refresh, one more try: never a loop
    assert provider.refreshes == 1
    assert "STS.new" in caught.value.message
    assert SECRET not in caught.value.message


async def test_static_keys_are_not_retried_on_an_expired_token() -> None:
    async with serving() as server, client_for(server.endpoint, creds=OLD, attempts=5) as client:
        server.answer(json({"ErrorCode": "InvalidSecurityToken.Expired", "ErrorMessage": "no"}, status=403))
        with pytest.raises(AuthError):
            await configs(client)
    assert server.served == [403]


@pytest.mark.parametrize("code", ["SignatureNotMatch", "InvalidAccessKeyId.NotFound", "AccessDenied"])
async def test_other_403s_do_not_refresh(code: str) -> None:
    provider = Rotating()
    async with serving() as server, client_for(server.endpoint, provider=provider, attempts=5) as client:
        server.answer(expired_unless_new(code))
        with pytest.raises(AuthError if code != "AccessDenied" else Exception):
            await configs(client)
    assert provider.refreshes == 0
    assert server.served == [403]


async def test_each_attempt_signs_with_the_providers_current_credentials() -> None:
    """A retry (after a 503) asks the provider again: credentials refreshed meanwhile are used."""
    provider = Rotating()
    ok = json({"configs": []})

    async def unavailable(request: web.BaseRequest) -> web.StreamResponse:
        provider.creds = NEW  # refreshed by another worker while this request was out
        return web.Response(status=503, body=b'{"ErrorCode": "ServiceUnavailable"}')

    async with serving() as server, client_for(server.endpoint, provider=provider, attempts=3) as client:
        server.answer(unavailable, ok)
        await configs(client)
    assert provider.current_calls == 2
    assert [s.headers.get("x-fc-security-token") for s in server.seen] == ["token-old", "token-new"]


async def test_fc3_signs_each_attempt_with_fresh_credentials_too() -> None:
    from crawler.wire.fc3_client import Fc3Client

    provider = Rotating()
    async with serving() as server, client_for(server.endpoint, provider=provider) as fc2:
        client = Fc3Client(fc2._transport)
        ok = json({"configs": []})
        refused = json({"Code": "InvalidSecurityToken.Expired", "Message": "expired"}, status=403)

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            fresh = request.headers.get("x-acs-security-token") == "token-new"
            return await (ok if fresh else refused)(request)

        server.answer(handler)
        await client.list_async_invoke_configs(limit=10, next_token=None)
    assert server.served == [403, 200]
    assert "Credential=STS.new," in server.seen[1].headers["Authorization"]


async def test_a_rotated_tokens_old_secrets_are_still_scrubbed_from_what_the_server_says() -> None:
    """After a refresh the old token (requests signed with it may still be answered) stays on the scrub
    list beside the new one: a server's error quoting either is shown redacted."""
    provider = Rotating()
    async with serving() as server, client_for(server.endpoint, provider=provider, attempts=1) as client:
        server.answer(expired_unless_new())
        await configs(client)  # refused with the old token, refreshed, answered with the new one
        quoted = {"ErrorCode": "InternalError", "ErrorMessage": "bad token-old and token-new"}
        server.answer(json(quoted, 500))
        with pytest.raises(CrawlerError) as caught:
            await configs(client)
    assert "token-old" not in caught.value.message
    assert "token-new" not in caught.value.message
    assert caught.value.message.count("[redacted]") == 2


async def test_the_resent_request_is_the_same_call_logged_counted_and_judged_as_the_first() -> None:
    """The request sent again with fresh credentials keeps the call's route, its subject and its
    meaning of 404: it is logged and counted under the same route, its debug line names the function,
    a ``FunctionNotFound`` to it is the function gone (not a failure), and the refresh itself is
    logged at info with the route and the code that caused it."""
    provider = Rotating()
    stats = RunStats()
    refused = json({"ErrorCode": "InvalidSecurityToken.Expired", "ErrorMessage": "old"}, status=403)
    gone = json({"ErrorCode": "FunctionNotFound", "ErrorMessage": "no such function"}, status=404)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        fresh = request.headers.get("x-fc-security-token") == "token-new"
        return await (gone if fresh else refused)(request)

    with capture_logs() as logs:
        async with serving() as server, client_for(server.endpoint, provider=provider, stats=stats) as client:
            server.answer(handler)
            with pytest.raises(NotFoundError):
                await configs(client, "svc-9", "fn-9")
    route = "ListFunctionAsyncInvokeConfigs"
    assert dict(stats.requests_by_route) == {route: 2}
    refreshed = [e for e in logs if e["event"] == "credentials.refreshed_after_refusal"]
    assert refreshed == [
        {
            "event": "credentials.refreshed_after_refusal",
            "log_level": "info",
            "route": route,
            "code": "InvalidSecurityToken.Expired",
        }
    ]
    requests = [e for e in logs if e["event"] == "client.request"]
    assert [(e["route"], e["service"], e["function"], e["status"]) for e in requests] == [
        (route, "svc-9", "fn-9", 403),
        (route, "svc-9", "fn-9", 404),
    ]


def test_a_stale_token_code_is_judged_by_its_head_before_the_first_dot() -> None:
    """The code's first dotted part decides, whatever follows it (FC adds details after a dot)."""
    assert stale_token("InvalidSecurityToken.Expired.AfterRotation")
    assert stale_token("SECURITYTOKENEXPIRED")
    assert not stale_token("InvalidAccessKeyId.InvalidSecurityToken")
