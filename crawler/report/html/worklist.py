"""Every finding of the audit, for the HTML report's worklist: collected as findings are made, kept
compact, and written into the page as one JSON document that the page's script groups per function,
filters (severity, rule, service, free text) and pages.

Memory: each string (a name, a message, an evidence value, a remediation's words) is kept once, each
distinct evidence once, and a finding is eight integers in ``array`` columns: about 32 bytes a finding
plus the strings it adds, where a ``Finding`` object costs about a kilobyte. A finding's ``aliyun``
command names its function, so no two are alike: the page carries them while there are at most
``COMMAND_LIMIT`` (beyond, each finding keeps its remediation's words, and the page says the commands
are in ``--findings FILE``), so a 100,000-function page stays a few MB. ``to_json`` builds the page's
document once, at the end. Findings are added as the audit makes them (``add`` is a ``FindingSink``),
so the report lists exactly the findings ``--findings`` writes: those of the records that count, none
suppressed.

The document is safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` are written as
JSON ``\\u`` escapes, so no input text can end the element; the page reads it with ``JSON.parse`` and
shows every value as text (``textContent``), never as markup. Invisible and direction-changing
characters are spelled ``\\uXXXX`` (``shown``), as everywhere else in the page.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from crawler.audit.catalogue import Severity
from crawler.audit.remediation import FIXES
from crawler.audit.rules import Finding

#: C0/C1 controls (but tab and newline), zero-width and bidi formatting characters, BOM
INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
#: the document's format, checked by the page's script
DATA_VERSION: Final = 1
#: a finding's numbers: its function, rule, severity, and its qualifier, message, evidence, and its
#: remediation's words and FC 2.0 ``aliyun`` command (strings and evidence by index; for the last two the
#: index plus one, 0 for none)
FIELD_NAMES: Final = (
    "function",
    "rule",
    "severity",
    "qualifier",
    "message",
    "evidence",
    "remediation",
    "command",
)
#: the most findings whose ``aliyun`` commands the page carries (each is unique, ~300 bytes)
COMMAND_LIMIT: Final = 20_000
FIELDS: Final = len(FIELD_NAMES)
_UNSAFE: Final = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def shown(text: str) -> str:
    """``text`` with each invisible or reordering character spelled ``\\uXXXX``."""
    return INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def evidence_value(value: object) -> str:
    """A string as it is; anything else as compact JSON (``null``, ``[0, 8]``, ``{"code": ...}``)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What the page says about a rule besides its id."""

    title: str
    remediation: str | None


class Worklist:
    """Findings, compact, grouped per function when written. ``complete``: every finding of the audit
    was added (a worklist made from a report's listed findings may hold only some)."""

    def __init__(self, *, complete: bool = True) -> None:
        self.complete = complete
        self._strings: dict[str, int] = {}
        self._evidence: dict[tuple[int, ...], int] = {}
        self._functions: dict[tuple[int, int, int, int], int] = {}
        self._rules: dict[str, int] = {}
        #: False once more than ``COMMAND_LIMIT`` findings had a command: the commands are dropped
        self.commands = True
        self._command_strings: dict[str, int] = {}
        #: evidence as met (its items), to its index: the same evidence again costs one lookup
        self._by_raw: dict[tuple[Any, ...], int] = {}
        self._columns = tuple(array("I") for _ in range(FIELDS))

    def __len__(self) -> int:
        return len(self._columns[0])

    @property
    def functions(self) -> int:
        """Functions with at least one finding here."""
        return len(self._functions)

    @classmethod
    def of(cls, findings: Iterable[Finding], *, complete: bool) -> Worklist:
        worklist = cls(complete=complete)
        for finding in findings:
            worklist.add(finding)
        return worklist

    def _s(self, text: str) -> int:
        index = self._strings.get(text)
        if index is None:
            index = self._strings[text] = len(self._strings)
        return index

    def add(self, f: Finding) -> None:
        # setdefault(x, len(d)): x's index, given it the first time (one C call; this runs per finding)
        strings = self._strings
        key = (
            strings.setdefault(f.account, len(strings)),
            strings.setdefault(f.region, len(strings)),
            strings.setdefault(f.service, len(strings)),
            strings.setdefault(f.function, len(strings)),
        )
        columns = self._columns
        columns[0].append(self._functions.setdefault(key, len(self._functions)))
        columns[1].append(self._rules.setdefault(f.rule_id, len(self._rules)))
        columns[2].append(int(f.severity))
        columns[3].append(strings.setdefault(f.qualifier or "", len(strings)))
        columns[4].append(strings.setdefault(f.message, len(strings)))
        columns[5].append(self._evidence_index(f.evidence))
        words = remediation_words(f)
        columns[6].append(strings.setdefault(words, len(strings)) + 1 if words else 0)
        if self.commands:  # the whole remediation (body, commands, Terraform): only while it is kept
            command = (f.remediation.get("aliyun") or {}).get("fc2")
            index = 0
            if isinstance(command, str) and command:
                index = self._command_strings.setdefault(command, len(self._command_strings)) + 1
            columns[7].append(index)
            if len(columns[7]) > COMMAND_LIMIT:
                self.commands = False
                del columns[7][:]
                self._command_strings.clear()

    def _evidence_index(self, evidence: Mapping[str, Any]) -> int:
        try:  # the same evidence, met again (most values are strings and numbers): one lookup
            # with each value's type: 1, 1.0 and True are equal keys, but not the same evidence
            values = tuple(evidence.values())
            raw: tuple[Any, ...] | None = (tuple(evidence), values, tuple(map(type, values)))
            index = self._by_raw.get(raw)  # type: ignore[arg-type]
        except TypeError:  # a list or an object among the values
            raw, index = None, None
        if index is None:
            s = self._s
            pairs = tuple(i for k, v in evidence.items() for i in (s(str(k)), s(evidence_value(v))))
            index = self._evidence.get(pairs)
            if index is None:
                index = self._evidence[pairs] = len(self._evidence)
            if raw is not None:
                self._by_raw[raw] = index
        return index

    def to_json(self, rules: Mapping[str, RuleInfo], total: int) -> str:
        """The page's document. ``rules``: title and remediation by rule id (a rule missing there is
        shown by its id); ``total``: the audit's finding count (more than ``len(self)`` when some were
        not added).

        Functions come worst first, as ``crawler.audit.rollup`` ranks them: highest severity, then most
        high findings, then most findings, then by account, region, service and name;
        each function's findings follow one another, most severe first, then by rule and qualifier
        (LATEST, versions by number, aliases). ``findings`` holds one list per field, in that order."""
        function_of, rule_of, severity_of, qualifier_of = self._columns[:4]
        names = list(self._strings)
        rule_ids = list(self._rules)
        functions = list(self._functions)
        worst = [0] * len(functions)
        high = [0] * len(functions)
        count = [0] * len(functions)
        for fn, severity in zip(function_of, severity_of, strict=True):
            if severity > worst[fn]:
                worst[fn] = severity
            if severity == Severity.HIGH:
                high[fn] += 1
            count[fn] += 1
        # the order of crawler.audit.rollup (the table's and Markdown's rows per function)
        order = sorted(
            range(len(functions)),
            key=lambda i: (-worst[i], -high[i], -count[i], *(names[n] for n in functions[i]), i),
        )
        rank = array("I", bytes(4 * len(functions)))
        for position, fn in enumerate(order):
            rank[fn] = position
        # one integer a finding to sort by (tuples would cost ~100 bytes each): function, severity
        # (most severe first), rule (by id), qualifier, then as added (sorted() is stable)
        rule_rank = array("I", bytes(4 * len(rule_ids)))
        for position, r in enumerate(sorted(range(len(rule_ids)), key=rule_ids.__getitem__)):
            rule_rank[r] = position
        qualifiers = sorted(set(qualifier_of), key=lambda q: _qualifier_key(names[q]))
        qualifier_rank = {q: position for position, q in enumerate(qualifiers)}
        width_rule, width_qualifier = len(rule_ids) or 1, len(qualifiers) or 1
        findings = sorted(
            range(len(self)),
            key=lambda i: (
                ((rank[function_of[i]] * 4 + 3 - severity_of[i]) * width_rule + rule_rank[rule_of[i]])
                * width_qualifier
                + qualifier_rank[qualifier_of[i]]
            ),
        )
        # invisible characters are rare: one search over all the strings, the slow path only if one is there
        strings = [shown(n) for n in names] if INVISIBLE.search("\n".join(names)) else names
        document: dict[str, Any] = {
            "version": DATA_VERSION,
            "complete": self.complete,
            "total": total,
            "strings": strings,
            "rules": [_rule(r, rules.get(r)) for r in rule_ids],
            "functions": [list(functions[fn]) for fn in order],
            "evidence": [list(pairs) for pairs in self._evidence],
            #: the commands, by index ("command" in findings is an index here, plus one)
            "commands": [shown(c) for c in self._command_strings] if self.commands else None,
            "findings": None,  # spliced in below, one field at a time (lists of ints are costly)
        }
        head = orjson.dumps(document).decode().translate(_UNSAFE)
        parts = [head.removesuffix("null}"), "{"]
        columns = (array("I", map(rank.__getitem__, function_of)), *self._columns[1:])
        if not self.commands:
            columns = (*columns[:-1], array("I", bytes(4 * len(self))))
        for n, (name, column) in enumerate(zip(FIELD_NAMES, columns, strict=True)):
            values = ",".join(map(str, map(column.__getitem__, findings)))
            parts.append(f'{"," if n else ""}"{name}":[{values}]')
        parts.append("}}")
        return "".join(parts)


def remediation_words(f: Finding) -> str | None:
    """The words of ``f.remediation`` (its ``summary``), without building the rest of it: the body, the
    commands and the Terraform cost ~0.1 ms a finding, a quarter of a minute at 150,000 findings."""
    fix = FIXES.get(f.rule_id)
    if fix is None:
        return f.remediation.get("summary")  # as the remediation says it (a rule without a fix)
    words, _ = fix(f.evidence, f.region, f.account)
    return words


def _qualifier_key(qualifier: str) -> tuple[int, int, str]:
    """The whole function first, then LATEST, versions by number, aliases by name."""
    if qualifier in ("", "LATEST"):
        return (0 if not qualifier else 1, 0, "")
    if qualifier.isdigit():
        return (2, int(qualifier), "")
    return (3, 0, qualifier)


def _rule(rule_id: str, info: RuleInfo | None) -> dict[str, Any]:
    if info is None:
        return {"id": rule_id, "title": rule_id, "remediation": None}
    fix = shown(info.remediation) if info.remediation else None
    return {"id": rule_id, "title": shown(info.title), "remediation": fix}
