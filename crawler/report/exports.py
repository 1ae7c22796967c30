"""The findings file in other formats: CSV for spreadsheets, OCSF Detection Finding JSON for security lakes.

``--findings FILE`` streams findings as they are made; ``FindingsWriter`` writes them in the format
``--findings-format`` names, else the one the file's suffix says (``.csv``; ``.ocsf.json``), else
NDJSON — atomically (``store.atomic_file``: the file appears whole or not at all).

- NDJSON: ``Finding.to_dict()`` a line.
- CSV (RFC 4180 through the ``csv`` module, a header row of ``CSV_COLUMNS``): nested values (evidence,
  remediation body) as compact JSON in their cell, so every row has the same columns.
- OCSF: a JSON array of Detection Finding events (class 2004, OCSF 1.1, the schema Prowler and Security
  Lake ingest): the finding's id as ``finding_info.uid`` and ``metadata.uid``, the rule as
  ``finding_info.types`` and ``metadata.event_code``, the function as the one resource (its FC 2.0 ARN,
  qualifier included), the account and region in ``cloud``, the remediation in words as
  ``remediation.desc`` and everything else fcaudit knows (evidence, the commands, the Terraform) in
  ``unmapped``. A test constructs py-ocsf-models' ``DetectionFinding`` from each event and checks that no
  key was dropped as unknown.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import orjson

from crawler import __version__
from crawler.audit.catalogue import RULE_TITLES, Severity
from crawler.audit.rules import Finding
from crawler.errors import UsageError
from crawler.store.atomic_file import AtomicFile
from crawler.store.records import LATEST

FindingsFormat = Literal["ndjson", "csv", "ocsf"]
FINDINGS_FORMATS: Final = ("ndjson", "csv", "ocsf")
CSV_COLUMNS: Final = (
    "id",
    "severity",
    "ruleId",
    "account",
    "region",
    "service",
    "function",
    "qualifier",
    "message",
    "evidence",
    "fix",
    "fixBody",
    "aliyunFc2",
    "aliyunFc3",
    "line",
)
OCSF_VERSION: Final = "1.1.0"
#: OCSF's severity_id: 1 informational, 2 low, 3 medium, 4 high
OCSF_SEVERITY: Final = {
    Severity.INFO: (1, "Informational"),
    Severity.LOW: (2, "Low"),
    Severity.MEDIUM: (3, "Medium"),
    Severity.HIGH: (4, "High"),
}


def findings_format(path: Path, flag: str | None) -> FindingsFormat:
    """``--findings-format`` when given, else the suffix: ``.csv``, ``.ocsf.json``; else NDJSON."""
    if flag is not None:
        if flag not in FINDINGS_FORMATS:
            raise UsageError(f"--findings-format {flag!r}: one of {', '.join(FINDINGS_FORMATS)}")
        return flag  # type: ignore[return-value]
    name = path.name.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".ocsf.json"):
        return "ocsf"
    return "ndjson"


def _json(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def csv_row(finding: Finding) -> list[str]:
    fix = finding.remediation
    aliyun = fix.get("aliyun", {})
    return [
        finding.finding_id,
        finding.severity.label,
        finding.rule_id,
        finding.account,
        finding.region,
        finding.service,
        finding.function,
        finding.qualifier or "",
        finding.message,
        _json(dict(finding.evidence)),
        fix["summary"],
        _json(fix["body"]) if "body" in fix else "",
        aliyun.get("fc2", ""),
        aliyun.get("fc3", ""),
        str(finding.line),
    ]


def ocsf_event(finding: Finding, time_ms: int) -> dict[str, Any]:
    """One Detection Finding (OCSF ``class_uid`` 2004, activity Create)."""
    severity_id, severity = OCSF_SEVERITY[finding.severity]
    q = finding.qualifier or LATEST
    where = f"services/{finding.service}.{q}/functions/{finding.function}"
    arn = f"acs:fc:{finding.region}:{finding.account}:{where}"
    fix = finding.remediation
    return {
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": time_ms,
        "message": finding.message,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": finding.finding_id,
            "event_code": finding.rule_id,
            "product": {"name": "fcaudit", "vendor_name": "fcaudit", "version": __version__},
        },
        "finding_info": {
            "uid": finding.finding_id,
            "title": RULE_TITLES[finding.rule_id],
            "desc": finding.message,
            "types": [finding.rule_id],
        },
        "resources": [
            {
                "uid": arn,
                "name": f"{finding.service}/{finding.function}",
                "type": "FC Function",
                "region": finding.region,
                "data": {"qualifier": finding.qualifier},
            }
        ],
        "cloud": {
            "provider": "Alibaba Cloud",
            "region": finding.region,
            # OCSF's account types name no Alibaba Cloud account: "Other" (99), with its name
            "account": {
                "uid": finding.account,
                "name": finding.account,
                "type_id": 99,
                "type": "Alibaba Cloud Account",
            },
        },
        "remediation": {"desc": fix["summary"]},
        "unmapped": {
            "evidence": dict(finding.evidence),
            "remediation": fix,
            "line": finding.line,
        },
    }


class FindingsWriter:
    """Findings written as they are made, in one format, renamed into place whole on success."""

    def __init__(self, path: Path, fmt: FindingsFormat = "ndjson", *, time_ms: int = 0) -> None:
        self.path = path
        self.format = fmt
        self.count = 0
        self.time_ms = time_ms
        self._file = AtomicFile(path, what="--findings")
        if fmt == "csv":
            self._write_csv(list(CSV_COLUMNS))
        elif fmt == "ocsf":
            self._file.write(b"[")

    def _write_csv(self, row: list[str]) -> None:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerow(row)
        self._file.write(out.getvalue().encode("utf-8"))

    def write(self, finding: Finding) -> None:
        if self.format == "csv":
            self._write_csv(csv_row(finding))
        elif self.format == "ocsf":
            lead = b"\n" if self.count == 0 else b",\n"
            self._file.write(lead + orjson.dumps(ocsf_event(finding, self.time_ms)))
        else:
            self._file.write(orjson.dumps(finding.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
        self.count += 1

    def __enter__(self) -> FindingsWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None and self.format == "ocsf":
            self._file.write(b"\n]\n")
        self._file.__exit__(kind, exc, tb)
