"""What every page module needs: its files from ``web/static``, and its WebSocket's opening checks.

One place for them, so a change (caching, a new check on sockets) reaches every page at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

from aiohttp import WSMsgType, web

from callcenter.logs import get_logger
from callcenter.web.csrf import TRUSTED_ORIGINS, is_same_origin
from callcenter.web.errors import error_response

__all__ = ["asset_response", "open_page_socket", "read_static", "until_closed"]

log = get_logger(__name__)


def read_static(name: str) -> str:
    """The text of ``callcenter/web/static/<name>`` (shipped as package data)."""
    return (resources.files("callcenter.web") / "static" / name).read_text(encoding="utf-8")


def asset_response(name: str, allowed: Mapping[str, str]) -> web.Response:
    """A page's stylesheet or script: only the names in ``allowed`` (name → content type)."""
    content_type = allowed.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(
        text=read_static(name), content_type=content_type, headers={"Cache-Control": "no-cache"}
    )


def open_page_socket(request: web.Request, page: str) -> web.WebSocketResponse | web.Response:
    """A WebSocket for ``page``'s live feed, or the error to answer instead.

    The upgrade must come from the page's own origin (or a trusted one): a cookie-authenticated
    socket opened by another site would otherwise read the feed in the user's name.
    """
    ws = web.WebSocketResponse(heartbeat=30.0)
    if not ws.can_prepare(request).ok:
        return error_response(400, "websocket_expected", "open this address as a WebSocket")
    origin = request.headers.get("Origin")
    trusted = request.app[TRUSTED_ORIGINS] if TRUSTED_ORIGINS in request.app else frozenset()
    if origin is None or not is_same_origin(request, origin, trusted):
        log.warning("socket_origin_refused", page=page, has_origin=origin is not None)
        return error_response(403, "cross_origin", f"the {page} socket opens only from the {page} page")
    return ws


async def until_closed(ws: web.WebSocketResponse) -> None:
    """Read until the page closes the socket (the pages send nothing we act on; reading answers
    pings and notices the close)."""
    async for message in ws:
        if message.type is WSMsgType.ERROR:
            break
