"""``--shard K/N``: which shard owns a service is a fixed function of (account, region, service), the
same in every process, on every machine, whatever Python's hash seed — pinned with literal assignments
and checked across separate ``fcaudit crawl`` processes started with different ``PYTHONHASHSEED``s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.emulator import AccountSpec
from crawler.store.shard import ShardSpec, shard_key, shard_of
from tests.support.crawl_support import clean_env, read_ndjson, target_args
from tests.support.fixtures import EmulatorFactory

ACCOUNT = "1234567890123456"


@pytest.mark.parametrize(
    ("account", "region", "service", "owners"),
    [
        # shard_of(...) for N = 2, 4, 7, 1000, 100000: blake2b (8 bytes, big-endian) mod N
        (ACCOUNT, "cn-hangzhou", "orders-0001", (1, 3, 0, 607, 37607)),
        (ACCOUNT, "cn-hangzhou", "billing-0002", (0, 0, 3, 52, 2052)),
        ("1", "cn-shanghai", "svc", (1, 3, 0, 495, 68495)),
        ("5000000000000001", "ap-southeast-1", "media-0042", (0, 2, 3, 762, 2762)),
        (ACCOUNT, "cn-hangzhou", "", (0, 0, 5, 960, 79960)),
    ],
)
def test_known_services_go_to_known_shards(
    account: str, region: str, service: str, owners: tuple[int, ...]
) -> None:
    """Pins the assignment itself (not only its self-consistency): these literal shard numbers are what
    every fcaudit, of any version or Python, must compute, or shards of one run split by two versions
    would overlap and miss services."""
    assert tuple(shard_of(account, region, service, n) for n in (2, 4, 7, 1000, 100000)) == owners
    for n, owner in zip((2, 4, 7, 1000, 100000), owners, strict=True):
        assert ShardSpec(owner, n).owns(account, region, service)
        assert not ShardSpec((owner + 1) % n, n).owns(account, region, service)


def test_the_shard_key_and_its_digest() -> None:
    """Pins the hashed bytes (NUL-separated) and the 64-bit number they hash to."""
    key = shard_key(ACCOUNT, "cn-hangzhou", "orders-0001")
    assert key == b"1234567890123456\x00cn-hangzhou\x00orders-0001"
    assert shard_of(ACCOUNT, "cn-hangzhou", "orders-0001", 2**64) == 4434733832752137607


def test_shards_in_separate_processes_with_different_hash_seeds_cover_each_service_once(
    emulator_factory: EmulatorFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Pins cross-process agreement: three ``fcaudit crawl --shard K/3`` processes, each with its own
    ``PYTHONHASHSEED``, keep disjoint sets of services that together are the whole account, and each
    keeps exactly the services this process computes for it. A per-process hash (Python's ``hash()``)
    drops some services and doubles others."""
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)
    emu = emulator_factory(AccountSpec(seed=5, services=12, functions=24, big_functions=0, showcase=False))
    env = {
        **os.environ,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emu.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emu.access_key_secret,
    }
    procs = []
    for k, seed in enumerate(("0", "1", "12345")):
        out = tmp_path / f"shard-{k}.ndjson"
        argv = [sys.executable, "-m", "crawler", "crawl", *target_args(emu), "--shard", f"{k}/3"]
        argv += ["--rate", "3000", "-q", "-o", str(out)]
        proc = subprocess.Popen(
            argv, env={**env, "PYTHONHASHSEED": seed}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        procs.append((proc, out))
    kept: list[set[str]] = []
    for proc, out in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr.decode()
        records = read_ndjson(out)
        assert records[-1]["complete"] is True
        kept.append({r["service"] for r in records if r["type"] == "function"})

    services = set(emu.backend.service_names())
    assert set().union(*kept) == services
    assert sum(len(s) for s in kept) == len(services)  # no service in two shards
    for k, owned in enumerate(kept):
        assert owned == {s for s in services if shard_of(emu.account_id, emu.region, s, 3) == k}
    assert all(kept)  # 12 services over 3 shards: each shard has some (else the test proves little)
