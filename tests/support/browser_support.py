"""Headless Chromium driven over the DevTools protocol, for the HTML report's browser tests.

Why the DevTools protocol and not ``--dump-dom`` plus stderr: Chromium's stderr is full of noise (D-Bus,
GPU) that a grep would have to guess around, while the protocol reports exactly what we want —
uncaught exceptions (``Runtime.exceptionThrown``), console errors, browser log entries (a blocked
resource, a Content-Security-Policy violation: ``Log.entryAdded``), script dialogs and every request
the page makes — and lets the test read the rendered text, click, and take the screenshot in the same
session. The browser listens on 127.0.0.1 only, on a port it picks (``--remote-debugging-port=0``,
read back from ``DevToolsActivePort``); we talk to it with aiohttp's websocket client, one message
at a time (no background reader: each ``call`` reads until its own answer and keeps the events).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 20.0
CALL_TIMEOUT = 15.0


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Browser:
    port: int
    log: Path


@contextmanager
def chromium(binary: str, profile: Path) -> Iterator[Browser]:
    """Start headless Chromium with a fresh profile; stop it (and only it: its own process group)."""
    profile.mkdir(parents=True, exist_ok=True)
    active = profile / "DevToolsActivePort"
    active.unlink(missing_ok=True)  # a stale one would name a dead port
    log = profile.parent / "chromium.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        yield Browser(_wait_for_port(proc, active, log), log)
    finally:
        _stop(proc)


def _wait_for_port(proc: subprocess.Popen[bytes], active: Path, log: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"chromium exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            first = active.read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            time.sleep(0.05)
            continue
        return int(first)
    raise RuntimeError(f"chromium did not open its DevTools port within {START_TIMEOUT} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    with suppress(ProcessLookupError):  # helpers (renderer, zygote) share the group made for the browser
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


@dataclass
class Page:
    """One DevTools session on the browser's page target."""

    ws: aiohttp.ClientWebSocketResponse
    events: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        await self.ws.send_str(orjson.dumps({"id": ident, "method": method, "params": params}).decode())
        with anyio.fail_after(CALL_TIMEOUT):
            while True:
                message = await self._receive()
                if message.get("id") == ident:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    result: dict[str, Any] = message.get("result", {})
                    return result

    async def _receive(self) -> dict[str, Any]:
        msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT and msg.type != aiohttp.WSMsgType.BINARY:
            raise RuntimeError(f"DevTools connection ended: {msg.type!r}")
        message: dict[str, Any] = orjson.loads(msg.data)
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Page.javascriptDialogOpening":
                await self._dismiss_dialog()
        return message

    async def _dismiss_dialog(self) -> None:
        """A dialog blocks the page until answered: dismiss it (the event stays, ``problems`` reports it).
        The answer to this request is read, and ignored, like any other message."""
        self._next_id += 1
        request = {"id": self._next_id, "method": "Page.handleJavaScriptDialog", "params": {"accept": False}}
        await self.ws.send_str(orjson.dumps(request).decode())

    async def wait_for(self, method: str) -> dict[str, Any]:
        """The first ``method`` event not yet consumed (already received, or the next to come)."""
        with anyio.fail_after(CALL_TIMEOUT):
            while True:
                for event in self.events:
                    if event["method"] == method and not event.get("_seen"):
                        event["_seen"] = True
                        return event
                await self._receive()

    async def open(self, url: str, *, width: int = 1280, height: int = 1600) -> None:
        """Enable the event domains, size the window, load ``url`` and wait for its load event."""
        for domain in ("Runtime", "Log", "Page", "Network"):
            await self.call(f"{domain}.enable")
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        await self.call("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {expression[:60]!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        shot = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])

    def problems(self) -> list[str]:
        """Everything the page reported as wrong: exceptions, dialogs, console errors, error log entries."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                what = details.get("exception", {}).get("description") or details.get("text")
                found.append(f"uncaught: {what} (line {details.get('lineNumber')})")
            elif method == "Page.javascriptDialogOpening":
                found.append(f"dialog ({params.get('type')}): {params.get('message')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
                "warning",
            ):
                args = [a.get("value", a.get("description")) for a in params.get("args", [])]
                found.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry'].get('text')}")
        return found

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"
        ]


async def page_session(session: aiohttp.ClientSession, port: int) -> aiohttp.ClientWebSocketResponse:
    """A websocket to the browser's (only) page target, found through ``/json/list`` on loopback."""
    async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
        targets = await response.json(content_type=None)
    page = next(t for t in targets if t.get("type") == "page")
    url = page["webSocketDebuggerUrl"]
    if not url.startswith(f"ws://127.0.0.1:{port}/"):
        raise RuntimeError(f"DevTools offered a non-loopback websocket: {url}")
    return await session.ws_connect(url, max_msg_size=64 * 1024 * 1024)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError if it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
