"""How to fix a finding, filled in for its function and qualifier: the change in words, the config to
put (the current settings with the fix applied), the ``aliyun`` CLI commands that put it (FC 2.0
PutFunctionAsyncInvokeConfig, FC 3.0 PutAsyncInvokeConfig) and the Terraform resource
(``alicloud_fc_function_async_invoke_config``).

Each rule's fix is a function of the finding's evidence (``FIXES``): it says what to change in words and
which fields of the config to set; ``fill`` applies that onto the settings the config has now (the
finding's ``current``, when the fold knew them) so the body put is the whole intended config, not a
fragment whose missing fields someone has to guess. A value fcaudit cannot know (which queue should
receive failures) is a placeholder in angle brackets, never a made-up name. A rule whose fix is not a
config change (``pair-error``) has words only.

The CLI forms (docs/rules.md): FC 2.0 is the ``fc-open`` product's ROA call on the 2016-08-15 path, the
qualifier in the path as ``{service}.{qualifier}``; FC 3.0 is the ``fc`` product's call on the
2023-03-30 path with ``?qualifier=``, the function named as FC 3.0 shows an FC 2.0 function
(``{service}${function}``). The body is JSON in single quotes, its quotes escaped for a POSIX shell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from crawler.store.records import LATEST

#: the FC 3.0 limit the fixes stay within (``catalogue.FC3_MAX_EVENT_AGE``; no import: no cycle)
_FC3_MAX_AGE: Final = 604_800
DEFAULTS: Final[Mapping[str, Any]] = {
    "maxAsyncRetryAttempts": 3,
    "maxAsyncEventAgeInSeconds": 86_400,
    "statefulInvocation": False,
}

#: (words, the fields to set; ``None``: not a config change) from (evidence, region, account)
Fix = Callable[[Mapping[str, Any], str, str], tuple[str, dict[str, Any] | None]]


def _queue(region: str, account: str) -> str:
    return f"acs:mns:{region}:{account}:/queues/<FAILURE-QUEUE>/messages"


def _set_failure(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    return (
        "add an onFailure destination (an MNS queue, a topic, EventBridge or RocketMQ your team watches) so "
        "events that exhaust their retries are kept",
        {"destinationConfig": {"onFailure": {"destination": _queue(region, account)}}},
    )


def _retries_disabled(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    return (
        "add an onFailure destination so a failed event is kept; if the handler is idempotent, also allow "
        "retries (maxAsyncRetryAttempts 3, the default)",
        {"destinationConfig": {"onFailure": {"destination": _queue(region, account)}}},
    )


def _max_age(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    need = min(_FC3_MAX_AGE, int(-(-float(ev.get("requiredSeconds", 0)) // 1)))
    return (
        f"raise maxAsyncEventAgeInSeconds to at least {need} s (what its retries may need), or lower "
        "maxAsyncRetryAttempts or the function's timeout",
        {"maxAsyncEventAgeInSeconds": need},
    )


def _above_fc3(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    return (
        f"lower maxAsyncEventAgeInSeconds to {_FC3_MAX_AGE} s or less, the limit FC 3.0 documents",
        {"maxAsyncEventAgeInSeconds": _FC3_MAX_AGE},
    )


def _replace(why: str) -> Fix:
    def fix(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
        side = str(ev.get("side") or "onFailure")
        placeholder = _queue(region, account) if side == "onFailure" else "<DESTINATION-ARN>"
        return (
            f"point {side} at {why}",
            {"destinationConfig": {side: {"destination": placeholder}}},
        )

    return fix


def _same_both(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    return (
        "send failures to their own destination, apart from successes (or accept it with a suppression "
        "if mixing them is deliberate)",
        {"destinationConfig": {"onFailure": {"destination": _queue(region, account)}}},
    )


def _out_of_range(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    field = str(ev.get("field"))
    if field == "destinationConfig":
        return ("make destinationConfig an object (or remove it)", {"destinationConfig": {}})
    value = DEFAULTS.get(field)
    return (
        f"set {field} to a documented value (here the default, {value!r}) within {ev.get('range')}",
        {field: value} if field in DEFAULTS else None,
    )


def _stateful(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    return (
        "turn statefulInvocation (async tasks) on, as the policy requires here",
        {"statefulInvocation": True},
    )


def _qualifier_gap(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    failure = _queue(region, account)
    return (
        f"give {ev.get('qualifier')} an async config of its own with an onFailure destination (LATEST's, "
        "for example): FC does not apply LATEST's config to a version or alias",
        {"destinationConfig": {"onFailure": {"destination": failure}}},
    )


def _pair_error(ev: Mapping[str, Any], region: str, account: str) -> tuple[str, dict[str, Any] | None]:
    return (
        "audit the pair again: run the crawl with --resume (it lists only what ended in error); if the error "
        "is AccessDenied, grant fc:ListFunctionAsyncInvokeConfigs to the crawl's identity",
        None,
    )


FIXES: Final[Mapping[str, Fix]] = {
    "no-failure-destination": _set_failure,
    "no-failure-destination-unverified": _set_failure,
    "retries-disabled-no-failure-destination": _retries_disabled,
    "max-age-too-short": _max_age,
    "max-age-above-fc3-limit": _above_fc3,
    "cross-region-destination": _replace("a destination in the function's own region"),
    "cross-account-destination": _replace(
        "a destination in the function's own account, or add this one to [audit] allowed_destinations"
    ),
    "self-destination": _replace("another destination: a function must not be its own destination"),
    "same-destination-both": _same_both,
    "malformed-destination-arn": _replace("a valid destination ARN"),
    "unknown-destination-kind": _replace(
        "a kind FC delivers to (MNS queue or topic, FC, EventBridge, RocketMQ)"
    ),
    "value-out-of-range": _out_of_range,
    "stateful-invocation-off": _stateful,
    "destination-not-allowed": _replace("a destination that [audit] allowed_destinations approves"),
    "dangling-fc-destination": _replace("a function that exists (or create the one it names)"),
    "destination-cycle": _replace("a destination outside the loop (a queue, not a function of the loop)"),
    "qualifier-gap": _qualifier_gap,
    "pair-error": _pair_error,
}


#: each rule's fix in general words (``fcaudit rules``; a finding's ``remediation`` is the filled-in one)
HOW_TO_FIX: Final[Mapping[str, str]] = {
    "no-failure-destination": "Add an onFailure destination (MNS queue or topic, EventBridge, RocketMQ) to "
    "the config of that function and qualifier.",
    "no-failure-destination-unverified": "Run the crawl with --triggers to learn whether anything invokes "
    "the function asynchronously; if something does, add an async config with an onFailure destination.",
    "retries-disabled-no-failure-destination": "Add an onFailure destination; if the handler is idempotent, "
    "allow retries again (maxAsyncRetryAttempts 3).",
    "max-age-too-short": "Raise maxAsyncEventAgeInSeconds to what the retries need (the finding says how "
    "much), or lower the retries or the function timeout.",
    "max-age-above-fc3-limit": "Lower maxAsyncEventAgeInSeconds to 604,800 s or less before moving to "
    "FC 3.0.",
    "cross-region-destination": "Point the destination at one in the function's region.",
    "cross-account-destination": "Point the destination at one in the function's account, or approve it in "
    "[audit] allowed_destinations.",
    "self-destination": "Point the destination elsewhere (a queue): a function must not invoke itself.",
    "same-destination-both": "Send failures to their own destination, or suppress the finding if mixing "
    "them is deliberate.",
    "malformed-destination-arn": "Replace the destination with a valid ARN.",
    "unknown-destination-kind": "Use a destination of a kind FC delivers to.",
    "value-out-of-range": "Set the field to a value within the documented range.",
    "stateful-invocation-off": "Turn statefulInvocation on (or narrow require_stateful).",
    "destination-not-allowed": "Point the destination at an approved one, or add it to "
    "[audit] allowed_destinations.",
    "dangling-fc-destination": "Point the destination at a function that exists, or create the function.",
    "destination-cycle": "Break the loop: point one destination of the loop at a queue.",
    "qualifier-gap": "Give the alias or version its own async config with an onFailure destination.",
    "pair-error": "Crawl again with --resume; for AccessDenied grant fc:ListFunctionAsyncInvokeConfigs.",
}


def _merge(base: dict[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in change.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _shell(text: str) -> str:
    """``text`` in single quotes for a POSIX shell."""
    return "'" + text.replace("'", "'\\''") + "'"


def _tf_name(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts)).strip("_").lower() or "config"


def _hcl(value: object) -> str:
    return orjson.dumps(value).decode()


def terraform(service: str, function: str, qualifier: str, body: Mapping[str, Any]) -> str:
    """The ``alicloud_fc_function_async_invoke_config`` resource that holds ``body``."""
    lines = [
        f'resource "alicloud_fc_function_async_invoke_config" "{_tf_name(service, function, qualifier)}" {{',
        f"  service_name  = {_hcl(service)}",
        f"  function_name = {_hcl(function)}",
    ]
    if qualifier != LATEST:
        lines.append(f"  qualifier     = {_hcl(qualifier)}")
    names = (
        ("maxAsyncRetryAttempts", "maximum_retry_attempts"),
        ("maxAsyncEventAgeInSeconds", "maximum_event_age_in_seconds"),
        ("statefulInvocation", "stateful_invocation"),
    )
    for key, name in names:
        if key in body:
            lines.append(f"  {name} = {_hcl(body[key])}")
    dc = body.get("destinationConfig")
    sides = [
        (s, n)
        for s, n in (("onSuccess", "on_success"), ("onFailure", "on_failure"))
        if isinstance(dc, Mapping) and isinstance(dc.get(s), Mapping)
    ]
    if sides:
        assert isinstance(dc, Mapping)
        lines.append("  destination_config {")
        for side, name in sides:
            lines.append(f"    {name} {{")
            lines.append(f"      destination = {_hcl(dc[side].get('destination'))}")
            lines.append("    }")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def cli_commands(
    region: str, service: str, function: str, qualifier: str, body: Mapping[str, Any]
) -> dict[str, str]:
    payload = _shell(orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode())
    fc2_path = f"/2016-08-15/services/{service}.{qualifier}/functions/{function}/async-invoke-config"
    fc3_path = f"/2023-03-30/functions/{service}${function}/async-invoke-config?qualifier={qualifier}"
    return {
        "fc2": f"aliyun fc-open PUT {_shell(fc2_path)} --region {region} --body {payload}",
        "fc3": f"aliyun fc PUT {_shell(fc3_path)} --region {region} --body {payload}",
    }


#: the summary of a rule without a fix (a bug the catalogue test catches)
NO_FIX: Final = "see docs/rules.md"


def summary(rule_id: str, evidence: Mapping[str, Any], region: str, account: str) -> str:
    """The remediation's ``summary`` alone (what ``fill`` puts first), without building its commands."""
    fix = FIXES.get(rule_id)
    return NO_FIX if fix is None else fix(evidence, region, account)[0]


def fill(
    rule_id: str,
    account: str,
    region: str,
    service: str,
    function: str,
    qualifier: str | None,
    evidence: Mapping[str, Any],
    current: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The remediation of one finding, filled in; ``current``: the config's settings now, when known
    (a function on defaults: the defaults)."""
    fix = FIXES.get(rule_id)
    if fix is None:  # a rule without a fix is a bug the catalogue test catches
        return {"summary": NO_FIX}
    words, change = fix(evidence, region, account)
    if change is None:
        return {"summary": words}
    q = qualifier or LATEST
    base = dict(current) if current is not None else {}
    body = _merge(base, change)
    out: dict[str, Any] = {"summary": words, "body": body}
    if current is None:
        out["note"] = "fields not in the body are left as they are (PutFunctionAsyncInvokeConfig)"
    out["aliyun"] = cli_commands(region, service, function, q, body)
    out["terraform"] = terraform(service, function, q, body)
    return out
