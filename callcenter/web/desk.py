"""The agent desk: the ``/desk`` page and the ``/ws/desk`` WebSocket that pops the call card.

The page (``static/desk.html``, ``desk.css``, ``desk.js``; texts in ``desk.i18n.json``, Ukrainian
by default, English with ``?lang=en``) holds everything an agent works with: the state controls
(which call the ACD's own API, ``/api/agents/me/...``), the wrap-up timer, the call card and the
appeal form (which calls the appeals API). The server puts only texts into the page; every fact
on it comes from the APIs and from this socket.

The socket subscribes to the bus and forwards, for the signed-in agent only:

* ``CallOffered`` (the phone rings) as ``call_offered``, with the call's appeal record (opened at
  call arrival by the call pipeline) and the caller's earlier registered appeals, their
  statuses and deadlines, plus the name they gave last time and their applicant categories
  (7.x) as the call's priority categories;
* ``CallConnected`` / ``CallFinished`` as ``call_connected`` / ``call_finished``;
* the ACD's ``AgentStateChanged`` as ``agent_state`` (the wrap-up timer starts on ``wrap_up``,
  which carries ``wrap_up_s``, the wrap-up time of the agent's last queue, to count down from);
* ``Missed`` as ``missed``, when a slow socket lost events.

The socket checks the handshake's ``Origin`` itself (the CSRF middleware already refuses a
foreign one; this also refuses a handshake without any, since every browser sends it), so a
hostile page cannot read a caller's data through an agent's cookies.

Wiring: ``appeals_api.setup(app, repository)`` first, then ``setup(app, bus)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
from collections.abc import Callable
from datetime import datetime
from functools import cache
from string import Template
from typing import Any

from aiohttp import web

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.appeals.model import Appeal
from callcenter.appeals.repeats import normalise_phone
from callcenter.bus import EventBus, Missed
from callcenter.logs import get_logger, mask_phone
from callcenter.services.caller_categories import categories_of
from callcenter.services.live_events import (
    TOPIC_ACD,
    TOPIC_CALLS,
    CallConnected,
    CallFinished,
    CallOffered,
)
from callcenter.storage.appeals import AppealQuery, AppealRepository
from callcenter.storage.users import Role, User
from callcenter.web.agents_api import ACD_SERVICE
from callcenter.web.appeals_api import APPEAL_REPOSITORY, APPEALS_CLOCK, appeal_json, summary_json
from callcenter.web.auth import current_user, public, requires
from callcenter.web.auth_pages import LANG_COOKIE, LANGUAGES, PAGE_HEADERS, language_of
from callcenter.web.static_files import asset_response, open_page_socket, until_closed
from callcenter.web.static_files import read_static as _read

__all__ = [
    "AGENT_ID_OF",
    "EARLIER_LIMIT",
    "EVENT_BUS",
    "RECORD_WAIT_S",
    "call_offered_message",
    "routes",
    "setup",
]

log = get_logger(__name__)

EVENT_BUS: web.AppKey[EventBus] = web.AppKey("event_bus", EventBus)
#: Which ACD agent id a signed-in user is (default: the login, e.g. ``op101``).
AGENT_ID_OF: web.AppKey[Callable[[User], str]] = web.AppKey("desk_agent_id_of")

#: Earlier appeals shown on the card (the newest first).
EARLIER_LIMIT = 20
#: How long the card waits for the call's record when the ring overtakes the record's opening.
RECORD_WAIT_S = 0.5
_STATIC = {"desk.css": "text/css", "desk.js": "text/javascript"}

routes = web.RouteTableDef()


def setup(app: web.Application, bus: EventBus, *, agent_id_of: Callable[[User], str] | None = None) -> None:
    """Store the bus (and the user → agent id mapping) on ``app`` and add the desk routes."""
    app[EVENT_BUS] = bus
    app[AGENT_ID_OF] = agent_id_of or (lambda user: user.login)
    app.add_routes(routes)


@cache
def _texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(_read("desk.i18n.json"))
    return texts


# -- the page -----------------------------------------------------------------------------------


@routes.get("/desk")
@requires(Role.AGENT)
async def desk_page(request: web.Request) -> web.Response:
    """The agent desk (Ukrainian; ``?lang=en`` for English)."""
    user = current_user(request)
    lang = language_of(request)
    text = _texts()[lang]
    other = next(code for code in LANGUAGES if code != lang)
    values = {key: html.escape(value) for key, value in text.items()}
    # The script's texts travel as JSON in a non-executable block (allowed by our CSP); "<" is
    # escaped so no text can close the block.
    script_text = json.dumps(text, ensure_ascii=False).replace("<", "\\u003c")
    body = Template(_read("desk.html")).substitute(
        values,
        lang=lang,
        other_lang_code=other,
        switch_href=f"?lang={other}",
        user_name=html.escape(user.display_name or user.login),
        agent_id=html.escape(request.app[AGENT_ID_OF](user)),
        texts_json=script_text,
    )
    response = web.Response(text=body, content_type="text/html", headers=PAGE_HEADERS)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


@routes.get("/static/desk/{name}")
@public
async def desk_asset(request: web.Request) -> web.Response:
    """The desk's stylesheet and script."""
    return asset_response(request.match_info["name"], _STATIC)


# -- the socket ---------------------------------------------------------------------------------


async def _record_for(repository: AppealRepository, linkedid: str) -> Appeal | None:
    # The record opens when the call arrives, long before a ring, but the two travel different
    # paths; give it a moment rather than pop a card the agent cannot register from.
    deadline = asyncio.get_running_loop().time() + RECORD_WAIT_S
    while True:
        appeal = await repository.find_by_linkedid(linkedid)
        if appeal is not None or asyncio.get_running_loop().time() >= deadline:
            return appeal
        await asyncio.sleep(0.05)


async def _record_and_earlier(
    repository: AppealRepository, event: CallOffered, now: datetime
) -> tuple[Appeal | None, list[Appeal]]:
    appeal = await _record_for(repository, event.linkedid)
    earlier: list[Appeal] = []
    if normalise_phone(event.caller):
        found = await repository.search(
            AppealQuery(phone=event.caller, registered_only=True, limit=EARLIER_LIMIT + 1), now=now
        )
        earlier = [a for a in found if appeal is None or a.id != appeal.id][:EARLIER_LIMIT]
    return appeal, earlier


async def call_offered_message(
    repository: AppealRepository, event: CallOffered, now: datetime
) -> dict[str, Any]:
    """The card's data: the call, its appeal record, and the caller's earlier appeals.

    When the database cannot be read the card still pops with what the ring itself says (the
    agent must answer the phone either way), marked ``lookup_failed``.
    """
    lookup_failed = False
    try:
        appeal, earlier = await _record_and_earlier(repository, event, now)
    except Exception as exc:  # the ring must reach the agent even without the records
        log.warning("desk_lookup_failed", linkedid=event.linkedid, error=type(exc).__name__)
        appeal, earlier, lookup_failed = None, [], True
    known_name = next((a.applicant.full_name for a in earlier if a.applicant is not None), None)
    classifier = repository.classifier
    topic = classifier.get("topics", event.topic) if event.topic else None
    return {
        "type": "call_offered",
        "call": {
            "linkedid": event.linkedid,
            "uniqueid": event.uniqueid,
            "queue": event.queue,
            "waited_s": event.waited_s,
            "caller": event.caller,
            "language": event.language,
            "topic": event.topic,
            "topic_name": topic.name if topic else None,
            "ivr_path": list(event.ivr_path),
            "priority": event.priority,
            # The IVR knows no categories; the caller's earlier appeals do (DOMAIN: benefit
            # holders are considered first), so the card shows theirs as the priority.
            "categories": [
                {"code": code, "name": entry.name if entry else None}
                for code in dict.fromkeys([*event.categories, *categories_of(earlier, classifier)])
                for entry in [classifier.get("applicant_categories", code)]
            ],
            "is_callback": event.is_callback,
        },
        "known_name": known_name,
        "appeal": appeal_json(appeal, now) if appeal is not None else None,
        "earlier": [summary_json(a, now) for a in earlier],
        "lookup_failed": lookup_failed,
    }


async def _message_for(app: web.Application, agent_id: str, topic: str, event: Any) -> dict[str, Any] | None:
    """What the agent's socket sends for one bus event (None: not this agent's business)."""
    if isinstance(event, Missed):
        return {"type": "missed", "count": event.count}
    if isinstance(event, CallOffered) and event.agent_id == agent_id:
        return await call_offered_message(app[APPEAL_REPOSITORY], event, app[APPEALS_CLOCK]())
    if isinstance(event, CallConnected) and event.agent_id == agent_id:
        return {"type": "call_connected", "linkedid": event.linkedid, "queue": event.queue}
    if isinstance(event, CallFinished) and event.agent_id == agent_id:
        return {"type": "call_finished", "linkedid": event.linkedid, "outcome": event.outcome}
    if isinstance(event, AgentStateChanged) and event.agent_id == agent_id:
        message: dict[str, Any] = {"type": "agent_state", "state": event.state.value, "reason": event.reason}
        if event.state is AgentState.WRAP_UP:
            # The desk counts the wrap-up down from this (None: no ACD here, count up instead).
            acd = app.get(ACD_SERVICE)
            message["wrap_up_s"] = acd.wrap_up_s(agent_id) if acd is not None else None
        return message
    return None


@routes.get("/ws/desk")
@requires(Role.AGENT)
async def desk_socket(request: web.Request) -> web.StreamResponse:
    """The agent's live feed: their own ringing calls (with the card's data) and state changes."""
    ws = open_page_socket(request, "desk")
    if not isinstance(ws, web.WebSocketResponse):
        return ws
    user = current_user(request)
    agent_id = request.app[AGENT_ID_OF](user)
    await ws.prepare(request)
    reader = asyncio.create_task(until_closed(ws))
    with request.app[EVENT_BUS].subscribe({TOPIC_CALLS, TOPIC_ACD}) as subscription:
        log.info("desk_connected", agent_id=agent_id)
        try:
            await ws.send_json({"type": "hello", "agent_id": agent_id})
            while not ws.closed:
                getter = asyncio.create_task(subscription.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                topic, event = getter.result()
                message = await _message_for(request.app, agent_id, topic, event)
                if message is not None:
                    if message["type"] == "call_offered":
                        log.info(
                            "desk_card_sent",
                            agent_id=agent_id,
                            linkedid=message["call"]["linkedid"],
                            caller_masked=mask_phone(message["call"]["caller"]),
                        )
                    await ws.send_json(message)
        except ConnectionResetError:
            pass  # the page went away mid-send; nothing to tell it
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await ws.close()
            log.info("desk_disconnected", agent_id=agent_id)
    return ws
