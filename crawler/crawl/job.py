"""One crawl, described: targets, settings, filters, the pairs of a ``--targets`` file, what to skip.

``CrawlJob`` is what the command line hands the pipeline. Its *description* goes into the start ``run``
record (never a secret: targets are account, region and endpoint only), and its *fingerprint* — a hash
of what decides which functions the output covers (targets, filters, the pairs) — is what ``--resume``
compares before continuing a file, so a file is never finished by a crawl of something else (with
``--triggers``, the trigger mode table too: records classified by one table are not finished by another).
Concurrency, rate and timeouts are not part of it: resuming more gently is allowed.

The *run fingerprint* is the same hash without the shard: every shard of one sharded run (``--shard
K/N``) carries it, so ``fcaudit merge`` can tell shards of one run from shards of another, while each
shard's own fingerprint (with its ``K/N``) keeps ``--resume`` from finishing one shard's file with
another shard's functions. For an unsharded crawl the two are equal.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from crawler.crawl.selection import PairSpec, Selection
from crawler.errors import InputError
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.trigger_modes import TRIGGER_MODES, Mode
from crawler.store.records import FunctionKey, RunRecord
from crawler.store.shard import ShardSpec

#: settings that change what ends up in the file (a page cap can turn a listing into an error)
FINGERPRINT_SETTINGS = ("max_pages",)


@dataclass(frozen=True, slots=True)
class CrawlJob:
    targets: tuple[Target, ...]
    settings: CrawlSettings
    selection: Selection = field(default_factory=Selection)
    #: pairs from ``--targets`` (discovery skipped), already expanded onto the targets
    pairs: tuple[FunctionKey, ...] | None = None
    pairs_source: str | None = None
    #: functions a resumed file already holds
    skip: frozenset[FunctionKey] = field(default=frozenset())
    #: functions a resumed file holds as ``error``: crawled again even when discovery no longer lists
    #: them (deleted since: FC then answers ``gone``), so resuming until complete converges
    retry: frozenset[FunctionKey] = field(default=frozenset())
    #: ``--shard K/N``: only the services whose (account, region, service) hash to K
    shard: ShardSpec | None = None
    #: ``--api``: fc2, fc3 or auto
    api: str = "fc2"
    #: ``--triggers``: trigger type -> invocation mode (``settings.trigger_modes.effective_modes``)
    trigger_modes: Mapping[str, Mode] = field(default_factory=lambda: TRIGGER_MODES)

    def owns(self, account: str, region: str, service: str) -> bool:
        """Whether this crawl (its shard) covers ``service`` of ``account`` in ``region``."""
        return self.shard is None or self.shard.owns(account, region, service)


def expand_pairs(
    pairs: Sequence[PairSpec], targets: Sequence[Target], source: str
) -> tuple[FunctionKey, ...]:
    """Put each pair into the account(s) and region(s) it names, or every target when it names none."""
    keys: dict[FunctionKey, None] = {}
    for pair in pairs:
        matched = [
            t
            for t in targets
            if (pair.account is None or pair.account == t.account)
            and (pair.region is None or pair.region == t.region)
        ]
        if not matched:
            where = f"account {pair.account or '*'} region {pair.region or '*'}"
            raise InputError(
                f"{source} line {pair.line}: {where} is not among the crawl's targets; "
                "add it with --account/--region or the config file"
            )
        for t in matched:
            keys.setdefault(FunctionKey(t.account, t.region, pair.service, pair.function), None)
    return tuple(keys)


def settings_dict(settings: CrawlSettings) -> dict[str, Any]:
    """The settings as plain JSON values (credentials are never part of the settings)."""
    if dataclasses.is_dataclass(settings):
        return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    return {}


def _targets_list(job: CrawlJob) -> list[dict[str, str]]:
    return [{"account": t.account, "region": t.region, "endpoint": t.endpoint} for t in job.targets]


def _pairs_digest(job: CrawlJob) -> dict[str, Any] | None:
    if job.pairs is None:
        return None
    digest = hashlib.sha256()
    for key in sorted(job.pairs):
        digest.update(orjson.dumps([key.account, key.region, key.service, key.function]))
    return {"count": len(job.pairs), "sha256": digest.hexdigest(), "source": job.pairs_source}


def _fingerprint(job: CrawlJob, pairs: dict[str, Any] | None, *, with_shard: bool) -> str:
    """``pairs``: ``_pairs_digest(job)``, passed in so a caller that needs it too sorts the pairs once."""
    shaping: dict[str, Any] = {
        "targets": sorted((t["account"], t["region"], t["endpoint"]) for t in _targets_list(job)),
        "selection": job.selection.as_dict(),
        "pairs": pairs["sha256"] if pairs else None,
        "settings": {name: getattr(job.settings, name, None) for name in FINGERPRINT_SETTINGS},
    }
    if job.api != "fc2":  # (absent for fc2, so files of older versions still resume)
        shaping["api"] = job.api
    if job.settings.triggers:  # (absent without: older files still resume) records carry triggers
        shaping["triggers"] = dict(sorted(job.trigger_modes.items()))
    if with_shard and job.shard is not None:
        shaping["shard"] = job.shard.as_dict()
    return hashlib.sha256(orjson.dumps(shaping, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def job_fingerprint(job: CrawlJob) -> str:
    """What ``--resume`` compares: targets, filters, pairs, output-shaping settings, API and shard."""
    return _fingerprint(job, _pairs_digest(job), with_shard=True)


def job_description(job: CrawlJob) -> dict[str, Any]:
    """What the start ``run`` record says about the crawl."""
    pairs = _pairs_digest(job)
    return {
        "targets": _targets_list(job),
        "selection": job.selection.as_dict(),
        "pairs": pairs,
        "settings": settings_dict(job.settings),
        "api": job.api,
        "triggerModes": dict(sorted(job.trigger_modes.items())) if job.settings.triggers else None,
        "shard": job.shard.as_dict() if job.shard is not None else None,
        "fingerprint": _fingerprint(job, pairs, with_shard=True),
        "runFingerprint": _fingerprint(job, pairs, with_shard=False),
    }


def start_record(job: CrawlJob, version: str, now: datetime, *, given: CrawlJob | None = None) -> RunRecord:
    """The first line of the output: what was crawled and how (never a secret). ``given``: the job as the
    user gave it, when ``job`` is that job with accounts who-am-I filled in — its fingerprints are the
    given job's, so ``--resume`` with the same inputs (the account still unknown) matches."""
    description = job_description(job)
    if given is not None and given is not job:
        original = job_description(given)
        description["fingerprint"] = original["fingerprint"]
        description["runFingerprint"] = original["runFingerprint"]
    return RunRecord(
        "start",
        {
            "tool": "fcaudit",
            "version": version,
            "startedAt": now.isoformat(timespec="seconds"),
            **description,
        },
    )
