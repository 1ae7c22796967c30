"""The emulator's model: what an emulated account is made of, with no behaviour and no HTTP.

The bottom of the emulator's import order (model ← generator/showcase ← backend ← routes ← server): the
account's specification (``AccountSpec``), one function and one service as the backend keeps them
(``FunctionEntry``, ``ServiceEntry``), a config and a trigger as the API returns them (``ConfigDict``,
``TriggerDict``) with the emulator's own table of trigger invocation modes, the protocol the
generator fills lazily built functions through (``FunctionBuilder``), and the two small rules every
layer shares: the key a qualifier's config is kept under and FC's timestamp spelling. It imports nothing
of the emulator, so every other module can build on it without a cycle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from crawler.errors import UsageError

ConfigDict = dict[str, Any]
#: a trigger as FC 2.0 ListTriggers returns it (``triggerConfig`` an object; FC 3.0 sends it as a string)
TriggerDict = dict[str, Any]
Distribution = Literal["uniform", "skewed"]

#: how FC invokes a function for each trigger type: the emulator's own table, written apart from the
#: crawler's (``crawler.settings.trigger_modes``) because the ground truth is an oracle for the crawler.
#: ``eventbridge`` is decided per trigger (``asyncInvocationType``); a type not here is ``unknown``.
INVOCATION_MODES: dict[str, str] = {
    "oss": "async",
    "log": "async",
    "cdn_events": "async",
    "timer": "async",
    "mns_topic": "async",
    "tablestore": "sync",
    "http": "sync",
}


def invocation_mode(trigger: TriggerDict, overrides: dict[str, str] | None = None) -> str:
    """``async``, ``sync`` or ``unknown`` for one of the emulator's triggers (``overrides``: a user's
    ``[audit] trigger_modes``, which fix a type's mode, EventBridge's included)."""
    kind = str(trigger.get("triggerType"))
    if overrides and kind in overrides:
        return overrides[kind]
    if kind == "eventbridge":
        config = trigger.get("triggerConfig")
        flag = config.get("asyncInvocationType") if isinstance(config, dict) else None
        if isinstance(flag, bool):
            return "async" if flag else "sync"
        return "unknown"
    return INVOCATION_MODES.get(kind, "unknown")


def exposure(modes: list[str]) -> str:
    """A function's exposure from its triggers' modes: one async trigger is enough; a mode not known (and
    none async) leaves it unknown; otherwise (no trigger at all included) sync."""
    if "async" in modes:
        return "async"
    return "unknown" if "unknown" in modes else "sync"


def qualifier_key(value: object) -> str:
    """The key a config is kept under: ``""`` and a missing qualifier are the unpublished ``LATEST``.

    The emulator's own rule, deliberately not ``crawler.store.records.normalise_qualifier``: the ground truth
    (``Backend.truth_records``) is an oracle for the crawler, so it must not share the code it checks."""
    return "LATEST" if value in (None, "") else str(value)


def iso(ts: float) -> str:
    """ISO 8601 in UTC, second precision, as FC writes ``createdTime``/``lastModifiedTime``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What generate_account builds. ``account_id`` ``None`` → derived from the seed."""

    seed: int = 1
    services: int = 10
    functions: int = 100  # in total, spread over the services by ``distribution``
    distribution: Distribution = "uniform"
    account_id: str | None = None
    region: str = "cn-hangzhou"
    big_functions: int = 2  # functions with more than 100 configs (at most ``functions`` of them)
    max_qualifiers: int = 6  # most configs one ordinary function can have
    edge_rate: float = 0.03  # share of configs with values outside the documented ranges
    showcase: bool = True  # plant one function holding every ARN kind and edge case

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise UsageError(f"seed must be >= 0, got {self.seed}")
        if self.services < 0 or self.functions < 0:
            raise UsageError("services and functions must be >= 0")
        if self.functions and not self.services:
            raise UsageError("functions need at least one service (--services >= 1)")
        if self.distribution not in ("uniform", "skewed"):
            raise UsageError(f"distribution must be uniform or skewed, got {self.distribution!r}")
        if self.account_id is not None and not (self.account_id.isdigit() and self.account_id.isascii()):
            raise UsageError(f"account id must be digits, got {self.account_id!r}")
        if not self.region:
            raise UsageError("region must not be empty")
        if self.big_functions < 0:
            raise UsageError(f"big functions must be >= 0, got {self.big_functions}")
        if not 1 <= self.max_qualifiers <= 100:
            raise UsageError(f"max qualifiers must be in 1..100, got {self.max_qualifiers}")
        if not 0.0 <= self.edge_rate <= 1.0:
            raise UsageError(f"edge rate must be in 0..1, got {self.edge_rate}")


@dataclass(slots=True, eq=False)
class FunctionEntry:
    """One function. ``info`` and ``configs`` stay ``None`` until first needed when ``recipe`` is set."""

    service: str
    name: str
    recipe: int | None = None
    big: bool = False
    showcase: bool = False
    #: configs spell their owner ``serviceName``/``functionName`` rather than ``service``/``function``
    long_names: bool = False
    info: dict[str, Any] | None = None
    configs: dict[str, ConfigDict] | None = None  # qualifier_key → config as the API returns it
    order: list[str] = field(default_factory=list)  # sorted qualifier keys
    gone: bool = False
    triggers: dict[str, TriggerDict] | None = None  # triggerName → trigger, built on first touch
    trigger_order: list[str] = field(default_factory=list)  # sorted trigger names


@dataclass(slots=True, eq=False)
class ServiceEntry:
    """One service: every function it ever held (deleted ones included) and the sorted live names."""

    name: str
    info: dict[str, Any]
    functions: dict[str, FunctionEntry] = field(default_factory=dict)  # every function ever, gone included
    live: list[str] = field(default_factory=list)  # sorted names of functions not deleted
    gone: bool = False


class FunctionBuilder(Protocol):
    """Fills in a generated function's details from its recipe (``generator.RecipeBuilder``)."""

    def build_info(self, entry: FunctionEntry) -> dict[str, Any]: ...

    def build_configs(self, entry: FunctionEntry) -> tuple[bool, list[ConfigDict]]: ...

    def build_triggers(self, entry: FunctionEntry) -> list[TriggerDict]: ...
