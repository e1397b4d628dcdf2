"""The supervisors' wallboard and live control: ``/wallboard``, ``/ws/wallboard``, ``/api/wallboard``, ``/api/supervise/*``.

* ``GET /wallboard``: the page (``static/wallboard.html``, ``.css``, ``.js``; large type, high
  contrast, alerts in colour *and* words, no CDN). Ukrainian by default, English with
  ``?lang=en`` (remembered in the ``cc_lang`` cookie, as on the desk); the words, the script's
  included, are in ``static/wallboard.i18n.json``, the KPI names those of the analytics page.
* ``GET /ws/wallboard``: the live feed from ``LiveStats``: a full ``state`` message on connect,
  then ``update`` messages with only the queues and agents that changed (at most ~5 a second,
  never later than 0.2 s after an event). The handshake's ``Origin`` must be ours.
* ``GET /api/wallboard``: the same full state over REST (the polling fallback, and the baseline
  of ``bench/bench_wallboard.py``).
* ``POST /api/supervise/{listen|whisper|barge}`` ``{"agent_id", "phone"?}``: an Async AMI
  Originate rings the supervisor's phone (``PJSIP/<phone>``) and, once answered, runs
  ``ChanSpy(<agent's channel>,<options>)``: listen ``qE``, whisper ``qEw``, barge ``qEB``. The phone
  is the one configured for the supervisor's login, or one given in the request that is in the
  configured list; the target channel is the agent's live channel from the call tracker, else
  the prefix of the agent's device (``PJSIP/op101-``), which ChanSpy matches the same way.
* ``POST /api/supervise/move`` ``{"call_id", "queue"}`` and ``POST /api/supervise/priority``
  ``{"call_id", "priority"}``: through the ACD core's ``move_caller`` / ``set_priority``.

Pausing or logging out an agent and taking a callback are the ACD's own endpoints
(``callcenter.web.agents_api``: ``/api/agents/{id}/pause|logout``, ``/api/callbacks/{id}/take``),
which the page calls; they are audited there. Every action here is audited with
``record_audit`` under the supervisor's login.

Wiring (composition root): ``setup(app, live_stats, acd=..., ami=..., supervise=...,
channel_of=...)``; ``setup`` adds the routes and a cleanup context that starts and stops
``live_stats`` with the app (``manage=False`` when the caller runs it itself).
"""

from __future__ import annotations

import asyncio
import html
import json
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from string import Template
from typing import Any, Protocol

from aiohttp import web

from callcenter.acd.model import AgentState
from callcenter.errors import CallcenterError, ValidationError
from callcenter.logs import get_logger
from callcenter.services.acd import AcdService
from callcenter.services.live_events import TOPIC_CALLS, CallQueued
from callcenter.services.live_stats import LiveStats, WallboardClient
from callcenter.storage.audit import record_audit
from callcenter.storage.users import Role
from callcenter.telephony.dialplan_contract import spy_variables
from callcenter.web.auth import current_user, public, requires
from callcenter.web.auth_pages import LANG_COOKIE, LANGUAGES, PAGE_HEADERS, language_of
from callcenter.web.errors import error_response
from callcenter.web.keys import DB_POOL
from callcenter.web.static_files import asset_response, open_page_socket, until_closed
from callcenter.web.static_files import read_static as _read

__all__ = [
    "CHANSPY_OPTIONS",
    "LIVE_STATS",
    "SUPERVISE",
    "SpyPort",
    "SuperviseSettings",
    "chanspy_data",
    "routes",
    "setup",
]

log = get_logger(__name__)

#: ChanSpy options per mode (the same as the dialplan's spy context): ``q`` no beep, ``w`` whisper
#: to the agent, ``B`` barge (both hear), and ``E`` exit when the spied-on channel hangs up. Without
#: ``E`` ChanSpy goes on scanning for the prefix once the call ends: the supervisor's phone would
#: sit in silence (an exact channel name never comes back) or, with the device prefix, silently
#: join the agent's *next* caller, whom nobody decided to listen to.
CHANSPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}
_STATIC = {"wallboard.css": "text/css", "wallboard.js": "text/javascript"}


class SpyPort(Protocol):
    """The part of the AMI client the control endpoints use (``AmiClient.originate``)."""

    async def originate(
        self,
        channel: str,
        *,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
    ) -> str: ...


@dataclass(frozen=True)
class SuperviseSettings:
    """Supervisors' phones: login → endpoint, and every endpoint a request may name."""

    phones: Mapping[str, str] = field(default_factory=dict)
    allowed_phones: frozenset[str] = frozenset()
    ring_timeout_ms: int = 30_000

    def phone_for(self, login: str, requested: object) -> str:
        """The endpoint to ring for ``login``: the requested one if configured, else their own."""
        if requested is not None:
            if not isinstance(requested, str) or requested not in (
                self.allowed_phones | frozenset(self.phones.values())
            ):
                raise ValidationError(
                    "this phone is not one of the configured supervisor phones", field="phone"
                )
            return requested
        phone = self.phones.get(login)
        if phone is None:
            raise ValidationError("no phone is configured for you; name one", field="phone")
        return phone


@dataclass
class _Wiring:
    live: LiveStats
    acd: AcdService | None
    ami: SpyPort | None
    supervise: SuperviseSettings
    channel_of: Callable[[str], str | None]
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)


LIVE_STATS: web.AppKey[LiveStats] = web.AppKey("live_stats", LiveStats)
SUPERVISE: web.AppKey[_Wiring] = web.AppKey("wallboard_wiring", _Wiring)

routes = web.RouteTableDef()


def setup(
    app: web.Application,
    live: LiveStats,
    *,
    acd: AcdService | None = None,
    ami: SpyPort | None = None,
    supervise: SuperviseSettings | None = None,
    channel_of: Callable[[str], str | None] | None = None,
    manage: bool = True,
) -> None:
    """Store the wallboard's services on ``app`` and add its routes.

    ``channel_of(agent_id)`` names the agent's live channel (from the call tracker); without
    it the agent's device prefix is spied on. ``manage`` starts/stops ``live`` with the app.
    """
    app[LIVE_STATS] = live
    app[SUPERVISE] = _Wiring(
        live, acd, ami, supervise or SuperviseSettings(), channel_of or (lambda agent: None)
    )
    app.add_routes(routes)
    app.on_shutdown.append(_close_sockets)
    if manage:

        async def run_live(app: web.Application) -> AsyncIterator[None]:
            await live.start()
            yield
            await live.stop()

        app.cleanup_ctx.append(run_live)


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[SUPERVISE].sockets):
        await ws.close(code=1001, message=b"server shutdown")


# ---- page, feed, REST --------------------------------------------------------------------------


@cache
def _texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(_read("wallboard.i18n.json"))
    return texts


@routes.get("/wallboard")
@requires(Role.SUPERVISOR)
async def wallboard_page(request: web.Request) -> web.Response:
    """The wallboard page (its figures come from the socket; Ukrainian, ``?lang=en`` for English)."""
    lang = language_of(request)
    texts = _texts()[lang]
    # The switch is a GET form to /wallboard?lang=<other> (the board takes no other query).
    other = next(code for code in LANGUAGES if code != lang)
    # The script's texts travel as JSON in a non-executable block (allowed by the CSP); "<" is
    # escaped so no text can close the block.
    script_texts = json.dumps(texts, ensure_ascii=False).replace("<", "\\u003c")
    body = Template(_read("wallboard.html")).substitute(
        {key: html.escape(value) for key, value in texts.items()},
        lang=lang,
        other_lang_code=other,
        texts_json=script_texts,
    )
    response = web.Response(text=body, content_type="text/html", headers=PAGE_HEADERS)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


@routes.get("/static/wallboard/{name}")
@public
async def wallboard_asset(request: web.Request) -> web.Response:
    """The wallboard's stylesheet and script."""
    return asset_response(request.match_info["name"], _STATIC)


@routes.get("/api/wallboard")
@requires(Role.SUPERVISOR)
async def wallboard_state(request: web.Request) -> web.Response:
    """The full wallboard state (what the socket sends first), for polling clients."""
    live = request.app[LIVE_STATS]
    now = live.clock()
    return web.json_response({"type": "state", "at": now, "event_at": live.last_event_at, **live.state(now)})


@routes.get("/ws/wallboard")
@requires(Role.SUPERVISOR)
async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    """The live feed: a full state, then updates as queues and agents change."""
    ws = open_page_socket(request, "wallboard")
    if not isinstance(ws, web.WebSocketResponse):
        return ws
    wiring = request.app[SUPERVISE]
    await ws.prepare(request)
    wiring.sockets.add(ws)
    with wiring.live.connect() as client:
        # Two tasks for the socket's life (not one per message): one sends, one reads.
        sender = asyncio.create_task(_send_updates(ws, client))
        reader = asyncio.create_task(until_closed(ws))
        try:
            await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sender, reader):
                task.cancel()
            await asyncio.gather(sender, reader, return_exceptions=True)
            await ws.close()
    return ws


async def _send_updates(ws: web.WebSocketResponse, client: WallboardClient) -> None:
    try:
        while not ws.closed:
            await ws.send_str(await client.get())
    except ConnectionResetError:
        pass  # the screen went away mid-send


# ---- control -----------------------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the body must be JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return body


def _acd(request: web.Request) -> AcdService:
    acd = request.app[SUPERVISE].acd
    if acd is None:
        raise CallcenterError("the ACD does not run in this process")
    return acd


def chanspy_data(target: str, mode: str) -> str:
    """The ``Data`` of the ChanSpy application for ``target`` in ``mode`` (listen/whisper/barge)."""
    options = CHANSPY_OPTIONS.get(mode)
    if options is None:
        raise ValidationError(f"mode must be one of {', '.join(CHANSPY_OPTIONS)}", field="mode")
    if not target or any(c in target for c in ",|\r\n"):
        raise ValidationError("bad channel to spy on", field="agent_id")
    return f"{target},{options}"


def _spy_target(wiring: _Wiring, agent_id: str) -> str:
    channel = wiring.channel_of(agent_id)
    if channel:
        return channel
    if wiring.acd is not None:
        # The ACD notes the agent leg's channel from AMI DialBegin while it holds the call.
        for slot in wiring.acd.slots.values():
            agent_channel = getattr(slot, "agent_channel", None)
            if slot.ringing == agent_id and slot.connected and agent_channel:
                return str(agent_channel)
    if wiring.acd is None:
        raise ValidationError(f"no live channel known for agent {agent_id!r}", field="agent_id")
    state = wiring.acd.state.agent_state(agent_id) if agent_id in wiring.acd.state.config.agents else None
    if state is None:
        raise ValidationError(f"unknown agent {agent_id!r}", field="agent_id")
    if state is not AgentState.ON_CALL:
        raise ValidationError(f"agent {agent_id} is not on a call", field="agent_id")
    # ChanSpy takes a channel-name prefix; the trailing '-' keeps PJSIP/op1 from matching op10.
    return f"{wiring.acd.agent_device(agent_id)}-"


@requires(Role.SUPERVISOR)
async def supervise(request: web.Request) -> web.Response:
    """Ring the supervisor's phone into ChanSpy on the agent's call (audited)."""
    wiring = request.app[SUPERVISE]
    mode = request.path.rsplit("/", 1)[-1]
    body = await _body(request)
    agent_id = body.get("agent_id")
    if not isinstance(agent_id, str) or not agent_id:
        raise ValidationError("name the agent whose call to join", field="agent_id")
    login = current_user(request).login
    phone = wiring.supervise.phone_for(login, body.get("phone"))
    data = chanspy_data(_spy_target(wiring, agent_id), mode)
    if wiring.ami is None:
        return error_response(503, "ami_unavailable", "the telephony connection is not configured")
    action_id = await wiring.ami.originate(
        f"PJSIP/{phone}",
        application="ChanSpy",
        data=data,
        caller_id=f'"{mode} {agent_id}" <{agent_id}>',
        variables={"CC_SUPERVISOR": login, **spy_variables(mode)},
        ring_timeout_ms=wiring.supervise.ring_timeout_ms,
    )
    await record_audit(
        request.app[DB_POOL], login, f"supervise.{mode}", agent_id, {"phone_endpoint": phone, "data": data}
    )
    log.info("supervise_originated", mode=mode, agent_id=agent_id, supervisor=login)
    return web.json_response(
        {"mode": mode, "agent_id": agent_id, "data": data, "action_id": action_id}, status=202
    )


# One plain route per mode (not a regex placeholder), so each is its own entry in the route table.
for _mode in CHANSPY_OPTIONS:
    routes.post(f"/api/supervise/{_mode}")(supervise)


def _call_id(body: Mapping[str, Any]) -> str:
    call_id = body.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ValidationError("name the waiting call", field="call_id")
    return call_id


@routes.post("/api/supervise/move")
@requires(Role.SUPERVISOR)
async def move_caller(request: web.Request) -> web.Response:
    """Move a waiting caller (or pending callback) to another queue, keeping its arrival time (audited)."""
    acd = _acd(request)
    body = await _body(request)
    call_id, queue = _call_id(body), body.get("queue")
    if not isinstance(queue, str) or queue not in acd.state.config.queues:
        raise ValidationError("name a configured queue", field="queue")
    before = acd.slots[call_id].queue if call_id in acd.slots else None
    now = acd.clock()
    acd.apply(acd.state.move_caller(call_id, queue, now))
    slot = acd.slots.get(call_id)
    if slot is not None:
        # The call facts count a move as a new queue stint, announced by a CallQueued.
        acd.bus.publish(TOPIC_CALLS, CallQueued(slot.info.linkedid, queue, slot.info.priority, now))
    await record_audit(
        request.app[DB_POOL],
        current_user(request).login,
        "supervise.move",
        call_id,
        {"from": before, "to": queue},
    )
    return web.json_response({"call_id": call_id, "queue": queue})


@routes.post("/api/supervise/priority")
@requires(Role.SUPERVISOR)
async def set_priority(request: web.Request) -> web.Response:
    """Set a waiting caller's base priority (higher is served sooner; audited)."""
    acd = _acd(request)
    body = await _body(request)
    call_id, priority = _call_id(body), body.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
        raise ValidationError("priority must be a whole number from 0 to 100", field="priority")
    acd.apply(acd.state.set_priority(call_id, priority, acd.clock()))
    await record_audit(
        request.app[DB_POOL],
        current_user(request).login,
        "supervise.priority",
        call_id,
        {"priority": priority},
    )
    return web.json_response({"call_id": call_id, "priority": priority})
