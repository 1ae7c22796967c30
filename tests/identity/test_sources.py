"""Each credential source, against the emulator's identity side over real loopback sockets: RRSA/OIDC
with a token file the "kubelet" rotates, the ECS metadata server over IMDSv2, a credentials URI, an
External ``process_command``, a chain of two roles; and who-am-I (an unknown account filled, a target of
another account refused). Each source's credentials are then used against an FC emulator that accepts
only what the registry issued for its account, so "got credentials" means "got working credentials"."""

from __future__ import annotations

import contextlib
import io
import logging
import random
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import anyio
import orjson
import pytest

from crawler.emulator import AccountSpec, generate_account
from crawler.emulator.metadata_routes import CredentialsUriApi, ImdsApi
from crawler.emulator.ram import IdentityRegistry
from crawler.emulator.server import EmulatorThread, IdentityThread
from crawler.errors import AuthError, IdentityError
from crawler.identity.cache import IdentityCache
from crawler.identity.whoami import resolve_targets
from crawler.log import configure
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import (
    AssumedRole,
    CredentialSource,
    CredentialsUri,
    EcsRamRole,
    ExternalProcess,
    OidcRole,
    RoleSpec,
    StaticKeys,
    StsEndpoint,
)
from crawler.wire.credential_provider import CredentialProvider
from crawler.wire.fc2_client import FcClient
from crawler.wire.metadata_client import MetadataClient
from crawler.wire.models import ClientOptions
from crawler.wire.ratelimit import RateLimiter
from crawler.wire.retry import RetryBudget, RetryPolicy
from crawler.wire.run_stats import RunStats
from crawler.wire.sts_client import StsClient
from crawler.wire.transport import Session, Transport, open_session
from tests.support.identity_support import FakeWallClock

pytestmark = pytest.mark.anyio

CENTRAL = "1000000000000001"
MEMBER = "2000000000000001"
OTHER = "2000000000000002"


class Estate:
    """A registry (central user, member roles), its servers, and one FC emulator for MEMBER."""

    def __init__(self, stack: ExitStack, clock: Callable[[], float], **servers: object) -> None:
        self.clock = clock
        self.registry = IdentityRegistry(seed=3, session_seconds=60, wall_clock=clock)
        self.user = self.registry.add_user(CENTRAL, "auditor")
        self.role = self.registry.add_role(MEMBER, "audit", trusted=(self.user,))
        self.other_role = self.registry.add_role(OTHER, "audit", trusted=(self.user,))
        self.ecs_role = self.registry.add_role(MEMBER, "ecs-audit", trusted=("ecs.aliyuncs.com",))
        self.provider_arn = self.registry.add_oidc_provider(MEMBER, "ack", ["token-A"])
        self.oidc_role = self.registry.add_role(MEMBER, "rrsa-audit", trusted=(self.provider_arn,))
        self.imds = ImdsApi(self.registry, self.ecs_role, imdsv1=False)
        self.uri = CredentialsUriApi(self.registry, self.role, query={"key": "uri-query-secret"})
        self.identity = stack.enter_context(IdentityThread(self.registry, imds=self.imds, uri=self.uri))
        backend = generate_account(
            AccountSpec(seed=5, services=2, functions=4, account_id=MEMBER, big_functions=0)
        )
        self.fc = stack.enter_context(EmulatorThread(backend, identity=self.registry))

    @property
    def sts(self) -> StsEndpoint:
        return StsEndpoint(self.identity.sts_endpoint)

    @property
    def keys(self) -> StaticKeys:
        return StaticKeys(
            Credentials(self.user.access_key_id, self.user.access_key_secret, source="test user")
        )

    def spec(self, arn: str, external_id: str | None = None) -> RoleSpec:
        return RoleSpec(arn, "fcaudit-test", 900, external_id, self.sts)


@pytest.fixture
def clock() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
def estate(clock: FakeWallClock) -> Iterator[Estate]:
    with ExitStack() as stack:
        yield Estate(stack, clock)


@asynccontextmanager
async def identities(clock: Callable[[], float]) -> AsyncIterator[tuple[IdentityCache, Session]]:
    counts: Counter[str] = Counter()
    policy = RetryPolicy(3, 0.01, 0.02, RetryBudget(100), random.Random(2).random, anyio.sleep)
    async with open_session(CrawlSettings()) as session:
        sts = StsClient(session, limiter=RateLimiter(20.0, 4), retry=policy, counts=counts)
        metadata = MetadataClient(session, retry=policy, counts=counts)
        yield IdentityCache(sts, metadata, counts=counts, clock=clock), session


async def services_seen(session: Session, estate: Estate, provider: CredentialProvider) -> int:
    """List MEMBER's services with ``provider``'s credentials: FC accepts only what STS issued for it."""
    options = ClientOptions(
        endpoint=estate.fc.endpoint,
        account=MEMBER,
        region="cn-hangzhou",
        credentials=provider,
        limiter=RateLimiter(100.0, 2),
        retry=RetryPolicy(1, 0.01, 0.01, RetryBudget(10)),
        stats=RunStats(),
        settings=CrawlSettings(),
        wall_clock=estate.clock,
    )
    page = await FcClient(Transport(session, options)).list_services(limit=100, next_token=None)
    return len(page.items)


async def test_rrsa_reads_the_rotated_token_file_on_refresh(
    estate: Estate, clock: FakeWallClock, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("token-A\n")
    source = OidcRole(estate.spec(estate.oidc_role.arn), estate.provider_arn, token_file)
    async with identities(clock) as (cache, session):
        provider = cache.provider(source)
        first = await provider.current()
        assert await services_seen(session, estate, provider) == 2
        # the kubelet rotates the token: the old one is no longer accepted
        token_file.write_text("token-B\n")
        estate.registry.accept_oidc_token(estate.provider_arn, "token-B")
        estate.registry.revoke_oidc_token(estate.provider_arn, "token-A")
        clock.advance(45)  # less than a third of the 60-second session left: due
        second = await provider.current()
        assert second.access_key_id != first.access_key_id
        assert await services_seen(session, estate, provider) == 2
    assert estate.registry.calls["AssumeRoleWithOIDC"] == 2
    assert cache.counts["refreshes"] == 1


async def test_ecs_instance_role_over_imdsv2(estate: Estate, clock: FakeWallClock) -> None:
    source = EcsRamRole(None, estate.identity.metadata_url or "", imdsv1_allowed=False)
    async with identities(clock) as (cache, session):
        provider = cache.provider(source)
        creds = await provider.current()
        assert creds.security_token is not None
        assert creds.expiration is not None
        assert await services_seen(session, estate, provider) == 2
    assert cache.counts["ecsMetadata"] == 1


async def test_credentials_uri_and_its_secret_query(estate: Estate, clock: FakeWallClock) -> None:
    uri = f"{estate.identity.credentials_uri}?key=uri-query-secret"
    async with identities(clock) as (cache, session):
        provider = cache.provider(CredentialsUri(uri))
        assert "uri-query-secret" not in provider.description
        assert await services_seen(session, estate, provider) == 2
        wrong = cache.provider(CredentialsUri(uri.replace("uri-query-secret", "nope")))
        with pytest.raises(AuthError) as caught:
            await wrong.current()
    assert "nope" not in caught.value.message
    assert "?" not in caught.value.message


def external_command(tmp_path: Path, payload: Mapping[str, object], exit_code: int = 0) -> str:
    script = tmp_path / "helper.py"
    script.write_text(
        "import sys\n"
        f"sys.stdout.write({orjson.dumps(payload).decode()!r})\n"
        "sys.stderr.write('debug: secret-on-stderr\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    return f"{sys.executable} {script}"


async def test_an_external_process(estate: Estate, clock: FakeWallClock, tmp_path: Path) -> None:
    session_creds = estate.registry.issue(estate.role, "external", 900)
    payload = {
        "mode": "StsToken",
        "access_key_id": session_creds.access_key_id,
        "access_key_secret": session_creds.access_key_secret,
        "sts_token": session_creds.security_token,
        "expiration": session_creds.expiration,
    }
    async with identities(clock) as (cache, session):
        provider = cache.provider(ExternalProcess(external_command(tmp_path, payload), "ext"))
        assert await services_seen(session, estate, provider) == 2
        (tmp_path / "broken").mkdir()
        failing = cache.provider(ExternalProcess(external_command(tmp_path / "broken", payload, 3), "broken"))
        with pytest.raises(IdentityError) as caught:
            await failing.current()
    assert "exited with status 3" in caught.value.message
    assert "secret-on-stderr" not in caught.value.message
    assert sys.executable not in caught.value.message  # the command line is not shown either
    assert cache.counts["externalProcess"] == 2


async def test_a_chain_of_two_roles(estate: Estate, clock: FakeWallClock) -> None:
    """ChainableRamRoleArn: the user assumes a role in OTHER, which assumes MEMBER's role."""
    hop = estate.registry.add_role(OTHER, "hop", trusted=(estate.user,))
    target_role = estate.registry.add_role(MEMBER, "chained", trusted=(hop.arn,))
    chain = AssumedRole(AssumedRole(estate.keys, estate.spec(hop.arn)), estate.spec(target_role.arn))
    async with identities(clock) as (cache, session):
        provider = cache.provider(chain)
        assert await services_seen(session, estate, provider) == 2
    assert estate.registry.assumed[hop.arn] == 1
    assert estate.registry.assumed[target_role.arn] == 1


async def test_who_am_i_fills_an_unknown_account_and_refuses_another_accounts(
    estate: Estate, clock: FakeWallClock
) -> None:
    role = AssumedRole(estate.keys, estate.spec(estate.role.arn))
    other = AssumedRole(estate.keys, estate.spec(estate.other_role.arn))
    targets = [
        Target("", "cn-hangzhou", estate.fc.endpoint, role),
        Target("", "cn-shanghai", estate.fc.endpoint, role),
        Target(MEMBER, "cn-beijing", estate.fc.endpoint, other),  # the role of OTHER on MEMBER's target
        Target(CENTRAL, "cn-hangzhou", estate.fc.endpoint, estate.keys),  # static keys, account given
    ]
    async with identities(clock) as (cache, _):
        resolved = await resolve_targets(targets, cache, sts=estate.sts)
        assert [r.target.account for r in resolved] == [MEMBER, MEMBER, MEMBER, CENTRAL]
        assert resolved[0].provider is resolved[1].provider  # one identity, one provider
        with pytest.raises(IdentityError) as caught:
            await resolved[2].provider.current()
        assert await resolved[0].provider.current() is not None
    message = caught.value.message
    assert caught.value.code == "AccountMismatch"
    assert OTHER in message
    assert MEMBER in message
    assert "\n" not in message
    # once per distinct identity (the two roles); static keys with an account given are not asked
    assert estate.registry.calls["GetCallerIdentity"] == 2
    assert cache.counts["getCallerIdentity"] == 2


async def test_static_keys_of_an_unknown_account(estate: Estate, clock: FakeWallClock) -> None:
    targets = [Target("", "cn-hangzhou", "http://{account}.fc.example.invalid:9", estate.keys)]
    async with identities(clock) as (cache, _):
        resolved = await resolve_targets(targets, cache, sts=estate.sts, insecure_http=True)
    assert resolved[0].target.account == CENTRAL
    assert resolved[0].target.endpoint == f"http://{CENTRAL}.fc.example.invalid:9"


async def test_no_token_query_or_stderr_reaches_a_debug_log(
    estate: Estate, clock: FakeWallClock, tmp_path: Path
) -> None:
    """The OIDC token's content, a credentials URI's query and an External helper's stderr and command
    line stay out of the debug log, whether the source works or fails."""
    log = io.StringIO()
    configure(logging.DEBUG, "json", stream=log)
    token_file = tmp_path / "token"
    token_file.write_text("token-A")
    (tmp_path / "ext").mkdir()
    command = external_command(tmp_path / "ext", {"mode": "AK"}, 1)
    sources: list[CredentialSource] = [
        OidcRole(estate.spec(estate.oidc_role.arn), estate.provider_arn, token_file),
        CredentialsUri(f"{estate.identity.credentials_uri}?key=uri-query-secret"),
        CredentialsUri(f"{estate.identity.credentials_uri}?key=wrong-query-secret"),
        ExternalProcess(command, "ext"),
    ]
    async with identities(clock) as (cache, session):
        for source in sources:
            provider = cache.provider(source)
            with contextlib.suppress(AuthError):
                await services_seen(session, estate, provider)
    text = log.getvalue()
    assert "identity.refused" in text
    assert "client.request" in text
    for secret in ("token-A", "uri-query-secret", "wrong-query-secret", "secret-on-stderr", command):
        assert secret not in text


async def test_a_session_fc_refuses_as_expired_is_refreshed_and_the_request_retried(
    estate: Estate, clock: FakeWallClock
) -> None:
    """The FC emulator refuses a session past its expiry with InvalidSecurityToken.Expired; the provider
    (whose own clock thought the session still fresh: a skewed host) refreshes once, and the same listing
    goes through with the new session."""
    own_clock = FakeWallClock(clock.now)  # the crawler's view of time, left behind
    source = AssumedRole(estate.keys, estate.spec(estate.role.arn))
    async with identities(own_clock) as (cache, session):
        provider = cache.provider(source)
        first = await provider.current()
        clock.advance(61)  # past the 60-second session on the emulator's clock
        assert await services_seen(session, estate, provider) == 2
        second = await provider.current()
    assert second.access_key_id != first.access_key_id
    assert estate.registry.assumed[estate.role.arn] == 2
    assert cache.counts["refreshes"] == 1
