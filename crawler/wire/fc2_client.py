"""FC 2.0 (API 2016-08-15): the crawl's list calls, their paths and their signature, over the shared
``Transport`` (limiter, retries, capped reads, error mapping: ``crawler.wire.transport``): services, a
service's functions, a function's async configs and (``--triggers``) a function's triggers.

Names go into the path one percent-encoded segment each (``/``, ``..``, ``%``, control and non-ASCII
characters included) while the signature covers the decoded path, as FC specifies. A 404 of a listing
is "deleted" only with FC's own code for it: ``ServiceNotFound`` for a service's functions, that or
``FunctionNotFound`` for a function's configs or triggers; ListServices has nothing that can be deleted.
"""

from __future__ import annotations

from typing import Final

from yarl import URL

from crawler.errors import ProtocolError
from crawler.settings.credentials import Credentials
from crawler.wire.models import Page
from crawler.wire.signing import FC2_API_VERSION, Fc2Signer, http_date, percent_encode
from crawler.wire.transport import ListCall, Transport

#: the three calls, by how deep the listing is: services, a service's functions, a function's configs
#: (FC always sends ``services`` and ``functions``; an empty ``configs`` may be left out)
_CALLS: Final = (
    ListCall("ListServices", "services"),
    ListCall("ListFunctions", "functions", gone=frozenset({"ServiceNotFound"})),
    ListCall(
        "ListFunctionAsyncInvokeConfigs",
        "configs",
        required=False,
        gone=frozenset({"ServiceNotFound", "FunctionNotFound"}),
    ),
)
#: ListTriggers (``GET .../functions/{f}/triggers``): paged like the others; an empty list may be left out
LIST_TRIGGERS: Final = ListCall(
    "ListTriggers", "triggers", required=False, gone=frozenset({"ServiceNotFound", "FunctionNotFound"})
)


def encode_segment(name: str, what: str) -> str:
    """One path segment, percent-encoded; ``.`` and ``..`` are encoded too so nothing normalises them."""
    if not name:
        raise ProtocolError(f"the server listed a {what} with an empty name")
    if not name.strip("."):  # only dots
        return "%2E" * len(name)
    return percent_encode(name)


class FcClient:
    """The FC 2.0 list calls of one (account, region). Retries and rate limiting happen in the transport."""

    def __init__(self, transport: Transport) -> None:
        options = transport.options
        self._transport = transport
        self.endpoint = transport.endpoint
        self.account = options.account
        self.region = options.region
        self._wall_clock = options.wall_clock
        # per-credentials work done once (again after each refresh): the x-fc-* headers, the keyed HMAC;
        # per second, the Date
        self._signed_for: Credentials | None = None
        self._fixed_headers: dict[str, str] = {}
        self._signer: Fc2Signer | None = None
        self._date_second = -1
        self._date = ""

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(endpoint={self.endpoint!r}, account={self.account!r}, region={self.region!r})"

    # -- the list calls -------------------------------------------------------------------------
    async def list_services(self, *, limit: int, next_token: str | None) -> Page:
        return await self._list(limit, next_token)

    async def list_functions(self, service: str, *, limit: int, next_token: str | None) -> Page:
        return await self._list(limit, next_token, service)

    async def list_async_configs(
        self, service: str, function: str, *, limit: int, next_token: str | None
    ) -> Page:
        return await self._list(limit, next_token, service, function)

    async def list_triggers(self, service: str, function: str, *, limit: int, next_token: str | None) -> Page:
        return await self._list(limit, next_token, service, function, triggers=True)

    async def _list(
        self,
        limit: int,
        next_token: str | None,
        service: str | None = None,
        function: str | None = None,
        *,
        triggers: bool = False,
    ) -> Page:
        decoded = encoded = f"/{FC2_API_VERSION}/services"
        if service is not None:
            decoded += f"/{service}/functions"
            encoded += f"/{encode_segment(service, 'service')}/functions"
        if function is not None:
            leaf = "triggers" if triggers else "async-invoke-configs"
            decoded += f"/{function}/{leaf}"
            encoded += f"/{encode_segment(function, 'function')}/{leaf}"
        query = f"limit={int(limit)}"
        if next_token:
            query += f"&nextToken={percent_encode(next_token)}"
        url = URL(f"{self.endpoint}{encoded}?{query}", encoded=True)
        call = LIST_TRIGGERS if triggers else _CALLS[(service is not None) + (function is not None)]
        return await self._transport.get(
            call, url, lambda creds: self._headers(creds, decoded), service=service, function=function
        )

    def _signer_for(self, creds: Credentials) -> Fc2Signer:
        """The signer and fixed headers of ``creds``, built once per set of credentials."""
        if self._signer is None or creds is not self._signed_for:
            fixed = {"Content-Type": "application/json", "x-fc-account-id": self.account}
            if creds.security_token is not None:
                fixed["x-fc-security-token"] = creds.security_token
            self._fixed_headers = fixed
            self._signer = Fc2Signer(
                creds.access_key_id,
                creds.access_key_secret,
                content_type=fixed["Content-Type"],
                fc_headers={k: v for k, v in fixed.items() if k.startswith("x-fc-")},
            )
            self._signed_for = creds
        return self._signer

    def _headers(self, creds: Credentials, decoded_path: str) -> dict[str, str]:
        """One attempt's signed headers: the Date of its second, the fixed ``x-fc-*`` set, FC 2.0's HMAC."""
        signer = self._signer_for(creds)
        now = self._wall_clock()
        if int(now) != self._date_second:  # the Date header has a resolution of one second
            self._date_second, self._date = int(now), http_date(now)
        headers = {"Date": self._date, **self._fixed_headers}
        headers["Authorization"] = signer.authorization("GET", self._date, decoded_path)
        return headers


__all__ = ["LIST_TRIGGERS", "FcClient", "encode_segment"]
