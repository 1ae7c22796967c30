"""The STS client over a real loopback socket: what it sends (``POST /``, the parameters in the query,
ACS3 headers; AssumeRoleWithOIDC anonymous with the token in a form body), what it makes of STS's
answers, which failures it retries (throttling, 5xx) and which it does not (``NoPermission``), and
that no secret reaches an error."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import anyio
import pytest
from aiohttp import web

from crawler.errors import AuthError, ProtocolError
from crawler.settings.config import CrawlSettings
from crawler.settings.credentials import Credentials
from crawler.settings.identity import RoleSpec, StsEndpoint
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.signing import acs3_authorization
from crawler.wire.sts_client import StsClient
from crawler.wire.transport import open_session
from tests.support.fake_fc import FakeServer, Handler, json, serving

pytestmark = pytest.mark.anyio

SECRET = "base-secret-0123456789"
BASE = Credentials("LTAIbase", SECRET, source="test")
ROLE_ARN = "acs:ram::2000000000000001:role/fcaudit-readonly"
SESSION = {
    "RequestId": "r-1",
    "Credentials": {
        "AccessKeyId": "STS.session",
        "AccessKeySecret": "session-secret",
        "SecurityToken": "session-token",
        "Expiration": "2030-01-02T03:04:05Z",
    },
    "AssumedRoleUser": {"Arn": "acs:ram::2000000000000001:role/fcaudit-readonly/s", "AssumedRoleId": "1:s"},
}


def role(endpoint: str, external_id: str | None = None) -> RoleSpec:
    return RoleSpec(ROLE_ARN, "fcaudit-test", 900, external_id, StsEndpoint(endpoint))


@asynccontextmanager
async def sts_for(
    attempts: int = 4,
) -> AsyncIterator[tuple[FakeServer, StsClient, Counter[str], list[bytes]]]:
    counts: Counter[str] = Counter()
    bodies: list[bytes] = []
    async with serving() as server, open_session(CrawlSettings()) as session:
        policy = RetryPolicy(attempts, 0.001, 0.002, RetryBudget(100), random.Random(1).random, anyio.sleep)
        client = StsClient(session, limiter=RateLimiter(1000.0, 4), retry=policy, counts=counts)
        yield server, client, counts, bodies


def recording(handler: Handler, bodies: list[bytes], methods: list[str]) -> Handler:
    async def wrapped(request: web.BaseRequest) -> web.StreamResponse:
        bodies.append(await request.read())
        methods.append(request.method)
        return await handler(request)

    return wrapped


async def test_assume_role_sends_a_signed_post_with_the_parameters_in_the_query() -> None:
    methods: list[str] = []
    async with sts_for() as (server, client, counts, bodies):
        server.answer(recording(json(SESSION), bodies, methods))
        got = await client.assume_role(BASE, role(server.endpoint, external_id="ext-1"))
    assert methods == ["POST"]
    seen = server.seen[0]
    url = urlsplit(seen.raw_path)
    query = dict(parse_qsl(url.query))
    assert url.path == "/"
    assert query == {
        "Action": "AssumeRole",
        "Version": "2015-04-01",
        "RoleArn": ROLE_ARN,
        "RoleSessionName": "fcaudit-test",
        "DurationSeconds": "900",
        "ExternalId": "ext-1",
    }
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert headers["x-acs-action"] == "AssumeRole"
    assert headers["x-acs-version"] == "2015-04-01"
    signed = {k: headers[k] for k in headers if k.startswith("x-acs-") or k == "host"}
    assert headers["authorization"] == acs3_authorization(
        "LTAIbase", SECRET, "POST", "/", list(parse_qsl(url.query)), signed
    )
    creds = got.credentials
    assert (creds.access_key_id, creds.security_token) == ("STS.session", "session-token")
    assert creds.expiration == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert got.assumed_arn.startswith(ROLE_ARN)
    assert counts["assumeRole"] == 1
    assert counts["requests"] == 1


async def test_an_sts_session_signs_with_its_token() -> None:
    async with sts_for() as (server, client, _, __):
        server.answer(json(SESSION))
        await client.assume_role(Credentials("STS.base", SECRET, "base-token"), role(server.endpoint))
    assert server.seen[0].headers["x-acs-security-token"] == "base-token"


async def test_throttling_and_server_errors_are_retried_and_counted_once() -> None:
    async with sts_for() as (server, client, counts, _):
        server.answer(
            json({"Code": "Throttling.User", "Message": "slow down"}, status=400),
            json({"Code": "InternalError", "Message": "oops"}, status=500),
            json(SESSION),
        )
        await client.assume_role(BASE, role(server.endpoint))
    assert server.served == [400, 500, 200]
    assert counts["assumeRole"] == 1
    assert counts["requests"] == 3
    assert counts["retries"] == 2
    assert counts["throttled"] == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "NoPermission"), (400, "InvalidParameter.RoleArn"), (404, "EntityNotExist.Role")],
)
async def test_a_refusal_is_final_and_says_what_was_refused(status: int, code: str) -> None:
    echo = f"You are not authorized; the caller signed with {SECRET}"
    async with sts_for() as (server, client, _counts, _):
        server.answer(json({"Code": code, "Message": echo, "RequestId": "r-9"}, status=status))
        with pytest.raises(AuthError) as caught:
            await client.assume_role(BASE, role(server.endpoint, external_id="wrong"))
    assert server.served == [status]
    error = caught.value
    assert error.code == code
    assert ROLE_ARN in error.message
    assert SECRET not in error.message
    assert "wrong" not in error.message  # the external id is not shown either


async def test_oidc_is_anonymous_and_keeps_the_token_out_of_the_url() -> None:
    methods: list[str] = []
    token = "eyJhbGciOiJSUzI1NiJ9.oidc-token-content.signature"
    async with sts_for() as (server, client, counts, bodies):
        server.answer(recording(json(SESSION), bodies, methods))
        got = await client.assume_role_with_oidc(role(server.endpoint), "acs:ram::1:oidc-provider/ack", token)
    assert got.credentials.access_key_id == "STS.session"
    seen = server.seen[0]
    assert token not in seen.raw_path
    assert "authorization" not in {k.lower() for k in seen.headers}
    form = dict(parse_qsl(bodies[0].decode()))
    assert form["OIDCToken"] == token
    assert form["Action"] == "AssumeRoleWithOIDC"
    assert form["OIDCProviderArn"] == "acs:ram::1:oidc-provider/ack"
    assert counts["assumeRoleWithOIDC"] == 1


async def test_an_oidc_refusal_never_shows_the_token() -> None:
    token = "secret-oidc-token-content"
    async with sts_for() as (server, client, _, __):
        server.answer(json({"Code": "AuthenticationFail.OIDCToken.Invalid", "Message": f"bad {token}"}, 400))
        with pytest.raises(AuthError) as caught:
            await client.assume_role_with_oidc(role(server.endpoint), "acs:ram::1:oidc-provider/p", token)
    assert token not in caught.value.message


async def test_get_caller_identity() -> None:
    answer = {
        "AccountId": "2000000000000001",
        "Arn": "acs:ram::2000000000000001:user/a",
        "IdentityType": "RAMUser",
    }
    async with sts_for() as (server, client, counts, _):
        server.answer(json(answer))
        who = await client.get_caller_identity(BASE, StsEndpoint(server.endpoint))
    assert who.account_id == "2000000000000001"
    assert who.identity_type == "RAMUser"
    assert dict(parse_qsl(urlsplit(server.seen[0].raw_path).query)) == {
        "Action": "GetCallerIdentity",
        "Version": "2015-04-01",
    }
    assert counts["getCallerIdentity"] == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"RequestId": "r"},
        {"Credentials": {"AccessKeyId": "STS.a", "AccessKeySecret": "s", "SecurityToken": "t"}},
        {
            "Credentials": {
                "AccessKeyId": "STS.a",
                "AccessKeySecret": "s",
                "SecurityToken": "t",
                "Expiration": "soon",
            }
        },
        {
            "Credentials": {
                "AccessKeyId": "STS.a",
                "AccessKeySecret": "s\n",
                "SecurityToken": "t",
                "Expiration": "2030-01-01T00:00:00Z",
            }
        },
    ],
)
async def test_a_broken_answer_is_a_protocol_error_without_its_values(answer: dict[str, object]) -> None:
    async with sts_for() as (server, client, _, __):
        server.answer(json(answer))
        with pytest.raises(ProtocolError) as caught:
            await client.assume_role(BASE, role(server.endpoint))
    assert "s\n" not in caught.value.message
