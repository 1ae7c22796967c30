"""Splitting one crawl across N independent processes: ``--shard K/N``, deterministic and stateless.

An estate too big for one machine is split by (account, region, service): shard ``K`` of ``N`` keeps
the services whose key hashes to ``K`` (``blake2b`` of the key, 8 bytes, mod ``N``). Every shard
discovers services itself and keeps its own, so the N processes need no scheduler, no shared state and
no coordination — a cron job per shard, a Kubernetes Indexed Job (``JOB_COMPLETION_INDEX``) or a CI
matrix all work — and together they cover every service exactly once, whatever order they run in and
however many times one is retried. The hash is stable across machines and Python versions (unlike
``hash()``), so a shard's share is the same tomorrow. Shards are numbered from 0, as Kubernetes numbers
the pods of an Indexed Job.

Whole services go to one shard (a service's functions are listed together, one ListFunctions listing);
the split is therefore as even as the services are. With very few services, use fewer shards.

Each shard's run records carry its ``K/N`` and the run fingerprint (``runFingerprint``, made by
``crawler.crawl.job.job_description``: targets, filters, pairs, the settings that shape the output, the
API — everything but the shard), so ``fcaudit merge`` (``crawler.store.merge``) refuses shards of
different runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from crawler.errors import UsageError

_SPEC_RE: Final = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")
MAX_SHARDS: Final = 100_000


def shard_key(account: str, region: str, service: str) -> bytes:
    """The bytes a service is hashed by (NUL-separated: no name can contain NUL)."""
    return f"{account}\x00{region}\x00{service}".encode()


def shard_of(account: str, region: str, service: str, count: int) -> int:
    """The shard (0..count-1) that owns ``service`` of ``account`` in ``region``."""
    digest = hashlib.blake2b(shard_key(account, region, service), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Shard ``index`` of ``count`` (``0 <= index < count``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise UsageError(f"--shard {self.label}: N must be between 1 and {MAX_SHARDS}")
        if not 0 <= self.index < self.count:
            raise UsageError(
                f"--shard {self.label}: K must be 0..{self.count - 1} (shards are numbered from 0, as a "
                "Kubernetes Indexed Job numbers its pods)"
            )

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, account: str, region: str, service: str) -> bool:
        return self.count == 1 or shard_of(account, region, service, self.count) == self.index

    def as_dict(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}

    @classmethod
    def parse(cls, text: str, where: str = "--shard") -> ShardSpec:
        """``"K/N"`` → ``ShardSpec(K, N)``; a ``UsageError`` naming ``where`` when it is not that."""
        match = _SPEC_RE.fullmatch(text)
        if match is None:
            raise UsageError(f"{where} {text!r} must be K/N, like 0/4 (shard K of N, K counted from 0)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def from_dict(cls, value: Any) -> ShardSpec | None:
        """The ``shard`` object of a run record; ``None`` when it is absent or not of that shape."""
        if not isinstance(value, dict):
            return None
        index, count = value.get("index"), value.get("count")
        if type(index) is not int or type(count) is not int or not 0 <= index < count:
            return None
        return cls(index, count)
