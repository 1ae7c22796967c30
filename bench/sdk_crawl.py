"""The crawl a user writes without fcaudit: the official SDK (``aliyun-fc2``), in a loop or a thread pool.

This is the baseline ``crawl_bench.py`` holds fcaudit against, so it is written the way a careful user
would write it, not made slow on purpose: ListServices, ListFunctions per service and
ListFunctionAsyncInvokeConfigs per function, each paged through ``nextToken`` with ``limit=100``; a
throttled answer (429/503, which the SDK raises rather than retries) is retried after a short backoff.
``--threads 1`` runs everything in one loop; ``--threads N`` lists the functions of the services and the
configs of the functions in a ``ThreadPoolExecutor`` of N threads. ``--max-functions`` stops after that
many functions (the benchmark extrapolates a long sequential run from a subset).

It runs as its own process (``python bench/sdk_crawl.py ...``, credentials in the usual
``ALIBABA_CLOUD_*`` variables) so the benchmark can measure its CPU time and peak memory exactly as it
measures ``fcaudit crawl``'s, and prints one JSON line of counts on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fc2
from fc2.fc_exceptions import FcError

PAGE = 100
THROTTLED = (429, 503)
MAX_ATTEMPTS = 30


def _with_retry(fetch: Callable[[str | None], Any], token: str | None) -> dict[str, Any]:
    """One SDK call; a throttled answer is retried after a full-jitter backoff (0.1 s doubling, 2 s cap)."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            data: dict[str, Any] = fetch(token).data
            return data
        except FcError as exc:
            if exc.status_code not in THROTTLED or attempt == MAX_ATTEMPTS - 1:
                raise
            time.sleep(random.random() * min(2.0, 0.1 * 2**attempt))
    raise AssertionError("unreachable")


def _paged(fetch: Callable[[str | None], Any], key: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = _with_retry(fetch, token)
        yield from page.get(key) or []
        token = page.get("nextToken") or None
        if token is None:
            return


class SdkCrawler:
    def __init__(self, client: Any) -> None:
        self.client = client

    def services(self) -> list[str]:
        fetch = lambda token: self.client.list_services(limit=PAGE, nextToken=token)  # noqa: E731
        return [s["serviceName"] for s in _paged(fetch, "services")]

    def functions(self, service: str) -> list[tuple[str, str]]:
        fetch = lambda token: self.client.list_functions(service, limit=PAGE, nextToken=token)  # noqa: E731
        return [(service, f["functionName"]) for f in _paged(fetch, "functions")]

    def configs(self, pair: tuple[str, str]) -> int:
        service, function = pair

        def fetch(token: str | None) -> Any:
            return self.client.list_function_async_invoke_configs(
                service, function, limit=PAGE, nextToken=token
            )

        return sum(1 for _ in _paged(fetch, "configs"))


def crawl(crawler: SdkCrawler, threads: int, max_functions: int | None) -> dict[str, int]:
    services = crawler.services()
    if threads <= 1:
        pairs: list[tuple[str, str]] = []
        for service in services:
            pairs.extend(crawler.functions(service))
            if max_functions is not None and len(pairs) >= max_functions:
                break
        pairs = pairs[:max_functions] if max_functions is not None else pairs
        configs = sum(crawler.configs(pair) for pair in pairs)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            pairs = list(itertools.chain.from_iterable(pool.map(crawler.functions, services)))
            pairs = pairs[:max_functions] if max_functions is not None else pairs
            configs = sum(pool.map(crawler.configs, pairs))
    return {"services": len(services), "functions": len(pairs), "configs": configs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-functions", type=int)
    args = parser.parse_args(argv)
    client = fc2.Client(
        endpoint=args.endpoint,
        accessKeyID=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
        accessKeySecret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
        securityToken=os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
        Timeout=60,
    )
    counts = crawl(SdkCrawler(client), args.threads, args.max_functions)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
