"""The agent desk's page and its WebSocket: who may open it, and what a ring puts on the card."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.bus import EventBus
from callcenter.services.live_events import TOPIC_ACD, TOPIC_CALLS, CallConnected, CallFinished, CallOffered
from tests.integration.test_appeals_api_support import (
    START,
    AppealsApp,
    add_staff,
    make_appeals_app,
    open_call,
    registration_body,
)
from tests.integration.test_auth_support import sign_in

Client = TestClient[Any, Any]
CALLER = "+380931112233"


@pytest.fixture
async def setup(db_pool: Any) -> AppealsApp:
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    await add_staff(db_pool)
    return make_appeals_app(db_pool)


@pytest.fixture
async def client(setup: AppealsApp) -> AsyncIterator[Client]:
    async with TestClient(TestServer(setup.app)) as test_client:
        yield test_client


def origin(client: Client) -> str:
    """The Origin a browser on the desk page sends."""
    return f"http://{client.server.host}:{client.server.port}"


def offered(linkedid: str, agent_id: str = "u-agent", caller: str | None = CALLER) -> CallOffered:
    """The ACD's ring event for ``agent_id``."""
    return CallOffered(
        linkedid=linkedid, uniqueid=f"{linkedid}.1", agent_id=agent_id, queue="social", waited_s=42.4,
        caller=caller, language="uk", topic="106", ivr_path=("welcome", "language:1", "topic_menu:1"),
        priority=2, categories=("7.1",), is_callback=False, at=1000.0,
    )  # fmt: skip


async def next_message(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next JSON message, within a second (the screen-pop promise)."""
    message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), timeout=1.0)
    return message


async def wait_for_subscriber(bus: EventBus, count: int = 1) -> None:
    """Until the socket's bus subscription exists."""
    for _ in range(100):
        if bus.subscriber_count >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the desk socket never subscribed")


async def test_socket_refuses_missing_or_foreign_origin_and_plain_requests(client: Client) -> None:
    """A handshake without Origin or from another site is refused; a plain GET is told to upgrade."""
    await sign_in(client, "u-agent")
    with pytest.raises(WSServerHandshakeError) as no_origin:
        await client.ws_connect("/ws/desk")
    assert no_origin.value.status == 403
    with pytest.raises(WSServerHandshakeError) as foreign:
        await client.ws_connect("/ws/desk", origin="https://evil.example")
    assert foreign.value.status == 403
    plain = await client.get("/ws/desk", headers={"Origin": origin(client)})
    assert plain.status == 400 and (await plain.json())["error_id"] == "websocket_expected"
    client.session.cookie_jar.clear()
    await sign_in(client, "u-authority")
    with pytest.raises(WSServerHandshakeError) as authority:
        await client.ws_connect("/ws/desk", origin=origin(client))
    assert authority.value.status == 403


async def test_ring_pops_the_card_with_record_and_earlier_appeals(client: Client, setup: AppealsApp) -> None:
    """Only this agent's ring is sent, with the call's record, the earlier appeals and the known name."""
    earlier_id = await open_call(setup.repository, "D-old", CALLER, START - timedelta(days=3))
    token = await sign_in(client, "u-agent")
    registered = await client.post(
        f"/api/appeals/{earlier_id}/register",
        json=registration_body(surname="Бондар", given_name="Олег", patronymic="Петрович"),
        headers={"X-CSRF-Token": token},
    )
    assert registered.status == 200
    earlier_number = (await registered.json())["number"]
    current_id = await open_call(setup.repository, "D-new", CALLER, START)

    async with client.ws_connect("/ws/desk", origin=origin(client)) as ws:
        assert await next_message(ws) == {"type": "hello", "agent_id": "u-agent"}
        await wait_for_subscriber(setup.bus)
        setup.bus.publish(TOPIC_CALLS, offered("D-other", agent_id="op999"))
        setup.bus.publish(TOPIC_CALLS, offered("D-new"))
        card = await next_message(ws)
        assert card["type"] == "call_offered"
        assert card["call"]["linkedid"] == "D-new"  # the other agent's ring was not sent
        assert card["call"]["topic_name"] == "Соціальний захист"
        assert card["call"]["categories"] == [{"code": "7.1", "name": "Учасник війни"}]
        assert card["call"]["ivr_path"] == ["welcome", "language:1", "topic_menu:1"]
        assert card["appeal"]["id"] == str(current_id)
        assert card["appeal"]["status"] == "call_open"
        assert [(e["number"], e["status"], e["effective_due"]) for e in card["earlier"]] == [
            (earlier_number, "registered", "2026-03-14")  # 27 February + 15 days
        ]
        assert card["known_name"] == "Бондар Олег Петрович"

        setup.bus.publish(TOPIC_CALLS, CallConnected("D-new", "u-agent", "social", 1001.0))
        assert await next_message(ws) == {"type": "call_connected", "linkedid": "D-new", "queue": "social"}
        setup.bus.publish(TOPIC_CALLS, CallFinished("D-new", "answered", "social", "u-agent", 1100.0))
        assert (await next_message(ws))["type"] == "call_finished"
        setup.bus.publish(TOPIC_ACD, AgentStateChanged("op999", AgentState.PAUSED, 1100.0, "lunch"))
        setup.bus.publish(TOPIC_ACD, AgentStateChanged("u-agent", AgentState.WRAP_UP, 1100.0))
        assert await next_message(ws) == {
            "type": "agent_state",
            "state": "wrap_up",
            "reason": None,
            "wrap_up_s": None,  # no ACD in this app: the desk counts up
        }


async def test_ring_from_a_withheld_number_and_a_record_not_yet_open(
    client: Client, setup: AppealsApp
) -> None:
    """A withheld number gets no earlier appeals; a ring whose record is missing pops with no record."""
    await sign_in(client, "u-agent")
    async with client.ws_connect("/ws/desk", origin=origin(client)) as ws:
        await next_message(ws)
        await wait_for_subscriber(setup.bus)
        setup.bus.publish(TOPIC_CALLS, offered("D-ghost", caller=None))
        card = await next_message(ws)
        assert (card["appeal"], card["earlier"], card["known_name"], card["lookup_failed"]) == (
            None,
            [],
            None,
            False,
        )


async def test_ring_pops_even_when_the_records_cannot_be_read(
    client: Client, setup: AppealsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database failure during the lookup still pops the card from the ring's own data, marked."""

    async def broken(linkedid: str) -> None:
        raise ConnectionResetError("database gone")

    monkeypatch.setattr(setup.repository, "find_by_linkedid", broken)
    await sign_in(client, "u-agent")
    async with client.ws_connect("/ws/desk", origin=origin(client)) as ws:
        await next_message(ws)
        await wait_for_subscriber(setup.bus)
        setup.bus.publish(TOPIC_CALLS, offered("D-broken"))
        card = await next_message(ws)
        assert card["lookup_failed"] is True and card["appeal"] is None
        assert card["call"]["caller"] == CALLER and card["call"]["topic"] == "106"


async def test_closing_the_page_ends_the_subscription(client: Client, setup: AppealsApp) -> None:
    """When the page goes, the socket's bus subscription goes with it."""
    await sign_in(client, "u-agent")
    ws = await client.ws_connect("/ws/desk", origin=origin(client))
    await next_message(ws)
    await wait_for_subscriber(setup.bus)
    await ws.close()
    for _ in range(100):
        if setup.bus.subscriber_count == 0:
            break
        await asyncio.sleep(0.01)
    assert setup.bus.subscriber_count == 0


async def test_desk_page_in_both_languages(client: Client) -> None:
    """The page is Ukrainian by default and English on request, for agents only."""
    await sign_in(client, "u-agent")
    page = await client.get("/desk")
    text = await page.text()
    assert page.status == 200 and '<html lang="uk">' in text and "Робоче місце оператора" in text
    english = await (await client.get("/desk?lang=en")).text()
    assert '<html lang="en">' in english and "Register the appeal" in english
    assert (await client.get("/static/desk/desk.js")).status == 200
    assert (await client.get("/static/desk/desk.i18n.json")).status == 404
    client.session.cookie_jar.clear()
    await sign_in(client, "u-authority")
    assert (await client.get("/desk")).status == 403
