"""FC 3.0 (API 2023-03-30) for the crawler: the ACS3-signed list calls, and FC 3.0 configs read back into
fcaudit's records.

FC 3.0 lists the async configs of a whole region in one paged listing instead of one listing per
function, which is what makes it worth speaking: a region of 10,000 functions costs a few hundred
requests instead of more than 10,000. Its configs name their function by ARN, so to write the same
``config`` records as an FC 2.0 crawl, ``record_config`` maps each one back:

* ``functionArn`` ``acs:fc:{region}:{account}:functions/{name}[/{qualifier}]`` gives function and
  qualifier (no qualifier segment: ``LATEST``; ``:{qualifier}``, ``/aliases/{q}`` and ``/versions/{q}``
  are read too). FC 3.0 shows an FC 2.0 function as ``{service}${function}`` — ``$`` cannot occur in an
  FC 2.0 name, so the split is unique; a function created in FC 3.0 has no ``$`` and no service, and is
  recorded with service ``""``. An ARN of another region or account is refused (``ProtocolError``).
* The record's ``config`` is FC 2.0-shaped: ``service``, ``function`` and ``qualifier`` first (in place
  of ``functionArn``), ``asyncTask`` renamed ``statefulInvocation``, every other field kept, unknown
  ones included, in their order.

What still differs from an FC 2.0 crawl of the same account (documented in docs/estates.md): the qualifier of
the unpublished version is always ``"LATEST"`` (FC 2.0 may answer ``""``), the identity fields are always
spelled ``service``/``function`` (FC 2.0 sometimes answers ``serviceName``/``functionName``), and the
``function`` records' ``pages`` count pages of the region-wide listing, not per function.

``Fc3Client`` speaks over the same ``Transport`` as ``FcClient`` (limiter, retries, capped reads, error
mapping — FC 3.0's ``{"Code", "Message"}`` error body is read by the same case-insensitive lookup) and
brings only its paths and its ACS3 signature.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from yarl import URL

from crawler.errors import ProtocolError
from crawler.settings.credentials import Credentials
from crawler.store.records import LATEST
from crawler.wire.models import Page
from crawler.wire.signing import FC3_API_VERSION, acs3_signed_headers, percent_encode
from crawler.wire.transport import ListCall, Transport

SEPARATOR: Final = "$"
FC3_API: Final = f"/{FC3_API_VERSION}"
_ARN_RE: Final = re.compile(
    r"^acs:fc:(?P<region>[^:]*):(?P<account>[^:]*):functions/(?P<name>[^/:]+)"
    r"(?:(?::|/aliases/|/versions/|/)(?P<qualifier>[^/:]+))?$"
)


def fc3_function_name(service: str, function: str) -> str:
    """The FC 3.0 name of an FC 2.0 function (``service`` ``""``: a function of FC 3.0's own)."""
    return f"{service}{SEPARATOR}{function}" if service else function


def split_function_name(name: str) -> tuple[str, str]:
    """(service, function) from an FC 3.0 function name; ``("", name)`` for an FC 3.0-native one."""
    service, sep, function = name.partition(SEPARATOR)
    if sep and service and function:
        return service, function
    return "", name


def parse_function_arn(arn: str) -> tuple[str, str, str, str, str]:
    """(region, account, service, function, qualifier) of an FC 3.0 function ARN; ``ProtocolError`` else."""
    match = _ARN_RE.fullmatch(arn)
    if match is None:
        raise ProtocolError(f"functionArn {arn[:200]!r} is not an FC 3.0 function ARN")
    service, function = split_function_name(match["name"])
    return match["region"], match["account"], service, function, match["qualifier"] or LATEST


def record_config(
    item: Mapping[str, Any], *, account: str, region: str
) -> tuple[str, str, str, dict[str, Any]]:
    """(service, function, qualifier, FC 2.0-shaped config) of one FC 3.0 config (module docstring)."""
    arn = item.get("functionArn")
    if not isinstance(arn, str):
        raise ProtocolError("an FC 3.0 config has no string 'functionArn'")
    arn_region, arn_account, service, function, qualifier = parse_function_arn(arn)
    if (arn_region, arn_account) != (region, account):
        raise ProtocolError(
            f"functionArn {arn[:200]!r} is not of account {account} in {region}, which was listed"
        )
    config: dict[str, Any] = {"service": service, "function": function, "qualifier": qualifier}
    for name, value in item.items():
        if name != "functionArn":
            config["statefulInvocation" if name == "asyncTask" else name] = value
    return service, function, qualifier, config


#: FC 3.0's two calls (``configs`` may be left out when empty, as in FC 2.0); one function's config
#: listing is gone on ``FunctionNotFound``, the region's has nothing that can be deleted
_LIST_FUNCTIONS: Final = ListCall("ListFunctions", "functions")
_LIST_CONFIGS: Final = ListCall("ListAsyncInvokeConfigs", "configs", required=False)
_LIST_FUNCTION_CONFIGS: Final = ListCall(
    "ListAsyncInvokeConfigs", "configs", required=False, gone=frozenset({"FunctionNotFound"})
)
#: one function's triggers (``GET /2023-03-30/functions/{name}/triggers``), gone with the function
_LIST_TRIGGERS: Final = ListCall(
    "ListTriggers", "triggers", required=False, gone=frozenset({"FunctionNotFound"})
)


class Fc3Client:
    """The FC 3.0 list calls of one (account, region), ACS3-signed, over the shared ``Transport``: the
    two region-wide listings and one function's triggers.
    ``nonce`` makes each attempt's ``x-acs-signature-nonce`` (unique, not secret)."""

    def __init__(self, transport: Transport, *, nonce: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        options = transport.options
        self._transport = transport
        self.endpoint = transport.endpoint
        self.account = options.account
        self.region = options.region
        self._wall_clock = options.wall_clock
        self._nonce = nonce

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(endpoint={self.endpoint!r}, account={self.account!r}, region={self.region!r})"

    async def list_functions_v3(self, *, limit: int, next_token: str | None, prefix: str = "") -> Page:
        query = [("limit", str(int(limit)))]
        if prefix:
            query.append(("prefix", prefix))
        return await self._list3(_LIST_FUNCTIONS, "/functions", query, next_token)

    async def list_async_invoke_configs(
        self, *, limit: int, next_token: str | None, function_name: str = ""
    ) -> Page:
        query = [("limit", str(int(limit)))]
        if function_name:
            query.append(("functionName", function_name))
        call = _LIST_FUNCTION_CONFIGS if function_name else _LIST_CONFIGS
        return await self._list3(call, "/async-invoke-configs", query, next_token, function_name or None)

    async def list_triggers_v3(self, function_name: str, *, limit: int, next_token: str | None) -> Page:
        """One function's triggers; ``function_name`` is its FC 3.0 name (``service$function``)."""
        if not function_name:
            raise ProtocolError("a trigger listing needs a function name")
        query = [("limit", str(int(limit)))]
        # the path segment is percent-encoded ($ included) and signed as sent, as ACS3 wants
        path = f"/functions/{percent_encode(function_name)}/triggers"
        return await self._list3(_LIST_TRIGGERS, path, query, next_token)

    async def _list3(
        self,
        call: ListCall,
        path: str,
        query: list[tuple[str, str]],
        next_token: str | None,
        function: str | None = None,
    ) -> Page:
        if next_token:
            query = [*query, ("nextToken", next_token)]
        encoded_query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query)
        full_path = f"{FC3_API}{path}"
        url = URL(f"{self.endpoint}{full_path}?{encoded_query}", encoded=True)
        host = url.raw_authority or ""
        return await self._transport.get(
            call,
            url,
            lambda creds: self._acs3_headers(creds, call.route, full_path, host, query),
            function=function,
        )

    def _acs3_headers(
        self, creds: Credentials, action: str, path: str, host: str, query: list[tuple[str, str]]
    ) -> dict[str, str]:
        """The headers of one attempt, ACS3-signed: ``host`` and the ``x-acs-*`` set FC 3.0 expects."""
        return acs3_signed_headers(
            access_key_id=creds.access_key_id,
            secret=creds.access_key_secret,
            security_token=creds.security_token,
            method="GET",
            encoded_path=path,
            query=query,
            host=host,
            action=action,
            version=FC3_API_VERSION,
            date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._wall_clock())),
            nonce=self._nonce(),
        )
