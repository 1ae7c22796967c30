"""Live counters of one run, shared by the client, the limiter, the writer and the progress bar.

A plain mutable object on purpose: it is updated on the hot path from one event loop, read by the
progress bar, and frozen into the end ``run`` record with ``snapshot()``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crawler.store.records import FUNCTION_STATUSES


@dataclass(slots=True)
class RunStats:
    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    errors_by_code: Counter[str] = field(default_factory=Counter)
    functions_discovered: int = 0
    functions_done: int = 0
    functions_by_status: Counter[str] = field(default_factory=Counter)
    configs: int = 0
    pages: int = 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "throttled": self.throttled,
            "retries": self.retries,
            "errorsByCode": dict(sorted(self.errors_by_code.items())),
            "functionsDiscovered": self.functions_discovered,
            "functions": {s: self.functions_by_status.get(s, 0) for s in FUNCTION_STATUSES},
            "configs": self.configs,
            "pages": self.pages,
            "elapsedSeconds": round(self.elapsed(), 3),
        }
