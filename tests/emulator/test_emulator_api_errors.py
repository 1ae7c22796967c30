"""The emulator's refusals are spelled in one module: ``crawler/emulator/api_errors.py``.

Every other emulator module raises what an ``api_errors`` function returns; none builds an
``EmulatorApiError`` or passes ``denied`` a literal code itself, so the emulator's error vocabulary (status,
code, message) can be read and checked against the FC reference in one place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import crawler.emulator
from crawler.emulator import api_errors

EMULATOR = Path(crawler.emulator.__file__).resolve().parent


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def spelled_outside(root: Path = EMULATOR) -> list[str]:
    """Each ``EmulatorApiError(...)``, and each ``denied("Literal", ...)``, outside api_errors.py."""
    found = []
    for path in sorted(root.glob("*.py")):
        if path.name == "api_errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = _callee(node)
            literal_code = bool(node.args) and isinstance(node.args[0], ast.Constant)
            if name == "EmulatorApiError" or (name == "denied" and literal_code):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_emulator_module_spells_an_error_itself() -> None:
    assert spelled_outside() == []


def test_the_check_finds_an_error_spelled_in_place(tmp_path: Path) -> None:
    (tmp_path / "routes.py").write_text(
        "def f():\n    raise EmulatorApiError(404, 'FunctionNotFound', 'gone')\n"
        "def g():\n    raise denied('AccessDenied', 'no')\n"
    )
    assert spelled_outside(tmp_path) == ["routes.py:2", "routes.py:4"]


def test_the_two_gates_answer_in_their_own_api_s_codes() -> None:
    """FC 2.0 and FC 3.0 spell the same failures differently; each gate keeps its own table."""
    assert api_errors.FC2_GATE.bad_signature == "SignatureNotMatch"
    assert api_errors.FC3_GATE.bad_signature == "SignatureDoesNotMatch"
    error = api_errors.async_config_not_found("svc", "fn", "prod")
    assert (error.http, error.code, error.message) == (
        404,
        "AsyncConfigNotExists",
        "async config of svc.prod/fn does not exist",
    )
    assert api_errors.fc3_body(error, "rid") == {
        "Code": "AsyncConfigNotExists",
        "Message": "async config of svc.prod/fn does not exist",
        "RequestId": "rid",
    }
