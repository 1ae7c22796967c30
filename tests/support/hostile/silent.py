"""A port that accepts connections and never answers: the unreachable endpoint of issue 16 (a host
behind a firewall that swallows requests, a wrong port on a busy proxy). Not an aiohttp app: nothing
is read, nothing is written; the connections stay open until the server is closed."""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class SilentPort:
    """``with SilentPort() as port:`` ``port.endpoint`` accepts TCP connections and never answers."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._server.settimeout(0.1)
        self._accepted: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.connections = 0
        host, port = self._server.getsockname()[:2]
        #: where it listens (kept: the socket is closed on leaving)
        self.endpoint = f"http://{host}:{port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted.append(conn)
            self.connections += 1

    def __enter__(self) -> SilentPort:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        for conn in self._accepted:
            conn.close()
        self._server.close()


def closed_port() -> str:
    """An endpoint where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
