"""The emulator's JSON answers, shared by the FC 2.0 app and the FC 3.0 routes: a body, or an error in
the called API's shape (``api_errors``) with its headers and the request id every answer carries."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from crawler.emulator.api_errors import EmulatorApiError, fc2_body, fc3_body


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")


def error_response(body: dict[str, Any], exc: EmulatorApiError, request_id: str) -> web.Response:
    """``body`` (the API's error fields) with ``exc``'s status and headers and ``X-Fc-Request-Id``."""
    response = json_response(body, exc.http or 500)
    response.headers.update(exc.headers)
    response.headers["X-Fc-Request-Id"] = request_id
    return response


def api_error_response(exc: EmulatorApiError, request_id: str, *, fc3: bool) -> web.Response:
    """``exc`` answered in the called API's shape: FC 3.0's (``fc3``) or FC 2.0's."""
    body = fc3_body(exc, request_id) if fc3 else fc2_body(exc)
    return error_response(body, exc, request_id)
