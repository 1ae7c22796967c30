"""Witness: the official STS SDK (``alibabacloud-sts20150401`` on ``alibabacloud-tea-openapi``, installed
only in the ``test`` extra) assumes a role against the emulator unchanged — only its endpoint pointed at
the emulator — and the session it gets is one fcaudit's own STS client recognises (GetCallerIdentity).

The SDK signs more headers than fcaudit does (``accept``, ``user-agent``): a server canonicalises what
the client declared it signed, and so must the emulator. Its synchronous client runs in a worker thread,
over a real loopback socket."""

from __future__ import annotations

import random
from collections import Counter

import anyio
import pytest
from alibabacloud_sts20150401 import models
from alibabacloud_sts20150401.client import Client
from alibabacloud_tea_openapi.models import Config

from crawler.emulator.server import IdentityThread
from crawler.settings.config import CrawlSettings
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StsEndpoint
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.sts_client import StsClient
from crawler.wire.transport import open_session
from tests.support.identity_support import IdentityEstateSpec, build_registry, member_account

pytestmark = pytest.mark.anyio


async def test_the_official_sts_sdk_assumes_a_role_on_the_emulator() -> None:
    registry, user, roles = build_registry(
        IdentityEstateSpec(members=1, external_id="ext-42", emulators=False)
    )
    role = roles[member_account(0)]
    with IdentityThread(registry) as identity:
        host = identity.sts_endpoint.split("://", 1)[1]
        config = Config(
            access_key_id=user.access_key_id,
            access_key_secret=user.access_key_secret,
            endpoint=host,
            protocol="http",
        )
        request = models.AssumeRoleRequest(
            role_arn=role.arn, role_session_name="sdk-witness", duration_seconds=900, external_id="ext-42"
        )
        answer = await anyio.to_thread.run_sync(lambda: Client(config).assume_role(request))
        got = answer.body.credentials
        assert answer.body.assumed_role_user.arn.startswith(f"acs:ram::{role.account_id}:assumed-role/")
        session = Credentials(got.access_key_id, got.access_key_secret, got.security_token)
        policy = RetryPolicy(1, 0.01, 0.01, RetryBudget(10), random.Random(1).random)
        async with open_session(CrawlSettings()) as http:
            ours = StsClient(http, limiter=RateLimiter(10.0, 1), retry=policy, counts=Counter())
            who = await ours.get_caller_identity(session, StsEndpoint(identity.sts_endpoint))
    assert who.account_id == role.account_id
    assert registry.assumed[role.arn] == 1
