"""The emulator-capacity probes count only successful answers: a server that refuses every request (a
wrong key here) is fast at it, and must not be reported as serving. Against a real emulator on loopback,
each probe driven for a fraction of a second."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from bench._capacity import Floor, Signer, answer_status, config_requests, drive_answers, drive_count
from bench.emulator_capacity import drive
from bench.soak import Served, served_during
from crawler.emulator.fc2_routes import API
from crawler.emulator.server import EmulatorThread
from tests.support.fixtures import EmulatorFactory


def test_answer_status_reads_the_status_line() -> None:
    assert answer_status(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n") == 200
    assert answer_status(b"HTTP/1.1 403 Forbidden\r\n\r\n") == 403
    assert answer_status(b"garbage\r\n\r\n") == 0


def _pairs(emu: EmulatorThread) -> list[tuple[str, str]]:
    backend = emu.backend
    return [(s, f) for s in backend.service_names() for f in backend.function_names(s)][:20]


def test_the_raw_probe_counts_refusals_apart(emulator_factory: EmulatorFactory) -> None:
    """Pins bench._capacity's count: (200 answers, other answers). Every request signed with a wrong
    secret is a 403, and none of them counts as served."""
    emu = emulator_factory()
    split = urlsplit(emu.endpoint)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    good = config_requests(host, port, Signer(emu.access_key_id, emu.access_key_secret), _pairs(emu))
    bad = config_requests(host, port, Signer(emu.access_key_id, "not-the-secret"), _pairs(emu))

    served, refused = asyncio.run(drive_answers(host, port, good, 0.3, 2))
    assert served > 0
    assert refused == 0
    served, refused = asyncio.run(drive_answers(host, port, bad, 0.3, 2))
    assert served == 0
    assert refused > 0


def test_the_floor_probe_sends_exactly_its_requests_and_counts_refusals_apart(
    emulator_factory: EmulatorFactory,
) -> None:
    """Pins bench._capacity.drive_count, the floor's client: ``total`` requests over the workers, no
    more, none lost; a refused one (a wrong secret) is counted apart, not as served."""
    emu = emulator_factory()
    paths = [f"{API}/services/{s}/functions/{f}/async-invoke-configs" for s, f in _pairs(emu)]
    before = int(emu.stats()["requests"])

    good = asyncio.run(
        drive_count(emu.endpoint, Signer(emu.access_key_id, emu.access_key_secret), paths, 37, 4)
    )
    assert (good.requests, good.refused, good.concurrency) == (37, 0, 4)
    assert good.wall > 0
    bad = asyncio.run(drive_count(emu.endpoint, Signer(emu.access_key_id, "not-the-secret"), paths, 5, 2))
    assert (bad.requests, bad.refused) == (5, 5)
    assert int(emu.stats()["requests"]) - before == 42


def test_the_floor_is_its_wall_over_the_bound() -> None:
    """requests × latency ÷ concurrency: 2,000 × 20 ms ÷ 32 = 1.25 s; 1.5 s is 1.2 × that."""
    assert Floor(requests=2000, concurrency=32, wall=1.5).over(20.0) == 1.2


def test_the_route_probe_reports_only_successful_requests_per_second(
    emulator_factory: EmulatorFactory,
) -> None:
    """Pins bench.emulator_capacity's figures: ``rps`` counts 200 answers only; ``requests`` and
    ``statuses`` count every answer."""
    emu = emulator_factory()
    paths = [f"{API}/services/{s}/functions/{f}/async-invoke-configs?limit=100" for s, f in _pairs(emu)]

    good = asyncio.run(drive(emu.endpoint, Signer(emu.access_key_id, emu.access_key_secret), paths, 0.3, 2))
    assert good["rps"] > 0
    assert good["ok"] == good["requests"] == good["statuses"]["200"]
    bad = asyncio.run(drive(emu.endpoint, Signer(emu.access_key_id, "not-the-secret"), paths, 0.3, 2))
    assert bad["rps"] == 0
    assert bad["ok"] == 0
    assert bad["requests"] == bad["statuses"]["403"] > 0


def test_soak_takes_its_figures_from_the_emulators_stats() -> None:
    """Pins bench/soak.py's source of truth: requests, throttled answers, faults and deletions are the
    emulator's ``/_emulator/stats`` after the crawl less before it."""
    before = {"requests": 5, "throttled": 1, "faults": {"500": 2, "reset": 0}, "deleted": {"functions": 1}}
    after = {
        "requests": 1005,
        "throttled": 41,
        "faults": {"500": 12, "reset": 3},
        "deleted": {"functions": 4},
    }
    assert served_during(before, after) == Served(requests=1000, throttled=40, faults=13, deleted=3)
