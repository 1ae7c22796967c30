"""The emulated account: services, functions and their async-invoke configs, in memory, with no HTTP.

Every rule about what exists (services, functions, configs, triggers), what a listing returns and what
the expected crawl output is lives here,
so the HTTP layer (fc2_routes.py, fc3_routes.py) only translates, tests can shape an account directly,
and the ground truth is computed from the same state the server answers from (moto's split between
backend and responses).

The shapes it keeps are model.py's and the errors it raises api_errors.py's. Functions made by the
seeded generator (generator.py, installed by ``generate_account``) carry a per-function ``recipe`` and are
materialised on first touch, so a 100,000-function account is ready in a fraction of a second and is
still byte-identical for a given seed. Every listing is kept as a sorted list of names, so a page is one
bisect plus the page itself.
"""

from __future__ import annotations

import os
from bisect import bisect_left, insort
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson

from crawler.emulator import api_errors
from crawler.emulator.generator import plan_account
from crawler.emulator.model import (
    AccountSpec,
    ConfigDict,
    FunctionBuilder,
    FunctionEntry,
    ServiceEntry,
    TriggerDict,
    exposure,
    invocation_mode,
    qualifier_key,
)
from crawler.errors import OutputError


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
        #: functions whose trigger listing the key is denied (403 ``AccessDenied``), configs still allowed
        self.denied_triggers: set[tuple[str, str]] = set()

    def __repr__(self) -> str:  # never the secret
        return (
            f"Backend(account_id={self.account_id!r}, region={self.region!r}, services={len(self._services)})"
        )

    # --- shaping the account -------------------------------------------------------------------------
    def add_service(self, name: str, info: dict[str, Any] | None = None) -> ServiceEntry:
        if name in self._services:
            raise api_errors.service_exists(name)
        entry = ServiceEntry(name, info if info is not None else {"serviceName": name})
        self._services[name] = entry
        insort(self._live_services, name)
        return entry

    def add_function(self, service: str, name: str, info: dict[str, Any] | None = None) -> FunctionEntry:
        svc = self._service(service)
        if name in svc.functions:
            raise api_errors.function_exists(name)
        entry = FunctionEntry(service, name, info=info if info is not None else {"functionName": name})
        entry.configs = {}
        entry.triggers = {}
        svc.functions[name] = entry
        insort(svc.live, name)
        return entry

    def add_functions(self, service: str, entries: Sequence[FunctionEntry]) -> None:
        """Add generated functions, at once, to a service that has none yet; ``entries`` are sorted by
        name and their details may be left to the builder (``recipe``)."""
        svc = self._service(service)
        assert not svc.functions, "add_functions fills an empty service"
        svc.functions = {entry.name: entry for entry in entries}
        svc.live = list(svc.functions)

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

    def deny_triggers(self, service: str, function: str) -> None:
        """Deny the key one function's trigger listing only (its configs still answer)."""
        self.denied_triggers.add((service, function))

    def check_triggers_allowed(self, service: str, function: str) -> None:
        if (service, function) in self.denied_triggers:
            raise api_errors.resource_denied(f"services/{service}/functions/{function}/triggers")

    def check_allowed(self, service: str, function: str | None = None) -> None:
        if (service, function) in self.denied:
            what = f"services/{service}" + (f"/functions/{function}" if function is not None else "")
            raise api_errors.resource_denied(what)

    # --- lookups --------------------------------------------------------------------------------------
    def _service(self, name: str) -> ServiceEntry:
        svc = self._services.get(name)
        if svc is None or svc.gone:
            raise api_errors.service_not_found(name)
        return svc

    def _function(self, service: str, name: str) -> FunctionEntry:
        entry = self._service(service).functions.get(name)
        if entry is None or entry.gone:
            raise api_errors.function_not_found(name)
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

    def _triggers(self, entry: FunctionEntry) -> dict[str, TriggerDict]:
        if entry.triggers is None:
            assert self._builder is not None
            built = self._builder.build_triggers(entry)
            entry.triggers = {str(t["triggerName"]): t for t in built}
            entry.trigger_order = sorted(entry.triggers)
        return entry.triggers

    def trigger_names(self, service: str, function: str) -> list[str]:
        """The function's trigger names, sorted (what ListTriggers pages through)."""
        entry = self._function(service, function)
        self._triggers(entry)
        return entry.trigger_order

    def trigger(self, service: str, function: str, name: str) -> TriggerDict:
        return self._triggers(self._function(service, function))[name]

    def add_trigger(self, service: str, function: str, trigger: TriggerDict) -> None:
        """Give a function one more trigger (tests shape accounts with it)."""
        entry = self._function(service, function)
        triggers = self._triggers(entry)
        name = str(trigger["triggerName"])
        if name not in triggers:
            insort(entry.trigger_order, name)
        triggers[name] = trigger

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
            raise api_errors.async_config_not_found(service, function, qualifier)
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
    def truth_records(
        self, *, triggers: bool = False, trigger_modes: dict[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The expected crawl output: config records then one function record per function, sorted.

        Function records carry the function's ``timeout`` (``None`` when its info has none) and its
        ``exposure``; with ``triggers`` (a ``--triggers`` crawl; ``trigger_modes``: its ``[audit]
        trigger_modes``) a live function's records also list its triggers, classified by the emulator's
        own table (``model.invocation_mode``)."""
        base = {"account": self.account_id, "region": self.region}
        for sname in sorted(self._services):
            svc = self._services[sname]
            for fname in sorted(svc.functions):
                entry = svc.functions[fname]
                status: Literal["ok", "none", "gone"] = "gone"
                count = 0
                listed: list[dict[str, str]] | None = None
                if not (svc.gone or entry.gone) and triggers:
                    found = self._triggers(entry)
                    listed = [
                        {
                            "name": name,
                            "type": str(found[name]["triggerType"]),
                            "mode": invocation_mode(found[name], trigger_modes),
                        }
                        for name in entry.trigger_order
                    ]
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
                record: dict[str, Any] = {
                    "type": "function",
                    **base,
                    "service": sname,
                    "function": fname,
                    "status": status,
                    "configs": count,
                    "timeout": self._info(entry).get("timeout"),
                    "exposure": "unknown" if listed is None else exposure([t["mode"] for t in listed]),
                }
                if listed is not None:
                    record["triggers"] = listed
                yield record

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
    plan = plan_account(spec)
    backend = Backend(
        account_id=plan.account_id,
        region=plan.region,
        access_key_id=plan.access_key_id,
        access_key_secret=plan.access_key_secret,
        seed=plan.seed,
        builder=plan.builder,
    )
    for planned in plan.services:
        backend.add_service(planned.name, planned.info)
        backend.add_functions(planned.name, planned.functions)
    return backend
