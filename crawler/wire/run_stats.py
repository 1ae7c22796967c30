"""Live counters of one run, shared by the client, the limiter, the writer and the progress bar.

A plain mutable object on purpose: it is updated on the hot path from one event loop, read by the
progress bar, and frozen into the end ``run`` record with ``snapshot()``. The function and config counts
come from the writer: ``RunStats`` is one of its subscribers (``add``), so they count what the output
holds — after ``--resume`` the whole file, each function by its last record (a later record of a function
replaces its earlier ``error``, as in the summary).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crawler.store.records import FUNCTION_STATUSES, ConfigRecord, FunctionRecord, Written


@dataclass(slots=True)
class RunStats:
    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    #: attempts by list call (the transport's route: ``ListTriggers``, ...), part of ``requests``
    requests_by_route: Counter[str] = field(default_factory=Counter)
    #: functions whose triggers could not be listed (``--triggers``; their records say why)
    trigger_errors: int = 0
    throttled: int = 0
    retries: int = 0
    #: attempts that failed, retried or not (throttled answers included): the progress line's errors
    failed_requests: int = 0
    errors_by_code: Counter[str] = field(default_factory=Counter)
    functions_discovered: int = 0
    functions_done: int = 0
    functions_by_status: Counter[str] = field(default_factory=Counter)
    configs: int = 0
    pages: int = 0
    #: identity calls (``crawler.identity``): ``assumeRole``, ``assumeRoleWithOIDC``, ``getCallerIdentity``,
    #: ``refreshes``, STS ``requests``/``retries``/``throttled``, other sources' fetches
    sts: Counter[str] = field(default_factory=Counter)
    #: the error code of each function whose last record so far is ``error`` (a later one replaces it)
    _errors: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    def add(self, written: Written) -> None:
        """One record the writer accepted (a ``RecordSubscriber``): count its function or config."""
        record = written.record
        if isinstance(record, ConfigRecord):  # the most common: checked first
            self.configs += 1
            return
        if not isinstance(record, FunctionRecord):
            return  # a run record
        k = record.key
        key = (k.account, k.region, k.service, k.function)
        if self._errors:
            code = self._errors.pop(key, None)
            if code is not None:  # this record replaces the function's earlier error
                self.functions_done -= 1
                self.functions_by_status["error"] -= 1
                self.errors_by_code[code] -= 1
                if not self.errors_by_code[code]:
                    del self.errors_by_code[code]
        self.functions_done += 1
        self.functions_by_status[record.status] += 1
        if record.triggers_error is not None:  # never an ``error`` function: never replaced later
            self.trigger_errors += 1
        if record.error is not None:
            code = str(record.error.get("code"))
            self.errors_by_code[code] += 1
            if record.status == "error":
                self._errors[key] = code

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def snapshot(self) -> dict[str, Any]:
        snapshot = {
            "requests": self.requests,
            "triggerRequests": self.requests_by_route.get("ListTriggers", 0),
            "triggerErrors": self.trigger_errors,
            "throttled": self.throttled,
            "retries": self.retries,
            "errorsByCode": dict(sorted(self.errors_by_code.items())),
            "functionsDiscovered": self.functions_discovered,
            "functions": {s: self.functions_by_status.get(s, 0) for s in FUNCTION_STATUSES},
            "configs": self.configs,
            "pages": self.pages,
            "elapsedSeconds": round(self.elapsed(), 3),
        }
        if self.sts:  # only a run that fetched credentials at run time has this object
            snapshot["sts"] = dict(sorted(self.sts.items()))
        return snapshot
