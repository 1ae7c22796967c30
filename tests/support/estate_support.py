"""Estates for tests: one emulator thread per account, serving each of its regions on its own port.

A real account answers each region at its own host (``{account}.{region}.fc.aliyuncs.com``) with its own
quota, so here each region is its own emulator app — own backend (seeded differently, so a record put
under the wrong region cannot match), own faults and quota — while all regions of an account share one
thread and one access key, as they share one key in real life. ``targets_toml`` writes the matching
``[[targets]]`` entries, one per region with its endpoint, each account's keys in its own named
environment variables.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from crawler.emulator import AccountSpec, Backend, generate_account
from crawler.emulator.faults import FaultConfig, Quota
from crawler.emulator.generator import credentials_for_seed
from crawler.emulator.server import RunningEmulator, run_emulator


@dataclass(frozen=True)
class RegionSpec:
    region: str
    seed: int
    services: int = 3
    functions: int = 24
    faults: FaultConfig | None = None


class AccountEmulator:
    """A context manager: every region of one account served from one background thread."""

    def __init__(
        self,
        account_id: str,
        key_seed: int,
        regions: Sequence[RegionSpec],
        shared_quota: FaultConfig | None = None,
    ) -> None:
        """``shared_quota``: one quota (its ``quota_*`` and ``burst``) that every region draws on, as an
        account-wide quota would; each region keeps the rest of its own faults (or these)."""
        self.account_id = account_id
        self._shared = shared_quota
        self.access_key_id, self.access_key_secret = credentials_for_seed(key_seed)
        self.backends: dict[str, Backend] = {}
        self._faults: dict[str, FaultConfig | None] = {}
        for spec in regions:
            backend = generate_account(
                AccountSpec(
                    seed=spec.seed,
                    services=spec.services,
                    functions=spec.functions,
                    account_id=account_id,
                    region=spec.region,
                    big_functions=1,
                )
            )
            backend.access_key_id, backend.access_key_secret = self.access_key_id, self.access_key_secret
            self.backends[spec.region] = backend
            self._faults[spec.region] = spec.faults
        self.endpoints: dict[str, str] = {}
        self._running: dict[str, RunningEmulator] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name=f"estate-{account_id}", daemon=True)

    def __enter__(self) -> AccountEmulator:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the account emulator did not start: {self._error!r}")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        shared = self._shared
        quota = Quota.of(shared) if shared is not None else None
        async with AsyncExitStack() as stack:
            for region, backend in self.backends.items():
                faults = self._faults[region] or shared
                running = await stack.enter_async_context(run_emulator(backend, faults, quota=quota))
                self._running[region] = running
                self.endpoints[region] = running.endpoint
            self._ready.set()
            await self._stop.wait()

    def stats(self, region: str) -> dict[str, Any]:
        """The region's ``/_emulator/stats``, read on the emulator's loop."""
        assert self._loop is not None

        async def read() -> dict[str, Any]:
            return self._running[region].stats()

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(timeout=10)

    def truth(self) -> Iterator[dict[str, Any]]:
        for backend in self.backends.values():
            yield from backend.truth_records()

    def env(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}_KEY_ID": self.access_key_id, f"{prefix}_KEY_SECRET": self.access_key_secret}


def targets_toml(accounts: Mapping[str, AccountEmulator], limits: Mapping[tuple[str, str], str] = {}) -> str:
    """``[[targets]]`` for every (account, region): its endpoint, its account's key variables."""
    blocks = []
    for prefix, emulator in accounts.items():
        for region, endpoint in emulator.endpoints.items():
            extra = limits.get((emulator.account_id, region), "")
            blocks.append(
                "[[targets]]\n"
                f'account = "{emulator.account_id}"\n'
                f'regions = ["{region}"]\n'
                f'endpoint = "{endpoint}"\n'
                f'access_key_id_env = "{prefix}_KEY_ID"\n'
                f'access_key_secret_env = "{prefix}_KEY_SECRET"\n'
                f"{extra}"
            )
    return "\n".join(blocks)
