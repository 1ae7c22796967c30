"""Every FC error the emulator answers: its HTTP status, its ``ErrorCode`` and its message, in one place.

Each function below builds one kind of refusal as an ``EmulatorApiError``; the modules that refuse (the
backend, the routes, the signature gates, paging) raise what these return and never spell a status or a
code themselves, so the emulator's error vocabulary can be read, and compared with the FC reference,
here. The two body shapes live here too: FC 2.0's ``{"ErrorCode", "ErrorMessage"}`` and FC 3.0's
``{"Code", "Message", "RequestId"}``; turning them into HTTP answers is ``responses.py``'s job. No
aiohttp and no other emulator module is imported, so anything may import this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from crawler.errors import CrawlerError


class EmulatorApiError(CrawlerError):
    """An FC error the emulator answers with: HTTP status, ``ErrorCode`` and ``ErrorMessage``."""

    def __init__(self, http: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.http = http
        self.code = code
        self.headers = dict(headers or {})


def fc2_body(exc: EmulatorApiError) -> dict[str, Any]:
    """The error as FC 2.0 writes it."""
    return {"ErrorCode": exc.code, "ErrorMessage": exc.message}


def fc3_body(exc: EmulatorApiError, request_id: str) -> dict[str, Any]:
    """The error as FC 3.0 writes it (the request id is in the body as well as the header)."""
    return {"Code": exc.code, "Message": exc.message, "RequestId": request_id}


# --- 400: the request itself is wrong ----------------------------------------------------------------
def invalid_argument(message: str) -> EmulatorApiError:
    return EmulatorApiError(400, "InvalidArgument", message)


def invalid_limit(raw: str, most: int) -> EmulatorApiError:
    return invalid_argument(f"limit must be an integer between 1 and {most}, got {raw!r}")


def invalid_token() -> EmulatorApiError:
    """A ``nextToken`` this server did not issue for this listing (edited, made up or borrowed)."""
    return invalid_argument("nextToken is invalid or was not issued for this listing")


def token_of_another_listing() -> EmulatorApiError:
    return invalid_argument("nextToken was not issued for this listing")


# --- 403: the signature gates and RAM ----------------------------------------------------------------
def denied(code: str, message: str) -> EmulatorApiError:
    """A 403 refusal with the given FC error code (a signature gate's come from its ``GateCodes``)."""
    return EmulatorApiError(403, code, message)


@dataclass(frozen=True, slots=True)
class GateCodes:
    """The ``ErrorCode`` a signature gate answers (always with 403) for each way a request can fail it;
    FC 2.0 and FC 3.0 spell them differently."""

    no_authorization: str  # no Authorization header
    bad_authorization: str  # an Authorization header not of the API's form
    unknown_key: str  # an access key id the server does not know
    bad_date: str  # no date, or one that is not in the API's format
    skewed: str  # a date too far from the server's clock
    token_missing: str  # the server wants an STS token and none was sent
    token_mismatch: str  # an STS token other than the server's
    bad_signature: str  # the signature, or what it covers, does not check out
    token_expired: str = "InvalidSecurityToken.Expired"  # session credentials past their expiration


FC2_GATE: Final = GateCodes(
    no_authorization="AccessDenied",
    bad_authorization="AccessDenied",
    unknown_key="InvalidAccessKeyID",
    bad_date="AccessDenied",
    skewed="RequestTimeTooSkewed",
    token_missing="InvalidSecurityToken",
    token_mismatch="InvalidSecurityToken",
    bad_signature="SignatureNotMatch",
)
FC3_GATE: Final = GateCodes(
    no_authorization="MissingAuthorization",
    bad_authorization="InvalidAuthorization",
    unknown_key="InvalidAccessKeyId.NotFound",
    bad_date="InvalidTimeStamp.Format",
    skewed="InvalidTimeStamp.Expired",
    token_missing="InvalidSecurityToken.Missing",
    token_mismatch="InvalidSecurityToken.Mismatch",
    bad_signature="SignatureDoesNotMatch",
)


#: what the STS gate answers (POP's codes; ``sts_status`` gives their HTTP status, 400 or 404 as POP does)
STS_GATE: Final = GateCodes(
    no_authorization="IncompleteSignature",
    bad_authorization="IncompleteSignature",
    unknown_key="InvalidAccessKeyId.NotFound",
    bad_date="InvalidTimeStamp.Format",
    skewed="InvalidTimeStamp.Expired",
    token_missing="MissingSecurityToken",
    token_mismatch="InvalidSecurityToken.MismatchWithAccessKey",
    bad_signature="SignatureDoesNotMatch",
)


def resource_denied(what: str) -> EmulatorApiError:
    """What a resource-scoped RAM policy answers for ``services/S`` or ``services/S/functions/F``."""
    return denied("AccessDenied", f"the RAM policy of the key does not allow access to {what}")


def other_account(owner: str, served: str) -> EmulatorApiError:
    """Credentials of one account (a RAM user's keys, a role session) sent to another account's FC."""
    return denied(
        "AccessDenied", f"the credentials belong to account {owner}, not to account {served} served here"
    )


def stats_not_loopback() -> EmulatorApiError:
    return denied("AccessDenied", "stats are loopback-only")


# --- 404 / 405 / 409: what is and is not there -------------------------------------------------------
def service_not_found(service: str) -> EmulatorApiError:
    return EmulatorApiError(404, "ServiceNotFound", f"service {service} does not exist")


def function_not_found(function: str) -> EmulatorApiError:
    return EmulatorApiError(404, "FunctionNotFound", f"function {function} does not exist")


def async_config_not_found(service: str, function: str, qualifier: str) -> EmulatorApiError:
    return EmulatorApiError(
        404, "AsyncConfigNotExists", f"async config of {service}.{qualifier}/{function} does not exist"
    )


def unmatched_route(status: int, method: str, path: str) -> EmulatorApiError:
    """No route for the path (404 ``PathNotSupported``) or not for the method (405)."""
    what = "method not allowed" if status == 405 else "no such API"
    code = "MethodNotAllowed" if status == 405 else "PathNotSupported"
    return EmulatorApiError(status, code, f"{what}: {method} {path}")


def service_exists(service: str) -> EmulatorApiError:
    return EmulatorApiError(409, "ServiceAlreadyExists", f"service {service} already exists")


def function_exists(function: str) -> EmulatorApiError:
    return EmulatorApiError(409, "FunctionAlreadyExists", f"function {function} already exists")


# --- 429 / 5xx: the service's own troubles -----------------------------------------------------------
def throttled(status: int, headers: Mapping[str, str]) -> EmulatorApiError:
    """Over the quota: 429 ``ResourceExhausted`` or 503 ``ResourceThrottled``, with the retry hint."""
    code = "ResourceExhausted" if status == 429 else "ResourceThrottled"
    return EmulatorApiError(status, code, "the request rate exceeds the API quota", headers)


def injected_internal_error() -> EmulatorApiError:
    return EmulatorApiError(500, "InternalServerError", "an internal error occurred (injected)")


def injected_unavailable() -> EmulatorApiError:
    return EmulatorApiError(503, "ServiceUnavailable", "the service is unavailable (injected)")


# --- STS (RPC API 2015-04-01): POP's error shape and codes -------------------------------------------
def sts_body(exc: EmulatorApiError, request_id: str) -> dict[str, Any]:
    """An STS error as POP writes it."""
    return {
        "RequestId": request_id,
        "HostId": "sts.aliyuncs.com",
        "Code": exc.code,
        "Message": exc.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={exc.code}",
    }


#: the HTTP status POP answers a gate refusal with (the gate raises 403; STS remaps)
_POP_STATUS: Final = {"InvalidAccessKeyId.NotFound": 404}


def sts_status(exc: EmulatorApiError) -> EmulatorApiError:
    """A signature-gate refusal (403) as STS answers it: 400, or 404 for an unknown key."""
    if exc.http != 403 or exc.code in ("NoPermission", "AccessDenied"):
        return exc
    return EmulatorApiError(_POP_STATUS.get(exc.code, 400), exc.code, exc.message, exc.headers)


def sts_invalid(parameter: str, message: str) -> EmulatorApiError:
    return EmulatorApiError(400, f"InvalidParameter.{parameter}", message)


def sts_missing(parameter: str) -> EmulatorApiError:
    return EmulatorApiError(400, f"MissingParameter.{parameter}", f"{parameter} is mandatory for this action")


def sts_unknown_action(action: str) -> EmulatorApiError:
    return EmulatorApiError(404, "InvalidAction.NotFound", f"the action {action!r} does not exist in STS")


def sts_bad_version(version: str) -> EmulatorApiError:
    return EmulatorApiError(400, "InvalidVersion", f"STS has no API version {version!r}; use 2015-04-01")


def sts_no_permission(why: str) -> EmulatorApiError:
    """An untrusted principal, a wrong external id, a root caller: STS's 403 ``NoPermission``."""
    return EmulatorApiError(
        403,
        "NoPermission",
        f"You are not authorized to do this action. You should be authorized by RAM. ({why})",
    )


def sts_role_not_found(role_arn: str) -> EmulatorApiError:
    return EmulatorApiError(404, "EntityNotExist.Role", f"the role {role_arn} does not exist")


def sts_provider_not_found(provider_arn: str) -> EmulatorApiError:
    return EmulatorApiError(
        404, "EntityNotExist.OIDCProvider", f"the OIDC provider {provider_arn} does not exist"
    )


def sts_oidc_token_invalid() -> EmulatorApiError:
    return EmulatorApiError(
        400, "AuthenticationFail.OIDCToken.Invalid", "the OIDC token is not one this provider issued"
    )


def sts_throttled() -> EmulatorApiError:
    return EmulatorApiError(400, "Throttling", "Request was denied due to request throttling.")


def sts_nonce_used() -> EmulatorApiError:
    return EmulatorApiError(400, "SignatureNonceUsed", "the SignatureNonce has been used already")
