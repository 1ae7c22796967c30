"""The summary's memory depends on the number of services, not functions: folding four times the
functions of the same services adds no more than the per-function state the cross-function rules and
``functions_with_findings`` need (``crawler.audit.keyflags``: at most 27 bytes per key, a function and
each of its version/alias configs being one key) plus about 100 bytes per FC-function destination.

Measured with tracemalloc over ``Summarizer.add_lines`` on a synthetic estate whose every other figure
is bounded: a fixed set of services, of destination ARNs (so the parse cache and the destination
counts stop growing in the first part) and of findings listed. Deterministic; about a second.
"""

from __future__ import annotations

import gc
import tracemalloc

import orjson

from crawler.audit.summary import Summarizer

ACC = "1986114430573743"
REG = "cn-hangzhou"
SERVICES = 20
#: one function in FC_EVERY has an FC-function destination on LATEST (a missing sink: dangling)
FC_EVERY = 4
#: the allowances the module docstrings state: a KeyFlags key at its sparsest, an FC destination
KEY_BYTES = 27
EDGE_BYTES = 128


def estate(start: int, stop: int) -> list[bytes]:
    """Functions ``start``..``stop`` spread over SERVICES services: a LATEST config with a failure
    destination (an MNS queue of its service, or 1 in FC_EVERY an FC function of 50 sinks) and a version
    config without one and without retries (a finding: the function is flagged)."""
    lines = []
    for i in range(start, stop):
        service, function = f"svc-{i % SERVICES:02d}", f"fn-{i:06d}"
        base = {"account": ACC, "region": REG, "service": service, "function": function}
        if i % FC_EVERY == 0:
            arn = f"acs:fc:{REG}:{ACC}:services/sinks/functions/sink-{i % 50}"
        else:
            arn = f"acs:mns:{REG}:{ACC}:/queues/{service}-dlq/messages"
        latest = {"maxAsyncRetryAttempts": 3, "destinationConfig": {"onFailure": {"destination": arn}}}
        version = {"maxAsyncRetryAttempts": 0, "maxAsyncEventAgeInSeconds": 3600}
        lines.append(
            orjson.dumps({"type": "config", **base, "qualifier": "LATEST", "config": latest}) + b"\n"
        )
        lines.append(orjson.dumps({"type": "config", **base, "qualifier": "1", "config": version}) + b"\n")
        lines.append(
            orjson.dumps({"type": "function", **base, "status": "ok", "configs": 2, "pages": 1}) + b"\n"
        )
    return lines


def test_the_fold_grows_by_its_stated_per_function_state_only() -> None:
    n = 1_000
    first, rest = estate(0, n), estate(n, 4 * n)
    summarizer = Summarizer()
    tracemalloc.start()
    try:
        summarizer.add_lines(first)
        gc.collect()
        after_n = tracemalloc.get_traced_memory()[0]
        summarizer.add_lines(rest)
        gc.collect()
        after_4n = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    added = 3 * n
    keys = 2 * added  # each function and its version config
    allowance = keys * KEY_BYTES + (added // FC_EVERY) * EDGE_BYTES
    growth = after_4n - after_n
    assert growth <= allowance, (
        f"folding {added:,} more functions of the same {SERVICES} services grew the summary by "
        f"{growth:,} bytes ({growth / added:.0f} a function); allowed {allowance:,} "
        f"({allowance / added:.0f} a function)"
    )
    report = summarizer.report()
    # the state measured is the state the report needs: every function counted once, all flagged
    assert report.functions_with_findings == 4 * n
    assert (
        sum(1 for f in report.findings if f.rule_id == "dangling-fc-destination") == 0
    )  # no run: not judged
