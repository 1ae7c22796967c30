"""``fcaudit emulator``: serve a seeded FC 2.0 account on loopback until interrupted.

For trying fcaudit without a cloud account, load-testing it, and reproducing a misbehaving service by
hand: the command prints the endpoint, the account id and the credentials to ``export``, then serves.
Every knob of ``FaultConfig`` and ``AccountSpec`` has a flag; a bad value is one line and exit 2.
``--eager`` builds every function before serving (generated functions are otherwise built on first
touch), so a load test measures steady state. ``--dump-truth FILE`` writes the expected crawl output
at start and again on exit (then it includes the functions deleted by ``--fault delete=…``); with
``--no-serve`` it writes it and exits. ``--role`` serves STS too (``crawler.app.emulated_role``): the
banner then exports a central RAM user's keys, not the account's, and the crawl line assumes the role.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TextIO

from crawler.app.commands import EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM
from crawler.app.emulated_role import RoleFlags, role_flags
from crawler.emulator import AccountSpec, Backend, generate_account
from crawler.emulator.faults import QUOTA_SHAPES as QUOTA_SHAPES
from crawler.emulator.faults import RETRY_HINTS as RETRY_HINTS
from crawler.emulator.faults import FaultConfig, FaultKind, parse_fault_spec, parse_quota_change
from crawler.emulator.faults import kinds_help as kinds_help
from crawler.emulator.ram import SingleRole
from crawler.emulator.server import RunningEmulator, run_emulator, run_identity
from crawler.errors import OutputError, UsageError
from crawler.log import configure, get_logger
from crawler.store.atomic_file import probe_writable

log = get_logger(__name__)


def account_spec(args: argparse.Namespace) -> AccountSpec:
    return AccountSpec(
        seed=args.seed,
        services=args.services,
        functions=args.functions,
        distribution=args.distribution,
        account_id=args.account_id,
        region=args.region,
        big_functions=args.big_functions,
        max_qualifiers=args.max_qualifiers,
        edge_rate=args.edge_rate,
        showcase=not args.no_showcase,
    )


def fault_config(args: argparse.Namespace) -> FaultConfig:
    rates: dict[FaultKind, float] = {}
    for spec in args.fault:
        kind, rate = parse_fault_spec(spec)
        rates[kind] = rate
    return FaultConfig(
        seed=args.seed,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        quota_rps=args.quota,
        quota_burst=args.burst,
        quota_shape=args.quota_shape,
        quota_window=args.quota_window,
        quota_changes=tuple(parse_quota_change(spec) for spec in args.quota_change),
        arrival_jitter_ms=args.arrival_jitter_ms,
        throttle_status=args.throttle_status,
        retry_hint=args.retry_hint,
        rates=rates,
        stall_seconds=args.stall_seconds,
        delete_service_share=args.delete_service_share,
    )


def banner(
    running: RunningEmulator, out: TextIO, role: SingleRole | None = None, sts_endpoint: str = ""
) -> None:
    counts = running.backend.counts()
    print(
        f"# fcaudit emulator serving {running.endpoint} (account {running.account_id}, region "
        f"{running.region}, {counts['services']} services, {counts['functions']} functions)",
        file=out,
    )
    if role is None:
        key_id, secret = running.access_key_id, running.access_key_secret
    else:
        key_id, secret = role.user.access_key_id, role.user.access_key_secret
        print(
            f"# STS at {sts_endpoint}: the RAM user {role.user.arn} (keys below) may assume "
            f"{role.role.arn} with external id {role.external_id}"
            + (
                f"; sessions last {role.registry.session_seconds:g} s"
                if role.registry.session_seconds is not None
                else ""
            ),
            file=out,
        )
    print(f"export ALIBABA_CLOUD_ACCESS_KEY_ID={key_id}", file=out)
    print(f"export ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}", file=out)
    if running.security_token is not None and role is None:
        print(f"export ALIBABA_CLOUD_SECURITY_TOKEN={running.security_token}", file=out)
    print(f"export ALIBABA_CLOUD_ACCOUNT_ID={running.account_id}", file=out)
    print(f"export ALIBABA_CLOUD_REGION_ID={running.region}", file=out)
    through = (
        f" --role-arn {role.role.arn} --external-id {role.external_id} --sts-endpoint {sts_endpoint}"
        if role is not None
        else ""
    )
    print(
        f"# then: fcaudit crawl --endpoint {running.endpoint} --account {running.account_id} "
        f"--region {running.region}{through}   (stats: {running.endpoint}/_emulator/stats; Ctrl-C stops)",
        file=out,
    )
    out.flush()


def write_env(
    running: RunningEmulator, path: Path, role: SingleRole | None = None, sts_endpoint: str = ""
) -> None:
    """``--write-env FILE``: the banner (the ``export`` lines and the crawl command) in a file to
    ``source`` from another shell, mode 0600 (it holds the emulator's key secret), replaced whole."""
    text = io.StringIO()
    banner(running, text, role, sts_endpoint)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(fd, 0o600)
            out.write(text.getvalue())
    except OSError as exc:
        raise OutputError(f"cannot write --write-env {path}: {exc.strerror}") from None
    log.info("emulator.env_written", path=str(path))


async def serve(
    args: argparse.Namespace, backend: Backend, faults: FaultConfig, through: RoleFlags | None = None
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    started = False
    role = through.build(backend.account_id, args.seed) if through is not None else None
    try:
        async with AsyncExitStack() as stack:
            running = await stack.enter_async_context(
                run_emulator(
                    backend,
                    faults,
                    host=args.host,
                    port=args.port,
                    security_token=args.security_token,
                    empty_last_token=not args.omit_last_token,
                    omit_empty_configs=args.omit_empty_configs,
                    identity=role.registry if role is not None else None,
                )
            )
            sts_endpoint = ""
            if role is not None:  # STS on a free port of the same host
                sts_endpoint = (
                    await stack.enter_async_context(run_identity(role.registry, host=args.host))
                ).sts_endpoint
            started = True
            banner(running, sys.stdout, role, sts_endpoint)
            if args.write_env is not None:
                write_env(running, args.write_env, role, sts_endpoint)
            log.info("emulator.serving", endpoint=running.endpoint, account=running.account_id)
            await stop.wait()
            snapshot = running.stats()
    except OSError as exc:
        if started:
            raise
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "choose another --port (0 picks a free one)"
        ) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    log.info(
        "emulator.stopped",
        requests=snapshot["requests"],
        throttled=snapshot["throttled"],
        faults=snapshot["faults"],
        max_requests_in_1s=snapshot["max_requests_in_1s"],
    )
    return EXIT_SIGTERM if received and received[0] == signal.SIGTERM else EXIT_SIGINT


def run(args: argparse.Namespace) -> int:
    configure(fmt=args.log_format)
    spec = account_spec(args)
    faults = fault_config(args)
    through = role_flags(bool(args.role), args.session_seconds)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    if args.write_env is not None:  # before the account is generated and served, not after
        probe_writable(args.write_env, what="--write-env")
    backend = generate_account(spec)
    if args.eager:
        log.info("emulator.materialised", configs=backend.materialise())
    if args.dump_truth is not None:
        lines = backend.dump_truth(args.dump_truth)
        log.info("emulator.truth_written", path=str(args.dump_truth), lines=lines)
    if args.no_serve:
        return EXIT_OK
    if args.uvloop:
        try:
            import uvloop
        except ImportError:
            raise UsageError("--uvloop needs the uvloop package (pip install 'fcaudit[uvloop]')") from None
        code = uvloop.run(serve(args, backend, faults, through))
    else:
        code = asyncio.run(serve(args, backend, faults, through))
    if args.dump_truth is not None:
        backend.dump_truth(args.dump_truth)  # again, now with what deletions marked "gone"
    return int(code)
