"""The ECS metadata client's fallbacks and refusals, over a loopback server whose answers each test
chooses: IMDSv1 when the token PUT fails (unless disabled), a role name discovered, an instance without
a role, an answer whose ``Code`` is not ``Success``, a 5xx retried."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from aiohttp import web

from crawler.errors import IdentityError, ServerError
from crawler.settings.config import CrawlSettings
from crawler.wire.metadata_client import MetadataClient, safe_uri
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.transport import open_session
from tests.support.fake_fc import FakeServer, Handler, json, serving

pytestmark = pytest.mark.anyio

BODY = {
    "Code": "Success",
    "AccessKeyId": "STS.ecs",
    "AccessKeySecret": "ecs-secret",
    "SecurityToken": "ecs-token",
    "Expiration": "2030-01-01T00:00:00Z",
}


def text(body: str, status: int = 200) -> Handler:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text=body, status=status)

    return handler


@asynccontextmanager
async def metadata() -> AsyncIterator[tuple[FakeServer, MetadataClient, Counter[str]]]:
    counts: Counter[str] = Counter()
    policy = RetryPolicy(3, 0.001, 0.002, RetryBudget(100), random.Random(1).random, anyio.sleep)
    async with serving() as server, open_session(CrawlSettings()) as session:
        yield server, MetadataClient(session, retry=policy, counts=counts), counts


async def test_imdsv2_discovers_the_role_name() -> None:
    async with metadata() as (server, client, counts):
        server.answer(text("v2-token"), text("audit-role\n"), json(BODY))
        creds = await client.ecs_credentials(server.endpoint, None, imdsv1_allowed=False)
    assert creds.access_key_id == "STS.ecs"
    assert [s.raw_path for s in server.seen] == [
        "/latest/api/token",
        "/latest/meta-data/ram/security-credentials/",
        "/latest/meta-data/ram/security-credentials/audit-role",
    ]
    assert server.seen[0].headers["X-aliyun-ecs-metadata-token-ttl-seconds"] == "21600"
    assert all(s.headers["X-aliyun-ecs-metadata-token"] == "v2-token" for s in server.seen[1:])
    assert counts["ecsMetadata"] == 1


async def test_imdsv1_when_the_token_is_refused_and_v1_is_allowed() -> None:
    async with metadata() as (server, client, _):
        server.answer(text("forbidden", 403), json(BODY))
        creds = await client.ecs_credentials(server.endpoint, "audit-role", imdsv1_allowed=True)
    assert creds.security_token == "ecs-token"
    assert "X-aliyun-ecs-metadata-token" not in server.seen[1].headers


async def test_no_imdsv1_when_disabled() -> None:
    async with metadata() as (server, client, _):
        server.answer(text("forbidden", 403))
        with pytest.raises(IdentityError) as caught:
            await client.ecs_credentials(server.endpoint, "audit-role", imdsv1_allowed=False)
    assert "IMDSv1 is disabled" in caught.value.message
    assert len(server.seen) == 1


async def test_an_instance_without_a_role() -> None:
    async with metadata() as (server, client, _):
        server.answer(text("t"), text(""))
        with pytest.raises(IdentityError) as caught:
            await client.ecs_credentials(server.endpoint, None, imdsv1_allowed=True)
    assert "no RAM role attached" in caught.value.message


async def test_a_body_that_is_not_success_and_a_5xx_retried() -> None:
    async with metadata() as (server, client, _):
        server.answer(text("t"), text("busy", 500), json({**BODY, "Code": "Failed"}))
        with pytest.raises(IdentityError) as caught:
            await client.ecs_credentials(server.endpoint, "r", imdsv1_allowed=True)
    assert "not Success" in caught.value.message
    assert len(server.seen) == 3


async def test_a_server_that_stays_down_is_a_server_error() -> None:
    async with metadata() as (server, client, _):
        server.answer(text("busy", 503))
        with pytest.raises(ServerError):
            await client.uri_credentials(f"{server.endpoint}/creds?sig=q-secret")
    assert len(server.seen) == 3


def test_safe_uri_drops_what_may_be_secret() -> None:
    assert safe_uri("http://user:pw@127.0.0.1:8080/creds?sig=x#frag") == "http://127.0.0.1:8080/creds"
    assert safe_uri("http://[::1") == "(an unparsable URI)"
