"""The error middleware: every failure leaves the web layer as ``{"error_id", "message", "details"}``.

Domain errors carry no HTTP status (``callcenter.errors``); this module is where they get one.
``ValidationError`` is a 400 naming its field; a feature maps its own errors with
``register_error(NotFound, 404, "not_found")`` at import time. Errors mapped to a 5xx status and
any exception nobody expected are logged once, here, with an incident id that the response
also carries, and the response says nothing about the internals (no traceback, no SQL, no DSN).

aiohttp's own HTTP errors (404 for an unknown path, 405, the 401/403/429 of the auth layer)
pass through; on API paths the plain-text ones are rewritten into the same JSON shape so
clients parse one format.
"""

from __future__ import annotations

import re
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from aiohttp import web

from callcenter.errors import CallcenterError, StorageError, TelephonyError, ValidationError
from callcenter.logs import get_logger, mask_phone

__all__ = ["error_middleware", "error_response", "register_error", "safe_path", "wants_json"]

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Checked most specific first (by walking the exception's MRO), so registration order is free.
_MAPPING: dict[type[BaseException], tuple[int, str]] = {
    CallcenterError: (422, "rejected"),
    ValidationError: (400, "invalid_input"),
    StorageError: (503, "storage_unavailable"),
    TelephonyError: (502, "telephony_unavailable"),
}

_LONG_DIGITS = re.compile(r"\d{7,}")


def register_error(cls: type[CallcenterError], status: int, error_id: str) -> None:
    """Answer ``cls`` (and its subclasses without a mapping of their own) with this status."""
    if not 400 <= status <= 599:
        raise ValueError(f"{status} is not an error status")
    _MAPPING[cls] = (status, error_id)


def _mapping_for(exc: BaseException) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in _MAPPING:
            return _MAPPING[cls]
    return 500, "internal"


def error_response(
    status: int,
    error_id: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The JSON error body every endpoint answers with."""
    body = {"error_id": error_id, "message": message, "details": dict(details or {})}
    return web.json_response(body, status=status, headers=headers)


def wants_json(request: web.Request) -> bool:
    """True for API calls (``/api/…``) and clients that ask for JSON rather than a page."""
    if request.path.startswith("/api/") or request.path == "/api":
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def safe_path(path: str) -> str:
    """The request path fit for a log line: long digit runs (phone numbers) masked."""
    return _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), path)


def _masked_traceback(exc: BaseException) -> str:
    # Exception texts can quote data (a driver's "Key (phone)=(380…)"), so mask digit runs here
    # instead of handing exc_info to the renderer.
    return safe_path("".join(traceback.format_exception(exc)))


def _error_id_for_status(exc: web.HTTPException) -> str:
    return re.sub(r"[^a-z0-9]+", "_", exc.reason.lower()).strip("_") or "error"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn exceptions into JSON error responses; log the unexpected ones once."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not wants_json(request) or exc.content_type == "application/json":
            raise
        headers = {
            k: v for k, v in exc.headers.items() if k.lower() not in {"content-type", "content-length"}
        }
        return error_response(exc.status, _error_id_for_status(exc), exc.reason, headers=headers)
    except CallcenterError as exc:
        status, error_id = _mapping_for(exc)
        if status >= 500:
            incident = uuid.uuid4().hex[:12]
            log.error(
                "request_failed",
                incident=incident,
                error_id=error_id,
                error=type(exc).__name__,
                method=request.method,
                path=safe_path(request.path),
                traceback=_masked_traceback(exc),
            )
            return error_response(
                status, error_id, "the service is temporarily unavailable", {"incident": incident}
            )
        details: dict[str, Any] = {}
        if isinstance(exc, ValidationError) and exc.field:
            details["field"] = exc.field
        return error_response(status, error_id, str(exc), details)
    except (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError):
        # A NUL character (U+0000) in a parameter or a JSON body: PostgreSQL cannot store it in
        # text or jsonb. Bad input, not a crash, whichever route passed it on.
        return error_response(
            400,
            "invalid_text",
            "the request contains a character that cannot be stored (NUL, U+0000)",
        )
    except Exception as exc:
        incident = uuid.uuid4().hex[:12]
        log.error(
            "request_crashed",
            incident=incident,
            error=type(exc).__name__,
            method=request.method,
            path=safe_path(request.path),
            traceback=_masked_traceback(exc),
        )
        return error_response(500, "internal", "internal error", {"incident": incident})
