"""Failures that would only repeat are not repeated.

Against purpose-built servers (``tests/hostile/slow.py``), through the real CLI: a host name that does not
resolve, a certificate that does not verify and a 200 that is an HTML page are tried once or twice, not
``max_attempts`` times, and said in plain words.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.crawl_support import (
    Crawled,
    clean_env,
    read_ndjson,
    run_cli,
)
from tests.hostile import HostileServer
from tests.hostile.slow import HITS, html_pages, self_signed_context

ACCOUNT = "1234567890123456"
#: retries that cost nothing but the attempts themselves
QUICK = "backoff_base = 0.01\nbackoff_cap = 0.02\n"


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clean_env(monkeypatch, home)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIdeadlines")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "deadline-secret")


def crawl(tmp_path: Path, endpoint: str, crawl_table: str, *extra: str) -> tuple[int, Crawled, float]:
    """``fcaudit crawl`` of one account in one region at ``endpoint``: exit code, output, wall seconds."""
    config = tmp_path / "fcaudit.toml"
    config.write_text(f"[crawl]\n{crawl_table}")
    out = tmp_path / "out.ndjson"
    args = ["--endpoint", endpoint, "--account", ACCOUNT, "--region", "cn-hangzhou", "--config", str(config)]
    started = time.monotonic()
    code = run_cli(["crawl", *args, "-o", str(out), "-q", *extra])
    return code, Crawled.of(read_ndjson(out)), time.monotonic() - started


def function_error(crawled: Crawled, name: str) -> dict[str, Any]:
    record = crawled.functions[(ACCOUNT, "cn-hangzhou", "svc", name)]
    assert record["status"] == "error", record
    error: dict[str, Any] = record["error"]
    return error


def services_error(crawled: Crawled) -> dict[str, Any]:
    (end,) = crawled.end
    (failed,) = end["discoveryErrors"]
    assert failed["service"] is None  # the ListServices listing itself
    error: dict[str, Any] = failed["error"]
    return error


# ---- failures that repeat ---------------------------------------------------------------------------


def test_an_html_page_for_an_answer_is_tried_twice_and_named(tmp_path: Path) -> None:
    app = html_pages()
    with HostileServer(app) as server:
        code, crawled, _elapsed = crawl(tmp_path, server.endpoint, QUICK)

    hits = app[HITS]
    error = services_error(crawled)
    assert error["code"] == "InvalidBody"
    assert error["attempts"] == 2
    assert "HTTP 200 with an HTML page" in error["message"]
    assert hits["services"] == 2  # not max_attempts (6)
    assert code == 3


def test_a_name_that_does_not_resolve_is_tried_at_most_twice_and_named(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 6761): the resolver answers at once, with no network
    code, crawled, elapsed = crawl(tmp_path, "https://fc-audit.invalid", f"total_timeout = 5.0\n{QUICK}")

    error = services_error(crawled)
    assert error["code"] == "NameNotResolved"
    assert "name not resolved: fc-audit.invalid" in error["message"]
    assert error["attempts"] <= 2
    assert code == 3
    assert elapsed < 12.0


def test_a_certificate_that_does_not_verify_is_tried_once_and_named(tmp_path: Path) -> None:
    context = self_signed_context(tmp_path)
    if context is None:
        pytest.skip("openssl is not installed: no self-signed certificate to serve")
    app = html_pages()
    with HostileServer(app, ssl_context=context) as server:
        code, crawled, _elapsed = crawl(tmp_path, server.endpoint, QUICK)

    hits = app[HITS]
    error = services_error(crawled)
    assert error["code"] == "CertificateInvalid"
    assert error["attempts"] == 1
    assert "certificate verify failed for 127.0.0.1" in error["message"]
    assert "self-signed" in error["message"] or "self signed" in error["message"]
    assert sum(hits.values()) == 0  # no request ever went over the unverified connection
    assert code == 3
