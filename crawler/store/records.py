"""The NDJSON record shapes fcaudit writes, and their (de)serialisation with orjson.

Every line is one JSON object with a ``type``:

- ``config``: one async-invoke config, ``config`` holding it exactly as the API returned it;
- ``function``: the completion marker of one (service, function) pair, written right after its configs
  in the same write; its ``status`` is ``ok``, ``none``, ``gone`` or ``error`` (a ``gone`` pair named by
  ``--targets`` that was not there at its first request also has ``neverFound: true``); it carries the
  function's ``timeout`` (ListFunctions' value, ``null`` when not listed) and its ``exposure``; with
  ``--triggers`` also its ``triggers`` (name, type, invocation mode) or, when they could not be listed,
  ``triggersError`` (docs/records.md);
- ``run``: first (``phase: start``: version, targets, settings) and last (``phase: end``: counts,
  ``complete``). Never a secret.

Records are frozen dataclasses between modules; ``to_bytes`` gives the line (with its newline) and
``parse_line`` reads one back, strictly, so a summary or a resume never trusts a malformed file. The
writer hands each record it accepts to its subscribers as a ``Written``: the record and the one dict its
line was serialised from (``FunctionBatch.serialise``) or parsed into (``parse_written``), so no reader
downstream builds or validates it again.

Nesting is bounded: orjson parses 1,024 levels but serialises only about 254 (and ``repr`` about 1,000),
so a value could be read and then never written or quoted. No line fcaudit writes nests deeper than
``MAX_DEPTH`` levels: ``FunctionBatch.serialise`` raises ``UnwritableRecordError`` for a deeper config (the
writer ends that function as ``error``), so what fcaudit wrote, fcaudit reads and writes again (a finding
or a diff embeds a value a few levels further down). Readers never trust a line's depth: a value is
quoted in a finding, a message or a report only through ``quotable`` (a deep one becomes a short
description), and records that are not on a reader's fast path (run records, oddly shaped lines) are
checked whole with ``too_deep``, which costs a length comparison for an ordinary line (a line cannot nest
N levels in fewer than 2N bytes or with fewer than N brackets). The fast paths (configs and function
records in ``summarize``) pay nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

import orjson

from crawler.errors import InputError, UnwritableRecordError

FunctionStatus = Literal["ok", "none", "gone", "error"]
FUNCTION_STATUSES: Final = ("ok", "none", "gone", "error")
#: how one trigger invokes its function (``crawler.settings.trigger_modes`` decides it)
TriggerMode = Literal["async", "sync", "unknown"]
TRIGGER_MODES: Final = ("async", "sync", "unknown")
#: a function's async exposure: ``async`` (a trigger invokes it asynchronously), ``sync`` (triggers were
#: listed and none does), ``unknown`` (no trigger data, or a trigger whose mode is not known)
Exposure = Literal["async", "sync", "unknown"]
EXPOSURES: Final = ("async", "sync", "unknown")
LATEST: Final = "LATEST"
#: the deepest nesting of JSON objects and arrays in one line fcaudit writes or reads (the record itself
#: is level 1, a config's object level 2)
MAX_DEPTH: Final = 200


def nesting(value: object) -> int:
    """How many levels of objects and arrays ``value`` nests (0 for a scalar); iterative, no recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if type(node) is dict:
            children: Any = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if type(child) in (dict, list))
    return deepest


def too_deep(line: bytes | str, obj: object) -> bool:
    """True when the parsed line ``obj`` nests deeper than ``MAX_DEPTH``. Ordinary lines are too short, or
    hold too few brackets, to be that deep, so the walk runs only on the few that could be."""
    if len(line) <= 2 * MAX_DEPTH:
        return False
    if isinstance(line, str):
        brackets = line.count("{") + line.count("[")
    else:
        brackets = line.count(b"{") + line.count(b"[")
    if brackets <= MAX_DEPTH:
        return False
    return nesting(obj) > MAX_DEPTH


#: the deepest value quoted as it is (in a finding's evidence, a message): real configs nest 4 levels
QUOTED_DEPTH: Final = 32


def quotable(value: object) -> object:
    """``value`` to quote in a finding, a message or a report: itself unless it is an object or array
    nested deeper than ``QUOTED_DEPTH`` levels, which becomes a short description, so that whatever quotes
    it (orjson, ``repr``) cannot fail. Called only where a value is quoted: never on a fast path."""
    if type(value) is not dict and type(value) is not list:
        return value
    depth = nesting(value)
    if depth <= QUOTED_DEPTH:
        return value
    return f"(a JSON {'object' if type(value) is dict else 'array'} nested {depth} levels deep)"


def shown(value: object) -> str:
    """``repr`` of ``value`` for a message, through ``quotable``."""
    return repr(quotable(value))


def too_deep_message() -> str:
    return f"nested deeper than {MAX_DEPTH} levels of JSON objects and arrays, more than fcaudit writes"


@dataclass(frozen=True, slots=True, order=True)
class FunctionKey:
    """Identifies one (account, region, service, function) pair across the whole estate."""

    account: str
    region: str
    service: str
    function: str


def normalise_qualifier(value: object) -> str:
    """``""``, a missing qualifier and ``LATEST`` all name the unpublished version."""
    if value is None or value == "":
        return LATEST
    return str(value)


@dataclass(frozen=True, slots=True)
class ConfigRecord:
    key: FunctionKey
    qualifier: str
    config: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        k = self.key
        return {
            "type": "config",
            "account": k.account,
            "region": k.region,
            "service": k.service,
            "function": k.function,
            "qualifier": self.qualifier,
            "config": self.config,
        }


@dataclass(frozen=True, slots=True, order=True)
class TriggerInfo:
    """One trigger of a function, as the record keeps it: its name, its FC type and how it invokes."""

    name: str
    type: str
    mode: TriggerMode

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "mode": self.mode}


def exposure_of(triggers: tuple[TriggerInfo, ...] | None) -> Exposure:
    """``async`` when a trigger invokes asynchronously; ``unknown`` with no trigger data or when a trigger's
    mode is unknown (and none is async); else ``sync`` (no trigger at all included: nothing invokes the
    function asynchronously on its own)."""
    if triggers is None:
        return "unknown"
    modes = {t.mode for t in triggers}
    if "async" in modes:
        return "async"
    return "unknown" if "unknown" in modes else "sync"


@dataclass(frozen=True, slots=True)
class FunctionRecord:
    key: FunctionKey
    status: FunctionStatus
    configs: int
    pages: int
    error: Mapping[str, Any] | None = None
    #: ``gone`` only: a ``--targets`` pair FC did not know at its first request (never there, or deleted
    #: before the run), as opposed to one deleted while the crawl listed it
    never_found: bool = False
    #: the function's timeout in seconds as ListFunctions gave it; ``None`` when the listing did not say
    #: (a ``--targets`` pair is not listed)
    timeout: int | float | None = None
    #: ``--triggers``: the function's triggers sorted by name; ``None`` when they were not listed (no
    #: ``--triggers``, the function not ``ok``/``none``, or the listing failed: ``triggers_error``)
    triggers: tuple[TriggerInfo, ...] | None = None
    #: ``--triggers``: why the triggers could not be listed (an error object, as ``error``)
    triggers_error: Mapping[str, Any] | None = None

    @property
    def exposure(self) -> Exposure:
        return exposure_of(self.triggers)

    def to_dict(self) -> dict[str, Any]:
        k = self.key
        record = {
            "type": "function",
            "account": k.account,
            "region": k.region,
            "service": k.service,
            "function": k.function,
            "status": self.status,
            "configs": self.configs,
            "pages": self.pages,
            "error": self.error,
            "timeout": self.timeout,
            "exposure": exposure_of(self.triggers),
        }
        if self.never_found:  # only then: every other record keeps its shape
            record["neverFound"] = True
        if self.triggers is not None:
            record["triggers"] = [t.to_dict() for t in self.triggers]
        if self.triggers_error is not None:
            record["triggersError"] = self.triggers_error
        return record


@dataclass(frozen=True, slots=True)
class RunRecord:
    phase: Literal["start", "end"]
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "run", "phase": self.phase, **self.data}


Record = ConfigRecord | FunctionRecord | RunRecord


@dataclass(frozen=True, slots=True)
class Written:
    """A record the writer accepted, with the dict its line was serialised from (or, replayed from a
    file, parsed into): what subscribers receive. The dict is built once and shared: never mutate it."""

    record: Record
    line: Mapping[str, Any]

    @classmethod
    def of(cls, record: Record) -> Written:
        return cls(record, record.to_dict())


class RecordSubscriber(Protocol):
    """Anything told of each record the writer accepted, in file order (the live summary, drift's new
    side, the run statistics). Implemented structurally: a subscriber need not import this."""

    def add(self, written: Written) -> None: ...


@dataclass(frozen=True, slots=True)
class FunctionBatch:
    """One finished function: its configs and its ``function`` record, written together."""

    configs: tuple[ConfigRecord, ...]
    function: FunctionRecord

    def serialise(self) -> tuple[bytes, list[Written]]:
        """The batch's lines and its records with their dicts (each dict built once, for both);
        ``UnwritableRecordError`` when a config cannot be written back whole."""
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        lines: list[bytes] = []
        written: list[Written] = []
        for config in self.configs:
            obj = config.to_dict()
            try:
                line = dumps(obj, option=newline)
            except orjson.JSONEncodeError as exc:  # nested past what orjson writes: its one failure here
                why = too_deep_message() if nesting(obj) > MAX_DEPTH else str(exc)
                raise _unwritable(config, why) from None
            if too_deep(line, obj):
                raise _unwritable(config, too_deep_message())
            lines.append(line)
            written.append(Written(config, obj))
        function = self.function
        obj = function.to_dict()
        lines.append(dumps(obj, option=newline))
        written.append(Written(function, obj))
        return b"".join(lines), written

    def to_bytes(self) -> bytes:
        """The batch's lines; ``UnwritableRecordError`` when a config cannot be written back whole."""
        return self.serialise()[0]

    def unwritable(self, exc: UnwritableRecordError) -> FunctionBatch:
        """This function as an ``error`` with no configs: what is written when its configs cannot be."""
        f = self.function
        return FunctionBatch(
            (), FunctionRecord(f.key, "error", 0, f.pages, exc.as_record(), timeout=f.timeout)
        )


def _unwritable(record: ConfigRecord, why: str) -> UnwritableRecordError:
    return UnwritableRecordError(f"the config of qualifier {record.qualifier!r} cannot be written: {why}")


def to_bytes(record: Record) -> bytes:
    """One NDJSON line, newline included."""
    return orjson.dumps(record.to_dict(), option=orjson.OPT_APPEND_NEWLINE)


def _text(obj: Mapping[str, Any], name: str, lineno: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise InputError(f"line {lineno}: field {name!r} must be a string, got {type(value).__name__}")
    return value


def _count(obj: Mapping[str, Any], name: str, lineno: int) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"line {lineno}: field {name!r} must be a non-negative integer")
    return value


def _key(obj: Mapping[str, Any], lineno: int) -> FunctionKey:
    return FunctionKey(
        _text(obj, "account", lineno),
        _text(obj, "region", lineno),
        _text(obj, "service", lineno),
        _text(obj, "function", lineno),
    )


def _timeout(value: object, lineno: int) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise InputError(f"line {lineno}: field 'timeout' must be a non-negative number of seconds or null")
    return value


_MODES: Final[dict[object, TriggerMode]] = {"async": "async", "sync": "sync", "unknown": "unknown"}


def _triggers(value: object, lineno: int) -> tuple[TriggerInfo, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"line {lineno}: field 'triggers' must be an array")
    triggers = []
    for item in value:
        if not isinstance(item, dict):
            raise InputError(f"line {lineno}: a trigger must be an object")
        name, kind, mode = item.get("name"), item.get("type"), item.get("mode")
        if not isinstance(name, str) or not isinstance(kind, str) or mode not in TRIGGER_MODES:
            raise InputError(
                f"line {lineno}: a trigger needs a string 'name' and 'type' and a 'mode' of "
                f"{', '.join(TRIGGER_MODES)}"
            )
        triggers.append(TriggerInfo(name, kind, _MODES[mode]))
    return tuple(triggers)


@dataclass(frozen=True, slots=True)
class FunctionFacts:
    """A ``function`` line's own facts, checked: what a reader of the line's dict (the summary's fast path)
    may use without building the ``FunctionRecord``."""

    timeout: int | float | None
    triggers: tuple[TriggerInfo, ...] | None
    triggers_error: Mapping[str, Any] | None

    @property
    def exposure(self) -> Exposure:
        return exposure_of(self.triggers)


def function_facts(obj: Mapping[str, Any], lineno: int = 0) -> FunctionFacts:
    """The ``timeout``, ``triggers``, ``triggersError`` and ``exposure`` of a ``function`` line, checked
    as ``from_dict`` checks them (``InputError`` naming the line): a line written before these fields
    existed has none, and reads as ``timeout`` unknown, no trigger data, ``exposure`` unknown."""
    triggers_error = obj.get("triggersError")
    if triggers_error is not None and not isinstance(triggers_error, dict):
        raise InputError(f"line {lineno}: field 'triggersError' must be an object or null")
    facts = FunctionFacts(
        _timeout(obj.get("timeout"), lineno), _triggers(obj.get("triggers"), lineno), triggers_error
    )
    exposure = obj.get("exposure", "unknown")  # absent in files of versions before it
    if exposure != facts.exposure:
        raise InputError(
            f"line {lineno}: field 'exposure' is {shown(exposure)} but its triggers make it "
            f"{facts.exposure!r}"
        )
    return facts


def from_dict(obj: Any, lineno: int = 0) -> Record:
    """Validate a decoded line and build its record; ``InputError`` names the line and the problem."""
    if not isinstance(obj, dict):
        raise InputError(f"line {lineno}: expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind == "config":
        config = obj.get("config")
        if not isinstance(config, dict):
            raise InputError(f"line {lineno}: field 'config' must be an object")
        return ConfigRecord(_key(obj, lineno), _text(obj, "qualifier", lineno), config)
    if kind == "function":
        status = obj.get("status")
        if status not in FUNCTION_STATUSES:
            raise InputError(f"line {lineno}: unknown function status {shown(status)}")
        error = obj.get("error")
        if error is not None and not isinstance(error, dict):
            raise InputError(f"line {lineno}: field 'error' must be an object or null")
        never_found = obj.get("neverFound", False)
        if not isinstance(never_found, bool):
            raise InputError(f"line {lineno}: field 'neverFound' must be true or false")
        facts = function_facts(obj, lineno)
        return FunctionRecord(
            _key(obj, lineno),
            status,
            _count(obj, "configs", lineno),
            _count(obj, "pages", lineno),
            error,
            never_found,
            facts.timeout,
            facts.triggers,
            facts.triggers_error,
        )
    if kind == "run":
        phase = obj.get("phase")
        if phase not in ("start", "end"):
            raise InputError(f"line {lineno}: run record with unknown phase {shown(phase)}")
        data = {k: v for k, v in obj.items() if k not in ("type", "phase")}
        return RunRecord(phase, data)
    raise InputError(f"line {lineno}: unknown record type {shown(kind)}")


def parse_line(line: bytes | str, lineno: int = 0) -> Record:
    return parse_written(line, lineno).record


def parse_written(line: bytes | str, lineno: int = 0) -> Written:
    """One line read back, strictly: its record and the dict it was parsed into (validated once)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"line {lineno}: not valid JSON ({exc.msg})") from None
    return Written(from_dict(obj, lineno), obj)
