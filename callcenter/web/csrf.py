"""Cross-site request forgery protection for cookie-authenticated requests.

Two checks, both needed because each covers what the other can miss:

* **Origin.** A state-changing request (POST/PUT/PATCH/DELETE) and every WebSocket upgrade
  whose ``Origin`` (or, lacking it, ``Referer``) names another site is refused. Browsers send
  ``Origin`` on cross-site POSTs and on every WebSocket handshake, so a forged form or a
  hostile page's socket is stopped even before a session is looked at. A request with neither
  header (curl, the CLI, tests) is not a browser being tricked and passes this check.
* **Token.** On protected routes the auth middleware puts the session's CSRF token on the
  request (``CSRF_TOKEN``); a state-changing request must then echo it in ``X-CSRF-Token``.
  The page gets it from ``/api/me`` or from the ``cc_csrf`` cookie (readable by our scripts,
  not by another site's), and the comparison is constant-time.

Public state-changing routes (only ``POST /api/login`` today) have no session to tie a token
to; they get the Origin check, and the login endpoint accepts only ``application/json``, which a
cross-site form cannot send without a CORS preflight we never grant.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

from callcenter.logs import get_logger
from callcenter.web.errors import error_response

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "CSRF_TOKEN",
    "STATE_CHANGING_METHODS",
    "TRUSTED_ORIGINS",
    "csrf_middleware",
    "is_same_origin",
]

log = get_logger(__name__)

CSRF_HEADER = "X-CSRF-Token"
#: Cookie holding the same token for the page's scripts (not HttpOnly on purpose).
CSRF_COOKIE = "cc_csrf"
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: The session's CSRF token, set by the auth middleware on protected routes.
CSRF_TOKEN: web.RequestKey[str] = web.RequestKey("cc_csrf_token", str)
#: Extra origins (``https://wallboard.example``) trusted besides the request's own host.
TRUSTED_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("cc_trusted_origins", frozenset)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port or _DEFAULT_PORTS.get(parts.scheme.lower())


def is_same_origin(request: web.Request, source: str, trusted: Iterable[str] = ()) -> bool:
    """True when ``source`` (an Origin or Referer value) is this server or a trusted origin.

    The host and port must match the request's ``Host``. The scheme is not compared: behind a
    TLS-terminating proxy the browser says ``https`` while we see ``http``.
    """
    origin = _origin_of(source)
    if origin is None:
        return False  # includes "null", sent by sandboxed frames and privacy redirects
    for allowed in trusted:
        if _origin_of(allowed) == origin:
            return True
    own = _origin_of(f"{origin[0]}://{request.host}")
    return own is not None and own[1:] == origin[1:]


def _source(request: web.Request) -> str | None:
    return request.headers.get("Origin") or request.headers.get("Referer")


def _refuse(error_id: str, message: str) -> web.Response:
    return error_response(403, error_id, message)


def _is_websocket_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse cross-site state changes and WebSocket upgrades; require the token where there is one."""
    state_changing = request.method in STATE_CHANGING_METHODS
    if state_changing or _is_websocket_upgrade(request):
        source = _source(request)
        trusted = request.app[TRUSTED_ORIGINS] if TRUSTED_ORIGINS in request.app else frozenset()
        if source is not None and not is_same_origin(request, source, trusted):
            log.warning("csrf_cross_origin_refused", method=request.method, origin=_origin_of(source))
            return _refuse("cross_origin", "requests from another site are not accepted")
    if state_changing:
        if CSRF_TOKEN in request:
            expected = request[CSRF_TOKEN]
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                log.warning("csrf_token_refused", method=request.method, present=bool(given))
                return _refuse("csrf_token", f"missing or wrong {CSRF_HEADER} header")
    return await handler(request)
