"""The transport's boundary, checked on the source with ``ast``: the aiohttp client is imported, and its
exceptions caught, only in ``crawler.wire.transport`` (the emulator's ``aiohttp.web`` is the server side,
not the client); aiohttp's resend switch is turned off in that one place; and the FC 2.0 and FC 3.0
clients are composed over the transport, not derived from one another."""

from __future__ import annotations

import ast
from pathlib import Path

from crawler.wire.fc2_client import FcClient
from crawler.wire.fc3_client import Fc3Client

PACKAGE = Path(__file__).resolve().parents[2] / "crawler"
TRANSPORT = PACKAGE / "wire" / "transport.py"


def _client_imports(tree: ast.AST) -> list[str]:
    """The imports of aiohttp's client in one module: anything of aiohttp but ``aiohttp.web``."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                a.name for a in node.names if a.name.split(".")[0] == "aiohttp" and a.name != "aiohttp.web"
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aiohttp":
            if node.module == "aiohttp":
                found += [f"aiohttp.{a.name}" for a in node.names if a.name != "web"]
            elif not node.module.startswith("aiohttp.web"):
                found.append(node.module)
    return found


def _aiohttp_handlers(tree: ast.AST) -> int:
    """``except`` clauses naming an aiohttp exception."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
            count += "aiohttp" in names
    return count


def test_only_the_transport_uses_the_aiohttp_client() -> None:
    users: dict[str, list[str]] = {}
    catchers: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        name = str(path.relative_to(PACKAGE.parent))
        if imports := _client_imports(tree):
            users[name] = imports
        if _aiohttp_handlers(tree):
            catchers.append(name)
    assert users == {"crawler/wire/transport.py": ["aiohttp"]}
    assert catchers == ["crawler/wire/transport.py"]


def test_the_resend_switch_is_set_in_one_place() -> None:
    setting = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "_retry_connection" in path.read_text("utf-8")
    ]
    assert setting == ["crawler/wire/transport.py"]


def test_the_clients_are_composed_not_derived() -> None:
    assert Fc3Client.__mro__ == (Fc3Client, object)
    assert FcClient.__mro__ == (FcClient, object)
