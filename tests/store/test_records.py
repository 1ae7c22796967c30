"""``crawler.store.records``: the qualifier rule every config record is keyed by, pinned with literal cases.

The emulator's ground truth and the test oracles normalise qualifiers with their own code, so this is the
one place the crawler's ``normalise_qualifier`` is held to what FC means by a qualifier."""

from __future__ import annotations

import pytest

from crawler.store.records import LATEST, normalise_qualifier


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        (None, "LATEST"),  # no qualifier field: the unpublished version
        ("", "LATEST"),  # FC 2.0 answers "" for it too
        ("LATEST", "LATEST"),
        ("prod", "prod"),  # an alias, as it is
        ("1", "1"),  # a version, as it is
        ("latest", "latest"),  # qualifiers are case-sensitive: not the unpublished version
        (" ", " "),  # not trimmed: only the empty string means LATEST
        (7, "7"),  # a number where a string belongs is recorded as its text
    ],
)
def test_normalise_qualifier_maps_empty_and_missing_to_latest_and_keeps_the_rest(
    sent: object, recorded: str
) -> None:
    """Pins: ``None`` and ``""`` name the unpublished version ``LATEST``; every other qualifier is kept
    exactly (no case folding, no trimming), as text."""
    assert normalise_qualifier(sent) == recorded
    assert LATEST == "LATEST"
