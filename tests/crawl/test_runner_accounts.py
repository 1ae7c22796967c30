"""The runner gives the limiters of one account's endpoints one ``SharedQuota`` (they may draw on one
quota; wire/shared_quota.py tells), and each account its own: endpoints of different accounts never
share a quota, and are never paced as one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crawler.crawl.runner import open_clients
from crawler.wire.fc2_client import FcClient
from crawler.wire.ratelimit import AdaptiveRate
from crawler.wire.run_stats import RunStats
from crawler.wire.shared_quota import SharedQuota
from tests.support.pipeline_support import crawl_job, target

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def core_of(client: object) -> AdaptiveRate:
    assert isinstance(client, FcClient)
    return client._transport.options.limiter.core


async def test_an_accounts_endpoints_share_one_account_and_accounts_do_not() -> None:
    targets = [
        target("http://127.0.0.1:1", "1111111111111111", "cn-hangzhou"),
        target("http://127.0.0.1:2", "1111111111111111", "cn-shanghai"),
        target("http://127.0.0.1:3", "2222222222222222", "cn-hangzhou"),
    ]
    async with open_clients(replace(crawl_job(targets), api="fc2"), RunStats()) as clients:
        a1 = core_of(clients[("1111111111111111", "cn-hangzhou")])
        a2 = core_of(clients[("1111111111111111", "cn-shanghai")])
        b1 = core_of(clients[("2222222222222222", "cn-hangzhou")])
    assert isinstance(a1.account, SharedQuota)
    assert a1.account is a2.account
    assert isinstance(b1.account, SharedQuota)
    assert b1.account is not a1.account
    assert a1.account.members == [a1, a2]
    assert b1.account.members == [b1]
    assert (a1.name, a2.name, b1.name) == ("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")
