"""Which (service, function) pairs a crawl covers: glob filters, and the ``--targets`` file.

Filters are shell globs (``fnmatch``, case-sensitive as FC names are): a name is selected when it matches
some ``include`` glob (or there are none) and no ``exclude`` glob. A function glob containing ``/`` is
matched against ``service/function``, so ``--exclude-function 'legacy-*/*'`` works across services.

A ``--targets`` file names pairs directly and skips discovery — for re-crawling the functions that ended
in ``error`` last night, or auditing a known list. One pair a line, either ``service/function`` or an
NDJSON object ``{"service": ..., "function": ..., "account": ..., "region": ...}`` (account and region
optional: a pair without them is crawled in every configured account and region). fcaudit's own
``function`` records are such objects, so ``jq -c 'select(.status == "error")'`` of an output file is a
valid targets file. Blank lines and ``#`` comments are skipped; anything else names its line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import orjson

from crawler.errors import InputError

_HINT = 'expected \'service/function\' or a JSON object with string fields "service" and "function"'


@dataclass(frozen=True, slots=True)
class NameFilter:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        if self.include and not any(fnmatchcase(name, glob) for glob in self.include):
            return False
        return not any(fnmatchcase(name, glob) for glob in self.exclude)

    def as_dict(self) -> dict[str, list[str]]:
        return {"include": list(self.include), "exclude": list(self.exclude)}


@dataclass(frozen=True, slots=True)
class Selection:
    """The service and function filters of one crawl (empty: everything)."""

    services: NameFilter = NameFilter()
    functions: NameFilter = NameFilter()

    def wants_service(self, service: str) -> bool:
        return self.services.matches(service)

    def wants_function(self, service: str, function: str) -> bool:
        if not self.services.matches(service):
            return False
        f = self.functions
        qualified = f"{service}/{function}"
        if f.include and not any(_fn_match(service, function, qualified, g) for g in f.include):
            return False
        return not any(_fn_match(service, function, qualified, g) for g in f.exclude)

    def as_dict(self) -> dict[str, Any]:
        return {"services": self.services.as_dict(), "functions": self.functions.as_dict()}


def _fn_match(service: str, function: str, qualified: str, glob: str) -> bool:
    return fnmatchcase(qualified, glob) if "/" in glob else fnmatchcase(function, glob)


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One line of a targets file."""

    service: str
    function: str
    account: str | None = None
    region: str | None = None
    line: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "function": self.function,
            "account": self.account,
            "region": self.region,
        }


def _optional_text(obj: dict[str, Any], name: str, where: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: field {name!r} must be a non-empty string")
    return value


def parse_pair(text: str, where: str, lineno: int) -> PairSpec:
    if text.startswith("{"):
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg}); {_HINT}") from None
        if not isinstance(obj, dict):
            raise InputError(f"{where}: {_HINT}")
        service, function = obj.get("service"), obj.get("function")
        if not isinstance(service, str) or not service or not isinstance(function, str) or not function:
            raise InputError(f"{where}: {_HINT}")
        return PairSpec(
            service,
            function,
            _optional_text(obj, "account", where),
            _optional_text(obj, "region", where),
            lineno,
        )
    service, sep, function = text.partition("/")
    if not sep or not service or not function or "/" in function or any(c.isspace() for c in text):
        raise InputError(f"{where}: {_HINT}, got {text[:80]!r}")
    return PairSpec(service, function, line=lineno)


def parse_targets(lines: Iterable[str], source: str) -> tuple[PairSpec, ...]:
    """Parse targets-file lines; duplicates are dropped (first one wins), order is kept."""
    seen: set[tuple[str, str, str | None, str | None]] = set()
    pairs: list[PairSpec] = []
    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        pair = parse_pair(text, f"{source} line {lineno}", lineno)
        ident = (pair.service, pair.function, pair.account, pair.region)
        if ident not in seen:
            seen.add(ident)
            pairs.append(pair)
    if not pairs:
        raise InputError(f"{source}: no service/function pairs in the targets file")
    return tuple(pairs)


def read_targets_file(path: Path) -> tuple[PairSpec, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--targets {path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"--targets {path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"--targets {path}: cannot read it ({exc.strerror})") from None
    return parse_targets(text.splitlines(), f"--targets {path}")
