"""``crawl.event_loop``: commands run on uvloop when it is installed, on the standard loop when asked."""

from __future__ import annotations

import asyncio

import pytest

from crawler.crawl import event_loop as loop


async def loop_module(tag: str) -> tuple[str, str]:
    return type(asyncio.get_running_loop()).__module__, tag


def test_uvloop_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(loop.ENV_VAR, raising=False)
    module, tag = loop.run(loop_module, "x")
    assert module.startswith("uvloop")
    assert tag == "x"


def test_the_environment_can_ask_for_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.ENV_VAR, "asyncio")
    module, _ = loop.run(loop_module, "y")
    assert module.startswith("asyncio")
    assert not loop.wants_uvloop()


def test_without_uvloop_the_standard_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "uvloop_available", lambda: False)
    assert not loop.wants_uvloop({})
    module, _ = loop.run(loop_module, "z")
    assert module.startswith("asyncio")
