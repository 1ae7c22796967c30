"""The emulated account: services, functions and their async-invoke configs, in memory, with no HTTP.

Every rule about what exists, what a listing returns and what the expected crawl output is lives here, so
the HTTP layer (app.py) only translates, tests can shape an account directly, and the ground truth is
computed from the same state the server answers from (moto's split between backend and responses).

Functions made by the seeded generator (generator.py) carry a per-function ``recipe`` and are
materialised on first touch, so a 100,000-function account is ready in a fraction of a second and is
still byte-identical for a given seed. Every listing is kept as a sorted list of names, so a page is one
bisect plus the page itself.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from crawler.errors import CrawlerError, OutputError, UsageError

ConfigDict = dict[str, Any]
Distribution = Literal["uniform", "skewed"]


def qualifier_key(value: object) -> str:
    """The key a config is kept under: ``""`` and a missing qualifier are the unpublished ``LATEST``.

    The emulator's own rule, deliberately not ``crawler.store.records.normalise_qualifier``: the ground truth
    (``truth_records``) is an oracle for the crawler, so it must not share the code it checks."""
    return "LATEST" if value in (None, "") else str(value)


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """What generate_account builds. ``account_id`` ``None`` → derived from the seed."""

    seed: int = 1
    services: int = 10
    functions: int = 100  # in total, spread over the services by ``distribution``
    distribution: Distribution = "uniform"
    account_id: str | None = None
    region: str = "cn-hangzhou"
    big_functions: int = 2  # functions with more than 100 configs (at most ``functions`` of them)
    max_qualifiers: int = 6  # most configs one ordinary function can have
    edge_rate: float = 0.03  # share of configs with values outside the documented ranges
    showcase: bool = True  # plant one function holding every ARN kind and edge case

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise UsageError(f"seed must be >= 0, got {self.seed}")
        if self.services < 0 or self.functions < 0:
            raise UsageError("services and functions must be >= 0")
        if self.functions and not self.services:
            raise UsageError("functions need at least one service (--services >= 1)")
        if self.distribution not in ("uniform", "skewed"):
            raise UsageError(f"distribution must be uniform or skewed, got {self.distribution!r}")
        if self.account_id is not None and not (self.account_id.isdigit() and self.account_id.isascii()):
            raise UsageError(f"account id must be digits, got {self.account_id!r}")
        if not self.region:
            raise UsageError("region must not be empty")
        if self.big_functions < 0:
            raise UsageError(f"big functions must be >= 0, got {self.big_functions}")
        if not 1 <= self.max_qualifiers <= 100:
            raise UsageError(f"max qualifiers must be in 1..100, got {self.max_qualifiers}")
        if not 0.0 <= self.edge_rate <= 1.0:
            raise UsageError(f"edge rate must be in 0..1, got {self.edge_rate}")


def iso(ts: float) -> str:
    """ISO 8601 in UTC, second precision, as FC writes ``createdTime``/``lastModifiedTime``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class EmulatorApiError(CrawlerError):
    """An FC error the emulator answers with: HTTP status, ``ErrorCode`` and ``ErrorMessage``."""

    def __init__(self, http: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.http = http
        self.code = code
        self.headers = dict(headers or {})


class FunctionBuilder(Protocol):
    """Fills in a generated function's details from its recipe (see generator.py)."""

    def build_info(self, entry: FunctionEntry) -> dict[str, Any]: ...

    def build_configs(self, entry: FunctionEntry) -> tuple[bool, list[ConfigDict]]: ...


@dataclass(slots=True, eq=False)
class FunctionEntry:
    """One function. ``info`` and ``configs`` stay ``None`` until first needed when ``recipe`` is set."""

    service: str
    name: str
    recipe: int | None = None
    big: bool = False
    showcase: bool = False
    #: configs spell their owner ``serviceName``/``functionName`` rather than ``service``/``function``
    long_names: bool = False
    info: dict[str, Any] | None = None
    configs: dict[str, ConfigDict] | None = None  # normalised qualifier → config as the API returns it
    order: list[str] = field(default_factory=list)  # sorted normalised qualifiers
    gone: bool = False


@dataclass(slots=True, eq=False)
class ServiceEntry:
    name: str
    info: dict[str, Any]
    functions: dict[str, FunctionEntry] = field(default_factory=dict)  # every function ever, gone included
    live: list[str] = field(default_factory=list)  # sorted names of functions not deleted
    gone: bool = False


class Backend:
    """One account in one region. Mutated only from the server's event loop (or before it starts)."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str = "cn-hangzhou",
        access_key_id: str = "LTAIemulatorKeyId000",
        access_key_secret: str = "emulator-secret",
        seed: int = 0,
        builder: FunctionBuilder | None = None,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.seed = seed
        self._builder = builder
        self._services: dict[str, ServiceEntry] = {}
        self._live_services: list[str] = []
        #: what a resource-scoped RAM policy denies the key, answered 403 ``AccessDenied``: a (service,
        #: function) pair's configs, or (service, None) the service's function listing
        self.denied: set[tuple[str, str | None]] = set()

    def __repr__(self) -> str:  # never the secret
        return (
            f"Backend(account_id={self.account_id!r}, region={self.region!r}, services={len(self._services)})"
        )

    # --- shaping the account -------------------------------------------------------------------------
    def add_service(self, name: str, info: dict[str, Any] | None = None) -> ServiceEntry:
        if name in self._services:
            raise EmulatorApiError(409, "ServiceAlreadyExists", f"service {name} already exists")
        entry = ServiceEntry(name, info if info is not None else {"serviceName": name})
        self._services[name] = entry
        insort(self._live_services, name)
        return entry

    def add_function(self, service: str, name: str, info: dict[str, Any] | None = None) -> FunctionEntry:
        svc = self._service(service)
        if name in svc.functions:
            raise EmulatorApiError(409, "FunctionAlreadyExists", f"function {name} already exists")
        entry = FunctionEntry(service, name, info=info if info is not None else {"functionName": name})
        entry.configs = {}
        self.install_function(svc, entry)
        return entry

    def install_function(self, svc: ServiceEntry, entry: FunctionEntry, *, presorted: bool = False) -> None:
        """Add ``entry`` to ``svc``; ``presorted`` appends (the generator adds names in sorted order)."""
        svc.functions[entry.name] = entry
        if presorted:
            svc.live.append(entry.name)
        else:
            insort(svc.live, entry.name)

    def delete_function(self, service: str, function: str) -> None:
        entry = self._function(service, function)
        entry.gone = True
        svc = self._services[service]
        del svc.live[bisect_left(svc.live, function)]

    def delete_service(self, service: str) -> None:
        svc = self._service(service)
        svc.gone = True
        del self._live_services[bisect_left(self._live_services, service)]

    def deny(self, service: str, function: str | None = None) -> None:
        """Deny the key one function's configs (or, ``function`` None, one service's function listing),
        as a resource-scoped RAM policy would; the rest of the account still answers."""
        self.denied.add((service, function))

    def check_allowed(self, service: str, function: str | None = None) -> None:
        if (service, function) in self.denied:
            what = f"services/{service}" + (f"/functions/{function}" if function is not None else "")
            raise EmulatorApiError(
                403, "AccessDenied", f"the RAM policy of the key does not allow access to {what}"
            )

    # --- lookups --------------------------------------------------------------------------------------
    def _service(self, name: str) -> ServiceEntry:
        svc = self._services.get(name)
        if svc is None or svc.gone:
            raise EmulatorApiError(404, "ServiceNotFound", f"service {name} does not exist")
        return svc

    def _function(self, service: str, name: str) -> FunctionEntry:
        entry = self._service(service).functions.get(name)
        if entry is None or entry.gone:
            raise EmulatorApiError(404, "FunctionNotFound", f"function {name} does not exist")
        return entry

    def _info(self, entry: FunctionEntry) -> dict[str, Any]:
        if entry.info is None:
            assert self._builder is not None
            entry.info = self._builder.build_info(entry)
        return entry.info

    def _configs(self, entry: FunctionEntry) -> dict[str, ConfigDict]:
        if entry.configs is None:
            assert self._builder is not None
            entry.long_names, built = self._builder.build_configs(entry)
            configs = {qualifier_key(c.get("qualifier")): c for c in built}
            entry.order = sorted(configs)
            entry.configs = configs
        return entry.configs

    def service_names(self) -> list[str]:
        return self._live_services

    def function_names(self, service: str) -> list[str]:
        return self._service(service).live

    def config_keys(self, service: str, function: str) -> list[str]:
        entry = self._function(service, function)
        self._configs(entry)
        return entry.order

    def service_info(self, name: str) -> dict[str, Any]:
        return self._services[name].info

    def function_info(self, service: str, name: str) -> dict[str, Any]:
        return self._info(self._services[service].functions[name])

    def config(self, service: str, function: str, key: str) -> ConfigDict:
        return self._configs(self._function(service, function))[key]

    def get_config(self, service: str, function: str, qualifier: str) -> ConfigDict:
        configs = self._configs(self._function(service, function))
        found = configs.get(qualifier_key(qualifier))
        if found is None:
            raise EmulatorApiError(
                404,
                "AsyncConfigNotExists",
                f"async config of {service}.{qualifier}/{function} does not exist",
            )
        return found

    # --- writes through the API ----------------------------------------------------------------------
    def put_config(
        self, service: str, function: str, qualifier: str, fields: Mapping[str, Any], now: str
    ) -> ConfigDict:
        """Create or replace one qualifier's config; ``fields`` were validated by the caller."""
        entry = self._function(service, function)
        configs = self._configs(entry)
        key = qualifier_key(qualifier)
        previous = configs.get(key)
        names = ("serviceName", "functionName") if entry.long_names else ("service", "function")
        config: ConfigDict = {
            names[0]: service,
            names[1]: function,
            "qualifier": qualifier,
            "createdTime": previous["createdTime"] if previous and "createdTime" in previous else now,
            "lastModifiedTime": now,
            "destinationConfig": fields.get("destinationConfig") or {},
            "maxAsyncRetryAttempts": fields.get("maxAsyncRetryAttempts", 3),
            "maxAsyncEventAgeInSeconds": fields.get("maxAsyncEventAgeInSeconds", 86400),
            "statefulInvocation": fields.get("statefulInvocation", False),
        }
        if previous is None:
            insort(entry.order, key)
        configs[key] = config
        return config

    def delete_config(self, service: str, function: str, qualifier: str) -> None:
        entry = self._function(service, function)
        self.get_config(service, function, qualifier)
        key = qualifier_key(qualifier)
        assert entry.configs is not None
        del entry.configs[key]
        del entry.order[bisect_left(entry.order, key)]

    # --- ground truth ---------------------------------------------------------------------------------
    def truth_records(self) -> Iterator[dict[str, Any]]:
        """The expected crawl output: config records then one function record per function, sorted."""
        base = {"account": self.account_id, "region": self.region}
        for sname in sorted(self._services):
            svc = self._services[sname]
            for fname in sorted(svc.functions):
                entry = svc.functions[fname]
                status: Literal["ok", "none", "gone"] = "gone"
                count = 0
                if not (svc.gone or entry.gone):
                    configs = self._configs(entry)
                    for key in entry.order:
                        yield {
                            "type": "config",
                            **base,
                            "service": sname,
                            "function": fname,
                            "qualifier": key,
                            "config": configs[key],
                        }
                    count = len(entry.order)
                    status = "ok" if count else "none"
                yield {
                    "type": "function",
                    **base,
                    "service": sname,
                    "function": fname,
                    "status": status,
                    "configs": count,
                }

    def dump_truth(self, path: str | os.PathLike[str]) -> int:
        """Write ``truth_records()`` as NDJSON to ``path``; returns the number of lines."""
        target = Path(path)
        lines = 0
        try:
            with target.open("wb") as out:
                chunk: list[bytes] = []
                for record in self.truth_records():
                    chunk.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                    if len(chunk) >= 4096:
                        out.write(b"".join(chunk))
                        lines += len(chunk)
                        chunk.clear()
                out.write(b"".join(chunk))
                lines += len(chunk)
        except OSError as exc:
            raise OutputError(f"cannot write the truth file {target}: {exc.strerror}") from None
        return lines

    def materialise(self) -> int:
        """Build every generated function now (load tests want steady state); returns the config count."""
        total = 0
        for svc in self._services.values():
            for entry in svc.functions.values():
                self._info(entry)
                total += len(self._configs(entry))
        return total

    def counts(self) -> dict[str, int]:
        """Live services and functions (cheap: configs are not materialised for this)."""
        live = [self._services[s] for s in self._live_services]
        return {"services": len(live), "functions": sum(len(s.live) for s in live)}


def generate_account(spec: AccountSpec) -> Backend:
    """A seeded account (see generator.py); same spec → byte-identical account."""
    from crawler.emulator.generator import build_account  # generator builds on this module

    return build_account(spec)
