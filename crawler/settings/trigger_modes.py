"""Which FC trigger types invoke their function asynchronously: the table, its override, the classifier.

A function's *async exposure* (``--triggers``) is decided from its triggers: one trigger that invokes it
asynchronously makes it async-exposed. ``TRIGGER_MODES`` is the table of FC trigger types (the
``triggerType`` values of FC 2.0 and FC 3.0 ListTriggers) and how each invokes; its sources are in
docs/rules.md ("Trigger types and invocation mode"), one page per claim. ``eventbridge`` triggers choose
per trigger (``asyncInvocationType`` in their config), so their mode is read from the config unless the
user fixes it; a type not in the table, or an EventBridge trigger that does not say, is ``unknown``.

The config file's ``[audit] trigger_modes = { "<type>" = "async" | "sync" }`` overrides the table, type
by type (``effective_modes``; checked when the file is read, one line naming the bad entry). Kept in
settings because the crawl classifies while it lists and the audit may read the same table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from crawler.errors import ConfigError

Mode = Literal["async", "sync", "unknown"]
#: what a user may set a type to
OVERRIDE_MODES: Final = ("async", "sync")
#: the types whose mode each trigger's config decides (unless overridden)
CONFIG_DECIDED: Final = frozenset({"eventbridge"})

#: trigger type -> how FC invokes the function for it (sources: docs/rules.md)
TRIGGER_MODES: Final[Mapping[str, Mode]] = MappingProxyType(
    {
        "oss": "async",
        "log": "async",
        "cdn_events": "async",
        "timer": "async",  # async, but FC never sends a timer's events to destinations (docs/rules.md)
        "mns_topic": "async",
        "tablestore": "sync",
        "http": "sync",
        "eventbridge": "unknown",  # per trigger: CONFIG_DECIDED
    }
)


def check_trigger_modes(value: object, where: str = "[audit] trigger_modes") -> dict[str, Mode]:
    """The ``trigger_modes`` table checked: a table of trigger type -> ``async`` or ``sync``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table of trigger type = "async" or "sync"')
    checked: dict[str, Mode] = {}
    for kind, mode in value.items():
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"{where}: a trigger type must be a non-empty string")
        if mode == "async" or mode == "sync":
            checked[kind] = mode
        else:
            raise ConfigError(f'{where}.{kind} must be "async" or "sync", got {mode!r}')
    return checked


def effective_modes(overrides: Mapping[str, Mode] | None = None) -> Mapping[str, Mode]:
    """The table with the user's overrides applied (an overridden ``eventbridge`` is fixed for all)."""
    table = dict(TRIGGER_MODES)
    table.update(overrides or {})
    return MappingProxyType(table)


def _config_of(raw: object) -> Mapping[str, object] | None:
    """A trigger's ``triggerConfig``: FC 2.0 answers an object, FC 3.0 a JSON string."""
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def classify(
    trigger_type: str,
    trigger_config: object,
    modes: Mapping[str, Mode] = TRIGGER_MODES,
) -> Mode:
    """How a trigger of ``trigger_type`` with ``trigger_config`` invokes its function.

    ``modes`` is ``effective_modes(...)``; a config-decided type (EventBridge) keeps its table value only
    when the user overrode it, else its config's ``asyncInvocationType`` decides (true: async, false:
    sync, anything else: unknown — docs/rules.md says why the documents disagree on it)."""
    mode = modes.get(trigger_type, "unknown")
    if trigger_type in CONFIG_DECIDED and mode == TRIGGER_MODES.get(trigger_type):
        config = _config_of(trigger_config)
        flag = config.get("asyncInvocationType") if config is not None else None
        if flag is True:
            return "async"
        if flag is False:
            return "sync"
        return "unknown"
    return mode


__all__ = [
    "CONFIG_DECIDED",
    "OVERRIDE_MODES",
    "TRIGGER_MODES",
    "Mode",
    "check_trigger_modes",
    "classify",
    "effective_modes",
]
