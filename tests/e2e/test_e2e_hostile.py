"""Untrusted input, end to end: odd names travel safely and are written verbatim; answers of the wrong
shape become an ``error`` record for that one function — never a crash, never a wrong config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from aiohttp import web

from crawler.crawl.job import CrawlJob
from crawler.crawl.runner import execute
from crawler.emulator import Backend
from crawler.emulator.server import EmulatorThread
from crawler.settings.config import CrawlSettings, Target
from crawler.settings.credentials import Credentials
from crawler.settings.identity import StaticKeys
from crawler.store.writer import Sink
from crawler.wire.run_stats import RunStats
from tests.support.crawl_support import (
    Crawled,
    assert_matches_truth,
    clean_env,
    read_ndjson,
    run_cli,
    target_args,
)

HOSTILE_NAMES = ["a/b", "..", "%41%2F", "with space", "ünïcødé-函数", "ctl\x01\x7f", "semi;colon?q=1#x"]


def hostile_account() -> Backend:
    backend = Backend(
        account_id="1234567890123456", access_key_id="LTAIhostile0000", access_key_secret="s3cr3t"
    )
    for service in ["plain", *HOSTILE_NAMES[:3]]:
        backend.add_service(service)
        for n, function in enumerate(HOSTILE_NAMES):
            backend.add_function(service, function)
            for qualifier in ["LATEST", "v1"][: n % 3]:
                backend.put_config(
                    service, function, qualifier, {"maxAsyncRetryAttempts": n}, "2024-01-01T00:00:00Z"
                )
    return backend


def test_hostile_names_are_escaped_in_paths_and_verbatim_in_records(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch, tmp_path)
    backend = hostile_account()
    with EmulatorThread(backend) as served:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", served.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", served.access_key_secret)
        out = tmp_path / "out.ndjson"
        assert run_cli(["crawl", *target_args(served), "-o", str(out), "-q"]) == 0
        crawled = Crawled.of(read_ndjson(out))
        assert_matches_truth(crawled, backend.truth_records())
    names = {k[3] for k in crawled.functions}
    assert names == set(HOSTILE_NAMES)


# --- answers of the wrong shape, from a purpose-built server -------------------------------------------

GOOD_CONFIG = {"qualifier": "LATEST", "maxAsyncRetryAttempts": 1, "unknownField": {"kept": True}}
DEEP = b'{"configs": ' + b"[" * 5000 + b"]" * 5000 + b"}"
ANSWERS: dict[str, bytes] = {
    "fine": orjson.dumps({"configs": [GOOD_CONFIG]}),
    "configs-not-a-list": orjson.dumps({"configs": {"qualifier": "LATEST"}}),
    "token-not-a-string": orjson.dumps({"configs": [GOOD_CONFIG], "nextToken": 12}),
    "item-not-an-object": orjson.dumps({"configs": [GOOD_CONFIG, 7]}),
    "wrong-top-level": orjson.dumps([GOOD_CONFIG]),
    "deeply-nested": DEEP,
    "too-large": orjson.dumps({"configs": [{**GOOD_CONFIG, "pad": "x" * 200_000}]}),
    "not-json": b"<html>oops</html>",
}


def shapes_app() -> web.Application:
    async def services(_request: web.Request) -> web.Response:
        return web.json_response({"services": [{"serviceName": "svc"}]})

    async def functions(_request: web.Request) -> web.Response:
        return web.json_response({"functions": [{"functionName": name} for name in ANSWERS]})

    async def configs(request: web.Request) -> web.Response:
        return web.Response(body=ANSWERS[request.match_info["function"]], content_type="application/json")

    app = web.Application()
    app.router.add_get("/2016-08-15/services", services)
    app.router.add_get("/2016-08-15/services/{service}/functions", functions)
    app.router.add_get("/2016-08-15/services/{service}/functions/{function}/async-invoke-configs", configs)
    return app


async def crawl_shapes(out: Path) -> dict[str, Any]:
    runner = web.AppRunner(shapes_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        target = Target(
            "1234567890123456",
            "cn-hangzhou",
            f"http://127.0.0.1:{port}",
            StaticKeys(Credentials("LTAIx", "s")),
        )
        settings = CrawlSettings(
            max_body_bytes=64 * 1024, max_attempts=2, backoff_base=0.01, backoff_cap=0.02
        )
        outcome = await execute(CrawlJob((target,), settings), Sink.open_file(out), stats=RunStats())
        return dict(outcome.end.data)
    finally:
        await runner.cleanup()


def test_answers_of_the_wrong_shape_become_error_records(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"

    end = anyio.run(crawl_shapes, out)

    crawled = Crawled.of(read_ndjson(out))
    statuses = {k[3]: f["status"] for k, f in crawled.functions.items()}
    assert statuses == {name: ("ok" if name == "fine" else "error") for name in ANSWERS}
    codes = {k[3]: f["error"]["code"] for k, f in crawled.functions.items() if f["error"]}
    assert codes["too-large"] == "ResponseTooLarge"
    assert codes["configs-not-a-list"] == "ProtocolError"
    # the one good config, exactly as served (unknown fields kept); nothing from the broken answers
    assert [(ident[3], orjson.loads(body)) for ident, body in crawled.configs] == [("fine", GOOD_CONFIG)]
    assert end["complete"] is False
    assert end["functions"] == {"ok": 1, "none": 0, "gone": 0, "error": len(ANSWERS) - 1}
