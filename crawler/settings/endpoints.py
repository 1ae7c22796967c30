"""Where requests go: FC endpoint URLs from account and region, checked so a key is never sent in clear.

The public FC 2.0 endpoint is ``https://{account}.{region}.fc.aliyuncs.com``. An explicit URL (the
emulator, a VPC ``-internal`` host, a proxy) may replace it, optionally as a template with ``{account}``
and ``{region}``. Plain ``http`` is allowed only to a loopback host unless the user opts in with
``insecure_http``: the Authorization header is a replayable signature for 15 minutes, and an STS token
travels in a header too.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from urllib.parse import urlsplit

from crawler.errors import ConfigError, FatalError

ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+){0,5}$")

#: the regions ``regions = "*"`` expands to (FC 2.0 public regions; name new ones explicitly)
FC_REGIONS: tuple[str, ...] = (
    "cn-hangzhou",
    "cn-shanghai",
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-shenzhen",
    "cn-chengdu",
    "cn-hongkong",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "eu-central-1",
    "eu-west-1",
    "us-east-1",
    "us-west-1",
)


def check_account(value: str, where: str, error: type[FatalError] = ConfigError) -> str:
    if not ACCOUNT_RE.fullmatch(value):
        raise error(f"{where}: account id {value!r} is not valid (expected digits, like 1234567890123456)")
    return value


def check_region(value: str, where: str, error: type[FatalError] = ConfigError) -> str:
    if not REGION_RE.fullmatch(value):
        raise error(f"{where}: region {value!r} is not valid (expected a region id like cn-hangzhou)")
    return value


def check_known_region(value: str, where: str, error: type[FatalError] = ConfigError) -> str:
    """A region id that is in fcaudit's list (``FC_REGIONS``); else one line with the closest ids.

    Called only when no endpoint is given: the public endpoint of a mistyped region is a host that does
    not resolve, which would cost the run its DNS retries and end it incomplete instead of at once."""
    check_region(value, where, error)
    if value in FC_REGIONS:
        return value
    close = _closest(value, FC_REGIONS)
    other = "for a region fcaudit does not know, name its endpoint with --endpoint"
    if close:
        raise error(
            f"{where}: {value!r} is not a Function Compute region fcaudit knows; did you mean "
            f"{close[0]}? ({other})"
        )
    raise error(
        f"{where}: {value!r} is not a Function Compute region fcaudit knows (known: "
        f"{', '.join(FC_REGIONS)}; {other})"
    )


def _closest(value: str, known: tuple[str, ...], cutoff: float = 0.6) -> list[str]:
    """The known ids most like ``value`` (difflib's ratio): the best, and any as good (``ap-southeast-l``
    is as near 1 as 3, 5 and 7), in the list's order."""
    scores = {k: difflib.SequenceMatcher(None, value, k).ratio() for k in known}
    best = max(scores.values(), default=0.0)
    return [k for k in known if scores[k] == best] if best >= cutoff else []


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(
    url: str, *, insecure_http: bool, where: str = "endpoint", error: type[FatalError] = ConfigError
) -> str:
    """Validate an endpoint URL and return it as ``scheme://host[:port]`` (no path, no trailing slash)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise error(f"{where}: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise error(f"{where}: {url!r} must be an http(s) URL like https://host[:port]")
    if parts.username is not None or parts.password is not None:
        raise error(f"{where}: {url!r} must not carry a user name or password")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise error(f"{where}: {url!r} must have no path, query or fragment (just scheme://host[:port])")
    if parts.scheme == "http" and not insecure_http and not is_loopback_host(parts.hostname):
        raise error(
            f"{where}: plain http to {parts.hostname} would expose signed requests; use https, "
            "or allow it with --insecure-http (insecure_http = true)"
        )
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def is_template_per_region(template: str | None) -> bool:
    """Whether an endpoint gives each region a host of its own: none given (the public endpoints), or a
    template with ``{region}``."""
    return template is None or "{region}" in template


DEFAULT_ENDPOINT = "https://{account}.{region}.fc.aliyuncs.com"


def endpoint_for(account: str, region: str) -> str:
    """The public FC 2.0 endpoint of an account in a region."""
    return DEFAULT_ENDPOINT.format(account=account, region=region)


def target_endpoint(
    account: str,
    region: str,
    template: str | None,
    *,
    insecure_http: bool,
    where: str = "endpoint",
    error: type[FatalError] = ConfigError,
) -> str:
    """The endpoint of one target: the template with ``{account}``/``{region}`` filled in, or the default."""
    if template is None:
        return endpoint_for(account, region)
    url = template.replace("{account}", account).replace("{region}", region)
    return check_endpoint(url, insecure_http=insecure_http, where=where, error=error)
