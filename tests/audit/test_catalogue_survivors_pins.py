"""Pins on what the catalogue's rules say, found unpinned by the mutation run over
``crawler.audit.catalogue`` (issue 18): the side a cross-function finding names, the retry count a config
with an invalid one does not have, and ``requiredSeconds`` rounded to one decimal."""

from __future__ import annotations

from crawler.audit.arns import parse_destination
from crawler.audit.catalogue import DANGLING_FC_DESTINATION, DESTINATION_CYCLE
from tests.audit.test_catalogue_pins import QUEUE
from tests.support.audit_support import batch, config, findings_of

TARGET = "acs:fc:cn-hangzhou:1234567890123456:services/svc.LATEST/functions/gone"


def test_a_dangling_fc_destination_names_its_side() -> None:
    d = parse_destination(TARGET)
    ev = DANGLING_FC_DESTINATION.evidence("onFailure", d, "svc/gone")
    assert ev == {"side": "onFailure", "destination": TARGET, "kind": "fc-function", "target": "svc/gone"}
    assert DANGLING_FC_DESTINATION.message(ev).startswith("onFailure destination is function svc/gone, ")


def test_a_destination_cycle_names_its_side() -> None:
    d = parse_destination(TARGET)
    cycle = ["svc/a", "svc/gone", "svc/a"]
    ev = DESTINATION_CYCLE.evidence("onSuccess", d, cycle)
    assert ev == {"side": "onSuccess", "destination": TARGET, "kind": "fc-function", "cycle": cycle}
    assert DESTINATION_CYCLE.message(ev) == (
        "onSuccess destination starts a loop through FC destinations: svc/a → svc/gone → svc/a: an event "
        "can invoke these functions forever"
    )


def test_an_invalid_retry_count_is_not_counted_in_the_message() -> None:
    """``maxAsyncRetryAttempts`` that is not a count: the finding cannot say how many retries there are."""
    found = findings_of(batch(config(retries="three", success=QUEUE)))
    [f] = [f for f in found if f.rule_id == "no-failure-destination"]
    assert f.evidence["maxAsyncRetryAttempts"] is None
    assert f.message == (
        "it has an async config but has no onFailure destination: events that exhaust their retries are "
        "dropped without trace"
    )


def test_required_seconds_is_rounded_to_one_decimal() -> None:
    """1 retry: backoff 0.5 s and 2 attempts of 10.03 s = 20.56 s, shown as 20.6."""
    table = {"thresholds": {"attempt_seconds": 10.03}}
    found = findings_of(batch(config(retries=1, age=20, failure=QUEUE)), table=table)
    [f] = [f for f in found if f.rule_id == "max-age-too-short"]
    assert f.evidence["requiredSeconds"] == 20.6
    assert "shorter than the 20.6 s that 1 retries may need" in f.message
