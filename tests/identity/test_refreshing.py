"""``RefreshingProvider``: when credentials are refreshed, that one fetch serves every worker sharing
them (single flight), that a refusal is remembered, and that a failed refresh keeps still-valid
credentials. The clock is injected; the fetch is a coroutine the test writes (no I/O to fake)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import anyio
import pytest

from crawler.errors import AuthError, IdentityError, ServerError
from crawler.identity.refreshing import (
    EXTERNAL_REFRESH_AHEAD,
    REFRESH_AHEAD,
    RefreshingProvider,
    RefusedProvider,
    refresh_margin,
)
from crawler.settings.credentials import Credentials

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """A fetch that issues numbered session credentials living ``lifetime`` seconds."""

    def __init__(self, clock: Clock, lifetime: float, delay: float = 0.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.delay = delay
        self.issued = 0
        self.fail: BaseException | None = None

    async def __call__(self) -> Credentials:
        if self.delay:
            await anyio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        self.issued += 1
        expires = datetime.fromtimestamp(self.clock.now + self.lifetime, UTC)
        return Credentials(f"STS.{self.issued}", "secret", f"token-{self.issued}", expiration=expires)


def test_the_margin_is_fifteen_minutes_or_a_third_of_a_short_session() -> None:
    assert refresh_margin(3600, REFRESH_AHEAD) == 900
    assert refresh_margin(43200, REFRESH_AHEAD) == 900
    assert refresh_margin(20, REFRESH_AHEAD) == pytest.approx(20 / 3)
    assert refresh_margin(900, REFRESH_AHEAD) == 300  # a 15-minute session is not due on arrival
    assert refresh_margin(3600, EXTERNAL_REFRESH_AHEAD) == 180
    assert refresh_margin(-5, REFRESH_AHEAD) == 0


async def test_credentials_are_refreshed_ahead_of_expiry_not_before() -> None:
    clock, counts = Clock(), Counter[str]()
    issuer = Issuer(clock, 3600)
    provider = RefreshingProvider(issuer, "role r", counts=counts, clock=clock)
    first = await provider.current()
    clock.now = T0 + 3600 - 900 - 1  # one second before the 15 minutes ahead of expiry
    assert await provider.current() is first
    clock.now = T0 + 3600 - 900
    second = await provider.current()
    assert second.access_key_id == "STS.2"
    assert counts == {"refreshes": 1}


async def test_a_twenty_second_session_is_refreshed_at_two_thirds_of_its_life() -> None:
    clock, counts = Clock(), Counter[str]()
    provider = RefreshingProvider(Issuer(clock, 20), "role r", counts=counts, clock=clock)
    await provider.current()
    clock.now = T0 + 13.0
    assert (await provider.current()).access_key_id == "STS.1"
    clock.now = T0 + 13.4
    assert (await provider.current()).access_key_id == "STS.2"


async def test_many_workers_share_one_refresh() -> None:
    """Single flight: 200 workers finding the credentials due at once cause one fetch, and all get it."""
    clock, counts = Clock(), Counter[str]()
    issuer = Issuer(clock, 20, delay=0.05)
    provider = RefreshingProvider(issuer, "role r", counts=counts, clock=clock)
    got: list[str] = []

    async def worker() -> None:
        got.append((await provider.current()).access_key_id)

    async with anyio.create_task_group() as group:
        for _ in range(200):
            group.start_soon(worker)
    assert issuer.issued == 1
    assert set(got) == {"STS.1"}
    clock.now = T0 + 15
    got.clear()
    async with anyio.create_task_group() as group:
        for _ in range(200):
            group.start_soon(worker)
    assert issuer.issued == 2
    assert set(got) == {"STS.2"}
    assert len(got) == 200
    assert counts == {"refreshes": 1}


async def test_workers_refused_at_once_cause_one_refresh() -> None:
    clock, counts = Clock(), Counter[str]()
    issuer = Issuer(clock, 3600, delay=0.02)
    provider = RefreshingProvider(issuer, "role r", counts=counts, clock=clock)
    stale = await provider.current()
    fresh: list[Credentials] = []

    async def refused_worker() -> None:
        fresh.append(await provider.refreshed(stale))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(refused_worker)
    assert issuer.issued == 2
    assert {c.access_key_id for c in fresh} == {"STS.2"}


async def test_a_refusal_is_remembered_not_asked_again() -> None:
    clock, counts = Clock(), Counter[str]()
    issuer = Issuer(clock, 3600)
    issuer.fail = AuthError("STS AssumeRole: NoPermission", code="NoPermission", http=403)
    provider = RefreshingProvider(issuer, "role r", counts=counts, clock=clock)
    for _ in range(5):
        with pytest.raises(AuthError) as caught:
            await provider.current()
        assert caught.value.code == "NoPermission"
    issuer.fail = None
    with pytest.raises(AuthError):
        await provider.current()
    assert issuer.issued == 0
    assert counts["refreshes"] == 0


async def test_a_failed_refresh_keeps_valid_credentials_then_fails_after_expiry() -> None:
    clock, counts = Clock(), Counter[str]()
    issuer = Issuer(clock, 60)
    provider = RefreshingProvider(issuer, "role r", counts=counts, clock=clock)
    first = await provider.current()
    issuer.fail = ServerError("STS: HTTP 500", code="InternalError", http=500)
    clock.now = T0 + 50  # due (less than 20 s left) but still valid
    assert await provider.current() is first
    clock.now = T0 + 61  # expired: nothing usable is left
    with pytest.raises(IdentityError) as caught:
        await provider.current()
    assert "could not get credentials for role r" in caught.value.message
    assert caught.value.code == "InternalError"


async def test_credentials_without_expiration_are_never_refreshed() -> None:
    calls = 0

    async def fetch() -> Credentials:
        nonlocal calls
        calls += 1
        return Credentials("AK", "secret")

    clock = Clock()
    provider = RefreshingProvider(fetch, "external", counts=Counter(), clock=clock)
    await provider.current()
    clock.now += 10**9
    await provider.current()
    assert calls == 1


async def test_a_refused_provider_refuses_every_call() -> None:
    error = AuthError("belongs to account 1, not 2", code="AccountMismatch", http=403)
    provider = RefusedProvider(error, "role r")
    for call in (provider.current(), provider.refreshed(Credentials("a", "b"))):
        with pytest.raises(AuthError) as caught:
            await call
        assert caught.value.code == "AccountMismatch"
        assert caught.value is not error
    assert provider.description == "role r"
