"""The FC 2.0 client's signing across credentials, its ListTriggers call, and what its retries name
(mutation run, issue 18): each set of credentials is signed with its own key and token as soon as the
provider hands it out (the signer is cached per set, never across sets); ListTriggers has its own path,
route and error naming; a retried call's log line names the service and function it lists."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from crawler.errors import NotFoundError
from crawler.settings.credentials import Credentials
from crawler.wire.fc2_client import encode_segment
from crawler.wire.signing import http_date
from tests.support.fake_fc import NOW, FakeServer, client_for, json, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[FakeServer]:
    async with serving() as fake:
        yield fake


class Rotating:
    """A provider whose credentials change between calls (an STS refresh), one set per call."""

    def __init__(self, *sets: Credentials) -> None:
        self.sets = list(sets)
        self.handed = 0

    @property
    def description(self) -> str:
        return "rotating test keys"

    async def current(self) -> Credentials:
        creds = self.sets[min(self.handed, len(self.sets) - 1)]
        self.handed += 1
        return creds

    async def refreshed(self, stale: Credentials) -> Credentials:
        return stale


def by_hand(key_id: str, secret: str, token: str | None, path: str) -> str:
    """FC 2.0's Authorization for a GET of ``path`` at NOW, from the string to sign written out here."""
    fc = "x-fc-account-id:1234567890123456\n" + (f"x-fc-security-token:{token}\n" if token else "")
    to_sign = f"GET\n\napplication/json\n{http_date(NOW)}\n{fc}{path}"
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()
    return f"FC {key_id}:{base64.b64encode(digest).decode()}"


async def test_each_set_of_credentials_signs_its_own_requests(server: FakeServer) -> None:
    first = Credentials("AKID1", "secret-one", "token-one")
    second = Credentials("AKID2", "secret-two", "token-two")
    server.answer(json({"services": []}))
    async with client_for(server.endpoint, provider=Rotating(first, first, second, second)) as client:
        for _ in range(4):
            await client.list_services(limit=1, next_token=None)
    path = "/2016-08-15/services"
    assert [(s.headers["Authorization"], s.headers.get("x-fc-security-token")) for s in server.seen] == [
        (by_hand("AKID1", "secret-one", "token-one", path), "token-one"),
        (by_hand("AKID1", "secret-one", "token-one", path), "token-one"),
        (by_hand("AKID2", "secret-two", "token-two", path), "token-two"),
        (by_hand("AKID2", "secret-two", "token-two", path), "token-two"),
    ]


async def test_the_signer_is_built_once_per_set_of_credentials(server: FakeServer) -> None:
    first = Credentials("AKID1", "secret-one")
    second = Credentials("AKID2", "secret-two")
    async with client_for(server.endpoint) as client:
        signer = client._signer_for(first)
        assert client._signer_for(first) is signer  # the keyed HMAC is reused, not rebuilt per request
        assert client._signer_for(second) is not signer
        assert repr(client._signer_for(second)) == "Fc2Signer('AKID2')"


async def test_list_triggers_has_its_own_path_route_and_items(server: FakeServer) -> None:
    server.answer(
        json({"triggers": [{"triggerName": "t1"}], "nextToken": "t-3"}),
        json({"ErrorCode": "FunctionNotFound", "ErrorMessage": "gone"}, status=404),
    )
    async with client_for(server.endpoint) as client:
        page = await client.list_triggers("svc", "fn", limit=2, next_token="t-2")
        with pytest.raises(NotFoundError) as gone:
            await client.list_triggers("svc", "fn", limit=2, next_token=None)
    assert (page.items, page.next_token) == (({"triggerName": "t1"},), "t-3")
    assert [s.raw_path for s in server.seen] == [
        "/2016-08-15/services/svc/functions/fn/triggers?limit=2&nextToken=t-2",
        "/2016-08-15/services/svc/functions/fn/triggers?limit=2",
    ]
    assert gone.value.message == "ListTriggers: HTTP 404 FunctionNotFound: gone"
    # the signature covers the decoded path of the triggers leaf
    assert server.seen[1].headers["Authorization"] == by_hand(
        "AKIDTEST", "client-test-secret-XYZ", None, "/2016-08-15/services/svc/functions/fn/triggers"
    )


async def test_a_retried_listing_names_its_service_and_function(server: FakeServer) -> None:
    failed = json({"ErrorCode": "InternalServerError", "ErrorMessage": "try again"}, status=500)
    server.answer(failed, json({"configs": []}), failed, json({"functions": []}))
    async with client_for(server.endpoint, attempts=2) as client:
        with capture_logs() as logs:
            await client.list_async_configs("svc", "fn", limit=1, next_token=None)
            await client.list_functions("svc", limit=1, next_token=None)
    retries = [e for e in logs if e["event"] == "retry.scheduled"]
    assert [(e["route"], e.get("service"), e.get("function")) for e in retries] == [
        ("ListFunctionAsyncInvokeConfigs", "svc", "fn"),
        ("ListFunctions", "svc", None),
    ]


def test_only_a_name_of_nothing_but_dots_is_encoded_as_dots() -> None:
    """``..`` would be normalised away, so a name of dots alone is all ``%2E``; a name with any other
    character (even a capital X) is an ordinary name, encoded as such."""
    assert encode_segment("..", "service") == "%2E%2E"
    assert encode_segment("X.", "service") == "X."
    assert encode_segment("XX", "function") == "XX"
