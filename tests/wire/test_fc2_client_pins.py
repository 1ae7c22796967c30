"""Pins on the FC 2.0 client that the mutation run (issue 18) found unpinned: its repr, the exact refusal
of an empty name, each call's path and query, and the Date header renewed once per second."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest

from crawler.errors import NotFoundError, ProtocolError, UnexpectedNotFoundError
from crawler.wire.fc2_client import encode_segment
from crawler.wire.signing import http_date
from tests.support.fake_fc import FakeServer, client_for, json, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[FakeServer]:
    async with serving() as fake:
        yield fake


async def test_the_client_names_its_endpoint_account_and_region(server: FakeServer) -> None:
    """``repr(FcClient)`` names the endpoint, account and region (never a key)."""
    async with client_for(server.endpoint) as client:
        assert repr(client) == (
            f"FcClient(endpoint={server.endpoint!r}, account='1234567890123456', region='cn-hangzhou')"
        )
        assert (client.account, client.region, client.endpoint) == (
            "1234567890123456",
            "cn-hangzhou",
            server.endpoint,
        )


def test_an_empty_name_is_refused_naming_what_was_listed() -> None:
    """An empty service or function name: 'the server listed a <what> with an empty name'; a name of
    dots is all ``%2E`` (nothing may normalise it), a dot inside a name stays as it is."""
    with pytest.raises(ProtocolError) as caught:
        encode_segment("", "function")
    assert caught.value.message == "the server listed a function with an empty name"
    assert encode_segment(".", "service") == "%2E"
    assert encode_segment("...", "service") == "%2E%2E%2E"
    assert encode_segment(".a", "service") == ".a"


async def test_each_call_has_its_path_and_an_empty_token_is_not_sent(server: FakeServer) -> None:
    """ListFunctions goes to /2016-08-15/services/<svc>/functions with the limit as an integer; an empty
    next token is not sent; a 404 ServiceNotFound is "deleted" for it, FunctionNotFound is not."""
    server.answer(
        json({"functions": []}),
        json({"ErrorCode": "ServiceNotFound", "ErrorMessage": "gone"}, status=404),
        json({"ErrorCode": "FunctionNotFound", "ErrorMessage": "gone"}, status=404),
    )
    async with client_for(server.endpoint) as client:
        await client.list_functions("svc", limit=3, next_token="")
        with pytest.raises(NotFoundError) as gone:
            await client.list_functions("svc", limit=3, next_token=None)
        with pytest.raises(UnexpectedNotFoundError):
            await client.list_functions("svc", limit=3, next_token=None)
    assert [s.raw_path for s in server.seen] == ["/2016-08-15/services/svc/functions?limit=3"] * 3
    assert gone.value.message == "ListFunctions: HTTP 404 ServiceNotFound: gone"


async def test_the_date_header_is_renewed_each_second(server: FakeServer) -> None:
    """Within one second of the wall clock the Date header is the same; the next second gets its own."""
    now = [1_700_000_000.2]
    server.answer(json({"services": []}))
    async with client_for(server.endpoint, wall_clock=lambda: now[0]) as client:
        for t in (1_700_000_000.2, 1_700_000_000.9, 1_700_000_001.0, 1_700_000_003.5):
            now[0] = t
            await client.list_services(limit=1, next_token=None)
    assert [s.headers["Date"] for s in server.seen] == [
        http_date(1_700_000_000),
        http_date(1_700_000_000),
        http_date(1_700_000_001),
        http_date(1_700_000_003),
    ]
    assert len({s.headers["Authorization"] for s in server.seen}) == 3


async def test_an_empty_name_in_a_listing_call_names_the_level(server: FakeServer) -> None:
    """An empty service name in ListFunctions or ListFunctionAsyncInvokeConfigs is refused as a 'service',
    an empty function name as a 'function', before anything is sent."""
    async with client_for(server.endpoint) as client:
        with pytest.raises(ProtocolError) as no_service:
            await client.list_functions("", limit=1, next_token=None)
        with pytest.raises(ProtocolError) as no_function:
            await client.list_async_configs("svc", "", limit=1, next_token=None)
    assert no_service.value.message == "the server listed a service with an empty name"
    assert no_function.value.message == "the server listed a function with an empty name"
    assert server.seen == []


async def test_each_listing_sends_the_next_token_it_is_given(server: FakeServer) -> None:
    """ListServices and ListFunctions send the page token they are given as ``nextToken``."""
    server.answer(json({"services": [], "functions": []}))
    async with client_for(server.endpoint) as client:
        await client.list_services(limit=2, next_token="s-2")
        await client.list_functions("svc", limit=2, next_token="f-2")
    assert [s.raw_path for s in server.seen] == [
        "/2016-08-15/services?limit=2&nextToken=s-2",
        "/2016-08-15/services/svc/functions?limit=2&nextToken=f-2",
    ]


async def test_the_first_request_computes_its_date_whatever_second_the_clock_reads(
    server: FakeServer,
) -> None:
    """The Date cache starts empty: even a wall clock in the first seconds of the epoch gets its own Date."""
    server.answer(json({"services": []}))
    for t in (0.5, 1.5):
        clock = functools.partial(float, t)
        async with client_for(server.endpoint, wall_clock=clock) as client:
            await client.list_services(limit=1, next_token=None)
    assert [s.headers["Date"] for s in server.seen] == [http_date(0), http_date(1)]
