"""The emulator's knobs: response latency, a request quota, and injected faults, all seeded.

A crawler is only as good as its behaviour when the service misbehaves, so the emulator can misbehave on
purpose, reproducibly: every decision below comes from one ``random.Random(seed)`` and one injected clock,
so a test that asks for ``reset=0.2`` sees the same resets in the same order each run (for a given order of
requests). ``FaultConfig`` is what the command line and tests build; ``FaultInjector`` is what the app asks,
once per request, what to do.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from crawler.errors import UsageError

RetryHint = Literal["none", "retry-after", "x-acs-retry-after"]
RETRY_HINTS: Final = ("none", "retry-after", "x-acs-retry-after")
QuotaShape = Literal["bucket", "window"]
QUOTA_SHAPES: Final = ("bucket", "window")


class FaultKind(StrEnum):
    """What can go wrong with one request. The value is the spelling on the command line."""

    HTTP_500 = "500"  # 500 InternalServerError
    HTTP_503 = "503"  # 503 ServiceUnavailable
    RESET = "reset"  # the connection is reset before any answer
    TRUNCATED = "truncated"  # a longer Content-Length is declared, part of the body sent, then closed
    STALL = "stall"  # the answer comes only after ``stall_seconds``
    MALFORMED = "malformed"  # 200 with a body that is not JSON
    REPEAT_TOKEN = "repeat-token"  # a page requested with token T answers nextToken T again
    DELETE = "delete"  # the function (or its service) is deleted when its configs are listed


#: faults any API request can suffer, drawn in this order before the handler runs
GENERIC_FAULTS: Final = (
    FaultKind.HTTP_500,
    FaultKind.HTTP_503,
    FaultKind.RESET,
    FaultKind.STALL,
    FaultKind.TRUNCATED,
    FaultKind.MALFORMED,
)


def kinds_help() -> str:
    return ", ".join(k.value for k in FaultKind)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Every knob, validated on construction (a bad value is a ``UsageError`` naming it)."""

    seed: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    quota_rps: float | None = None
    quota_burst: int | None = None  # defaults to max(1, ceil(quota_rps))
    #: a token bucket (``quota_burst`` deep) or a counter of requests per fixed window ...
    quota_shape: QuotaShape = "bucket"
    #: ... of this many seconds, ``quota_rps`` x it a window (Alibaba's published API quotas: N a minute)
    quota_window: float = 1.0
    #: (seconds after the first request, factor): from then on the quota is ``quota_rps`` x factor
    quota_changes: tuple[tuple[float, float], ...] = ()
    #: uniform random delay *before* the quota sees a request (network jitter on the way in)
    arrival_jitter_ms: float = 0.0
    throttle_status: int = 429
    retry_hint: RetryHint = "none"
    rates: Mapping[FaultKind, float] = field(default_factory=dict)
    stall_seconds: float = 30.0
    #: share of ``delete`` faults that delete the whole service rather than the one function
    delete_service_share: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.arrival_jitter_ms < 0:
            raise UsageError("latency and jitter must be >= 0 milliseconds")
        if self.quota_shape not in QUOTA_SHAPES:
            raise UsageError(
                f"quota shape must be one of {', '.join(QUOTA_SHAPES)}, got {self.quota_shape!r}"
            )
        for at, factor in self.quota_changes:
            if not (at >= 0 and factor > 0):
                raise UsageError(f"quota change {at}={factor}: seconds must be >= 0 and the factor > 0")
        if self.quota_rps is not None and not self.quota_rps > 0:
            raise UsageError(f"quota must be a positive number of requests/s, got {self.quota_rps}")
        if not self.quota_window > 0:
            raise UsageError(f"quota window must be > 0 seconds, got {self.quota_window}")
        if self.quota_burst is not None and self.quota_burst < 1:
            raise UsageError(f"quota burst must be >= 1, got {self.quota_burst}")
        if self.throttle_status not in (429, 503):
            raise UsageError(f"throttle status must be 429 or 503, got {self.throttle_status}")
        if self.retry_hint not in RETRY_HINTS:
            raise UsageError(f"retry hint must be one of {', '.join(RETRY_HINTS)}, got {self.retry_hint!r}")
        if not self.stall_seconds > 0:
            raise UsageError(f"stall seconds must be > 0, got {self.stall_seconds}")
        if not 0.0 <= self.delete_service_share <= 1.0:
            raise UsageError(f"delete service share must be in 0..1, got {self.delete_service_share}")
        checked: dict[FaultKind, float] = {}
        for raw_kind, rate in self.rates.items():
            kind = _fault_kind(str(raw_kind))
            if not 0.0 <= rate <= 1.0:
                raise UsageError(f"fault rate for {kind.value} must be in 0..1, got {rate}")
            checked[kind] = float(rate)
        object.__setattr__(self, "rates", MappingProxyType(checked))

    def rate(self, kind: FaultKind) -> float:
        return self.rates.get(kind, 0.0)

    @property
    def burst(self) -> int:
        if self.quota_burst is not None:
            return self.quota_burst
        return max(1, math.ceil(self.quota_rps or 1.0))


def _fault_kind(text: str) -> FaultKind:
    try:
        return FaultKind(text.strip().lower())
    except ValueError:
        raise UsageError(f"unknown fault kind {text!r}; use one of {kinds_help()}") from None


def parse_quota_change(spec: str) -> tuple[float, float]:
    """``"10=0.5"`` → ``(10.0, 0.5)``: ten seconds after the first request the quota halves."""
    at, sep, factor = spec.partition("=")
    try:
        pair = (float(at), float(factor))
    except ValueError:
        pair = (math.nan, math.nan)
    if not sep or not (pair[0] >= 0 and pair[1] > 0 and math.isfinite(pair[0] + pair[1])):
        raise UsageError(f"quota change {spec!r} must be SECONDS=FACTOR, e.g. 10=0.5 (halve after 10 s)")
    return pair


def parse_fault_spec(spec: str) -> tuple[FaultKind, float]:
    """``"reset=0.1"`` → ``(FaultKind.RESET, 0.1)``; anything else is a ``UsageError``."""
    name, sep, value = spec.partition("=")
    if not sep:
        raise UsageError(f"fault {spec!r} must be KIND=RATE, e.g. reset=0.1 (kinds: {kinds_help()})")
    kind = _fault_kind(name)
    try:
        rate = float(value)
    except ValueError:
        raise UsageError(f"fault {spec!r}: rate {value!r} is not a number in 0..1") from None
    if not 0.0 <= rate <= 1.0:  # NaN too: it compares false
        raise UsageError(f"fault {spec!r}: rate must be in 0..1")
    return kind, rate


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; one request takes one token."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def set_rate(self, rate: float) -> None:
        self._refill(self._clock())
        self._rate = rate

    def _refill(self, now: float) -> None:
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def take(self) -> float | None:
        """``None`` when admitted, else the seconds until a token will be available."""
        self._refill(self._clock())
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self._rate


class WindowCounter:
    """At most ``rate`` x ``seconds`` requests (rounded down, at least one) in each fixed window of
    ``seconds`` since it was made: the fixed-window counter many API gateways use (one second), or a
    quota of N calls a minute (60). A client that spreads its requests evenly sees the quota; one that
    sends a window's worth at the end of a window and again at the start of the next gets twice the
    quota through at once, and one that spends a minute's quota in seconds is refused to its end."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, seconds: float = 1.0
    ) -> None:
        self._clock = clock
        self._origin = clock()
        self._seconds = seconds
        self._limit = max(1, math.floor(rate * seconds))
        self._window = 0
        self._count = 0

    def set_rate(self, rate: float) -> None:
        self._limit = max(1, math.floor(rate * self._seconds))

    def take(self) -> float | None:
        elapsed = (self._clock() - self._origin) / self._seconds
        window = math.floor(elapsed)
        if window != self._window:
            self._window, self._count = window, 0
        if self._count < self._limit:
            self._count += 1
            return None
        return (window + 1 - elapsed) * self._seconds


class Quota:
    """The emulator's quota: a token bucket or a window counter, whose rate follows ``changes``
    (seconds after the first request it is asked about, factor of ``rate``)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        shape: QuotaShape = "bucket",
        changes: tuple[tuple[float, float], ...] = (),
        clock: Callable[[], float] = time.monotonic,
        window: float = 1.0,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._gate: TokenBucket | WindowCounter = (
            WindowCounter(rate, clock, window) if shape == "window" else TokenBucket(rate, burst, clock)
        )
        self._changes = sorted(changes)
        self._first: float | None = None

    @classmethod
    def of(cls, config: FaultConfig, clock: Callable[[], float] = time.monotonic) -> Quota | None:
        """The quota ``config`` describes (``quota_rps``, ``burst``, its shape and changes), if any."""
        if config.quota_rps is None:
            return None
        return cls(
            config.quota_rps,
            config.burst,
            config.quota_shape,
            config.quota_changes,
            clock,
            config.quota_window,
        )

    def take(self) -> float | None:
        """``None`` when admitted, else the seconds until the request would be."""
        if self._changes:
            now = self._clock()
            if self._first is None:
                self._first = now
            while self._changes and now - self._first >= self._changes[0][0]:
                _at, factor = self._changes.pop(0)
                self._gate.set_rate(self.rate * factor)
        return self._gate.take()


class FaultInjector:
    """Answers, per request, the latency to add, whether the quota admits it, and which fault fires."""

    def __init__(
        self, config: FaultConfig, clock: Callable[[], float] = time.monotonic, quota: Quota | None = None
    ) -> None:
        """``quota``: one shared with other endpoints (an account-wide quota) instead of the config's."""
        self.config = config
        self._rng = random.Random(config.seed)
        self._quota = quota if quota is not None else Quota.of(config, clock)
        self._arrival_jitter = config.arrival_jitter_ms / 1000.0
        self._generic = tuple(k for k in GENERIC_FAULTS if config.rate(k) > 0)
        self._fixed = config.latency_ms / 1000.0
        self._jitter = config.jitter_ms / 1000.0

    def latency(self) -> float:
        if self._jitter:
            return self._fixed + self._rng.uniform(0.0, self._jitter)
        return self._fixed

    def arrival_delay(self) -> float:
        """How long the request travels before the quota sees it (0 without ``arrival_jitter_ms``)."""
        return self._rng.uniform(0.0, self._arrival_jitter) if self._arrival_jitter else 0.0

    def admit(self) -> float | None:
        """``None`` when the request is within quota, else the seconds until it would be."""
        return self._quota.take() if self._quota is not None else None

    def draw_generic(self) -> FaultKind | None:
        return self.draw(self._generic)

    def draw(self, kinds: Iterable[FaultKind]) -> FaultKind | None:
        """The first of ``kinds`` whose own coin comes up, each at its configured rate."""
        for kind in kinds:
            rate = self.config.rate(kind)
            if rate > 0 and self._rng.random() < rate:
                return kind
        return None

    def delete_whole_service(self) -> bool:
        share = self.config.delete_service_share
        return share > 0 and self._rng.random() < share

    def retry_headers(self, wait: float) -> dict[str, str]:
        """The throttling hint, in the configured header (seconds rounded up, or milliseconds)."""
        hint = self.config.retry_hint
        if hint == "retry-after":
            return {"Retry-After": str(max(1, math.ceil(wait)))}
        if hint == "x-acs-retry-after":
            return {"x-acs-retry-after": str(max(1, math.ceil(wait * 1000)))}
        return {}
