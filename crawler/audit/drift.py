"""Drift between two audits: configs added, removed and changed (field by field), findings new and resolved.

A nightly job wants to know what changed since last night, not to re-read the whole inventory. Each
side (``DriftSide``) is built from one crawl's records — an NDJSON file, or the records of a crawl as
they are written (``crawl --baseline``) — and ``compare`` lines the two up by (account, region,
service, function, qualifier).

What counts as the same config: the config object without the fields that only restate its identity
(``service``/``serviceName``, ``function``/``functionName``, ``qualifier``, FC 3.0's ``functionArn``),
with FC 3.0's ``asyncTask`` read as FC 2.0's ``statefulInvocation``, so an FC 2.0 crawl and an FC 3.0
crawl of an unchanged account show no drift. Every other field counts, unknown ones included;
``ignore`` names fields to leave out (``lastModifiedTime`` changes on every save, for example). Nested
objects are compared leaf by leaf (``destinationConfig.onFailure.destination``); an empty object has no
leaves, so ``"destinationConfig": {}`` and no ``destinationConfig`` at all are the same (no destinations).

What cannot be compared is not called drift: a function whose listing ended in ``error`` on either side
(its last record: a resumed crawl's later answer replaces an earlier ``error``),
a service or region whose discovery failed (the end ``run`` record's ``discoveryErrors``), or an
(account, region) only one side crawled — their configs and findings are counted as *unverified*
instead of added or removed. Findings come from the audit (``crawler.audit.summary`` with the same policy on
both sides) and are matched by rule, target and the side or field they are about.

Memory: each side keeps its configs keyed, as compact canonical JSON bytes (about the size of the line),
plus its findings' keys and the keys of functions in error: fine for hundreds of thousands of configs,
not meant for hundreds of millions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Final, Literal

import orjson

from crawler.audit.report_model import AuditReport
from crawler.audit.rules import AuditPolicy, Finding, default_policy
from crawler.audit.summary import Summarizer
from crawler.errors import InputError, reading
from crawler.store.records import (
    MAX_DEPTH,
    ConfigRecord,
    FunctionRecord,
    RunRecord,
    Written,
    nesting,
    parse_written,
    too_deep_message,
)

#: config fields that restate the config's identity (its key), in either API's spelling
IDENTITY_FIELDS: Final = frozenset(
    {"service", "serviceName", "function", "functionName", "qualifier", "functionArn"}
)
#: FC 3.0 names read as their FC 2.0 equivalents before comparing
RENAMED_FIELDS: Final = {"asyncTask": "statefulInvocation"}

ConfigKey = tuple[str, str, str, str, str]  # account, region, service, function, qualifier
FunctionKeyTuple = tuple[str, str, str, str]
#: rule, account, region, service, function, qualifier ("" for the whole function), side or field
FindingKey = tuple[str, str, str, str, str, str, str]


class _Missing:
    """A field absent on one side (rendered as ``(absent)``, left out of JSON)."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Final = _Missing()


#: the level of a config's own fields in its record line (the record is level 1, the config object 2)
CONFIG_LEVEL: Final = 3


def comparable(config: Mapping[str, Any], ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The config's leaves by dotted path, without identity fields, FC 3.0 names read as FC 2.0's.

    ``InputError`` for a config nested deeper than fcaudit writes (``records.MAX_DEPTH``): its leaves
    could not be compared, written or shown whole."""
    leaves: dict[str, Any] = {}

    def walk(prefix: str, value: Any, level: int) -> None:
        if isinstance(value, dict):  # an empty object has no leaves: {} and absent read the same
            if level > MAX_DEPTH:
                raise InputError(too_deep_message())
            for k, v in value.items():
                walk(f"{prefix}.{k}", v, level + 1)
        else:
            if type(value) is list and level - 1 + nesting(value) > MAX_DEPTH:  # lists are rare in configs
                raise InputError(too_deep_message())
            leaves[prefix] = value

    for name, value in config.items():
        if name in IDENTITY_FIELDS:
            continue
        name = RENAMED_FIELDS.get(name, name)
        if name in ignore:
            continue
        walk(name, value, CONFIG_LEVEL)
    return {path: leaves[path] for path in sorted(leaves) if path not in ignore}


def _canonical(config: Mapping[str, Any], ignore: frozenset[str]) -> bytes:
    return orjson.dumps(comparable(config, ignore), option=orjson.OPT_SORT_KEYS)


def finding_key(f: Finding) -> FindingKey:
    detail = f.evidence.get("side") or f.evidence.get("field") or ""
    return (f.rule_id, f.account, f.region, f.service, f.function, f.qualifier or "", str(detail))


class DriftSide:
    """One crawl, reduced to what a diff needs. Feed it records with ``add`` (in file order): a
    ``RecordSubscriber`` of the writer during ``crawl --baseline``, or ``read`` from a file.

    ``audit=False``: the side keeps no audit of its own; whoever already folds the same records (the
    crawl's live summary) passes ``keep`` as its ``on_finding``, so nothing is judged twice.
    """

    def __init__(
        self,
        name: str,
        policy: AuditPolicy | None = None,
        ignore: Iterable[str] = (),
        *,
        audit: bool = True,
    ) -> None:
        self.name = name
        self.ignore = frozenset(ignore)
        self.configs: dict[ConfigKey, bytes] = {}
        self.findings: dict[FindingKey, Finding] = {}
        self.errors: set[FunctionKeyTuple] = set()
        #: (account, region, service) whose listing failed; service "" = the region's service listing
        self.blind: set[tuple[str, str, str]] = set()
        self.targets: set[tuple[str, str]] | None = None
        self.fingerprint: str | None = None
        self.started = False
        self.ended = False
        self.complete = True
        policy = policy if policy is not None else default_policy()
        self._summarizer = Summarizer(policy, on_finding=self.keep) if audit else None

    def audit(self) -> AuditReport | None:
        """The audit of this side's records, as ``fcaudit summarize`` gives it (``None`` without one)."""
        return self._summarizer.report() if self._summarizer is not None else None

    def keep(self, finding: Finding) -> None:
        self.findings[finding_key(finding)] = finding

    def add(self, written: Written) -> None:
        record = written.record
        if isinstance(record, ConfigRecord):
            k = record.key
            self.configs[(k.account, k.region, k.service, k.function, record.qualifier)] = _canonical(
                record.config, self.ignore
            )
        elif isinstance(record, FunctionRecord):
            k = record.key
            if record.status == "error":
                self.errors.add((k.account, k.region, k.service, k.function))
            else:  # the last record wins: a resumed crawl's answer replaces an earlier error
                self.errors.discard((k.account, k.region, k.service, k.function))
        else:
            self._run(record)
        if self._summarizer is not None:
            self._summarizer.add(written)

    def _run(self, record: RunRecord) -> None:
        data = record.data
        if record.phase == "start":
            self.started = True
            targets = data.get("targets")
            if isinstance(targets, list):
                found = {(t.get("account"), t.get("region")) for t in targets if isinstance(t, dict)}
                self.targets = (self.targets or set()) | {
                    (a, r) for a, r in found if isinstance(a, str) and isinstance(r, str)
                }
            fingerprint = data.get("fingerprint")
            self.fingerprint = fingerprint if isinstance(fingerprint, str) else None
            return
        self.ended = True
        if data.get("complete") is False:
            self.complete = False
        for failed in data.get("discoveryErrors") or ():
            if isinstance(failed, dict):
                service = failed.get("service")
                self.blind.add(
                    (str(failed.get("account")), str(failed.get("region")), service if service else "")
                )

    def read(self, stream: IO[bytes]) -> None:
        """Every line of an NDJSON file, strictly: a bad line is an ``InputError`` naming it."""
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                self.add(parse_written(line, lineno))
            except InputError as exc:
                where = "" if exc.message.startswith("line ") else f"line {lineno}: "
                raise InputError(f"{self.name} {where}{exc.message}") from None
        if self._summarizer is not None:
            self._summarizer.settle()  # the findings of the errors no later record replaced
        if not self.started and not self.configs and not self.errors:
            raise InputError(f"{self.name} holds no fcaudit records; is it NDJSON from fcaudit crawl?")

    def sees(self, account: str, region: str, service: str, function: str) -> bool:
        """False when this side could not have listed that function's configs."""
        if self.targets is not None and (account, region) not in self.targets:
            return False
        if (account, region, service) in self.blind or (account, region, "") in self.blind:
            return False
        return (account, region, service, function) not in self.errors


def read_side(path: Path, name: str, policy: AuditPolicy | None, ignore: Iterable[str] = ()) -> DriftSide:
    side = DriftSide(name, policy, ignore)
    with reading(name), path.open("rb") as stream:
        side.read(stream)
    return side


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.path}
        if self.old is not ABSENT:
            out["old"] = self.old
        if self.new is not ABSENT:
            out["new"] = self.new
        return out


@dataclass(frozen=True, slots=True)
class ConfigChange:
    kind: Literal["added", "removed", "changed"]
    key: ConfigKey
    #: changed: the fields that differ; added/removed: every field of the config, against ``ABSENT``
    fields: tuple[FieldChange, ...]

    def to_dict(self) -> dict[str, Any]:
        account, region, service, function, qualifier = self.key
        return {
            "change": self.kind,
            "account": account,
            "region": region,
            "service": service,
            "function": function,
            "qualifier": qualifier,
            "fields": [f.to_dict() for f in self.fields],
        }


@dataclass(frozen=True, slots=True)
class FindingChange:
    kind: Literal["new", "resolved"]
    finding: Finding
    #: resolved: the worse new finding of another rule on the same function and qualifier that took its
    #: place (``no-failure-destination`` → ``retries-disabled-no-failure-destination``)
    superseded_by: Finding | None = None
    #: new: the resolved finding it took the place of
    supersedes: Finding | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self.finding.to_dict()
        data.pop("line", None)
        out = {"change": self.kind, **data}
        if self.superseded_by is not None:
            out["supersededBy"] = _brief(self.superseded_by)
        if self.supersedes is not None:
            out["supersedes"] = _brief(self.supersedes)
        return out


def _brief(f: Finding) -> dict[str, Any]:
    return {"id": f.finding_id, "ruleId": f.rule_id, "severity": f.severity.label}


def _supersede(
    appeared: list[FindingChange], resolved: list[FindingChange]
) -> tuple[list[FindingChange], list[FindingChange]]:
    """Pair each resolved finding with the worst new finding of another rule on the same function and
    qualifier whose severity is higher: it was not fixed, a worse rule replaced it."""
    by_target: dict[tuple[str, ...], list[int]] = {}
    for i, change in enumerate(appeared):
        f = change.finding
        by_target.setdefault((*f.key, f.qualifier or ""), []).append(i)
    supersedes: dict[int, Finding] = {}
    out_resolved = []
    for change in resolved:
        f = change.finding
        candidates = [
            i
            for i in by_target.get((*f.key, f.qualifier or ""), [])
            if appeared[i].finding.severity > f.severity and appeared[i].finding.rule_id != f.rule_id
        ]
        if not candidates:
            out_resolved.append(change)
            continue
        worst = max(candidates, key=lambda i: (appeared[i].finding.severity, -i))
        supersedes.setdefault(worst, f)
        out_resolved.append(replace(change, superseded_by=appeared[worst].finding))
    out_appeared = [
        replace(change, supersedes=supersedes[i]) if i in supersedes else change
        for i, change in enumerate(appeared)
    ]
    return out_appeared, out_resolved


@dataclass(frozen=True, slots=True)
class DriftReport:
    old: str
    new: str
    added: tuple[ConfigChange, ...]
    removed: tuple[ConfigChange, ...]
    changed: tuple[ConfigChange, ...]
    new_findings: tuple[FindingChange, ...]
    resolved_findings: tuple[FindingChange, ...]
    #: configs and findings left out because one side could not see them
    unverified_configs: int
    unverified_findings: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.new_findings or self.resolved_findings)

    @property
    def superseded(self) -> int:
        """Resolved findings that a worse rule replaced on the same target (counted in ``resolved`` too)."""
        return sum(1 for f in self.resolved_findings if f.superseded_by is not None)

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "changed": len(self.changed),
            "newFindings": len(self.new_findings),
            "resolvedFindings": len(self.resolved_findings),
            "supersededFindings": self.superseded,
            "unverifiedConfigs": self.unverified_configs,
            "unverifiedFindings": self.unverified_findings,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "drift": self.drifted,
            "counts": self.counts(),
            "warnings": list(self.warnings),
            "configs": [c.to_dict() for c in (*self.added, *self.removed, *self.changed)],
            "findings": [f.to_dict() for f in (*self.new_findings, *self.resolved_findings)],
        }


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[FieldChange]:
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path, ABSENT), new.get(path, ABSENT)
        if before is ABSENT or after is ABSENT or before != after or type(before) is not type(after):
            yield FieldChange(path, before, after)


def _warnings(old: DriftSide, new: DriftSide) -> list[str]:
    notes = []
    for side in (old, new):
        if not side.ended:
            notes.append(f"{side.name} has no end run record: that crawl did not finish")
        elif not side.complete:
            notes.append(f"{side.name} is from an incomplete crawl: what it missed is counted as unverified")
    if old.fingerprint and new.fingerprint and old.fingerprint != new.fingerprint:
        notes.append(
            "the two crawls had different targets, filters or settings (fingerprints differ): "
            "only what both covered is compared"
        )
    return notes


def compare(old: DriftSide, new: DriftSide) -> DriftReport:
    """Everything that changed from ``old`` to ``new`` that both sides could see."""

    def visible(account: str, region: str, service: str, function: str) -> bool:
        return old.sees(account, region, service, function) and new.sees(account, region, service, function)

    added: list[ConfigChange] = []
    removed: list[ConfigChange] = []
    changed: list[ConfigChange] = []
    unverified = 0
    for key in sorted(old.configs.keys() | new.configs.keys()):
        before, after = old.configs.get(key), new.configs.get(key)
        if before == after:
            continue
        if not visible(*key[:4]):
            unverified += 1
            continue
        was = orjson.loads(before) if before is not None else {}
        now = orjson.loads(after) if after is not None else {}
        fields = tuple(_field_changes(was, now))
        if before is None:
            added.append(ConfigChange("added", key, fields))
        elif after is None:
            removed.append(ConfigChange("removed", key, fields))
        else:
            changed.append(ConfigChange("changed", key, fields))
    appeared: list[FindingChange] = []
    resolved: list[FindingChange] = []
    hidden = 0
    for fkey in sorted(old.findings.keys() ^ new.findings.keys()):
        if not visible(*fkey[1:5]):
            hidden += 1
        elif fkey in new.findings:
            appeared.append(FindingChange("new", new.findings[fkey]))
        else:
            resolved.append(FindingChange("resolved", old.findings[fkey]))
    appeared, resolved = _supersede(appeared, resolved)
    return DriftReport(
        old=old.name,
        new=new.name,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        new_findings=tuple(appeared),
        resolved_findings=tuple(resolved),
        unverified_configs=unverified,
        unverified_findings=hidden,
        warnings=tuple(_warnings(old, new)),
    )
