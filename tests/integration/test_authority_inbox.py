"""The authority's inbox against PostgreSQL: only its own appeals, the lifecycle through its API,
reminders and the per-authority overdue views, and the admins' authority list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.appeals.lifecycle import SendToAuthority
from callcenter.appeals.registration import RegistrationForm
from callcenter.services.reminders import ReminderService, ReminderSettings
from callcenter.storage.authorities import AuthorityStore
from callcenter.storage.users import Role
from callcenter.web import authorities_api, authority_inbox
from tests.integration.test_appeals_api_support import START, AppealsApp, make_appeals_app, open_call
from tests.integration.test_auth_support import add_user, sign_in

Client = TestClient[Any, Any]
HEALTH, PENSIONS = "oda-health", "pfu-oblast"


@dataclass
class Inbox:
    bundle: AppealsApp
    store: AuthorityStore
    client: Client
    pool: Any


@pytest.fixture
async def inbox(db_pool: Any) -> AsyncIterator[Inbox]:
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters, authorities, users CASCADE")
    for login, role, authority in (
        ("health", Role.AUTHORITY, HEALTH),
        ("pensions", Role.AUTHORITY, PENSIONS),
        ("super", Role.SUPERVISOR, None),
        ("admin", Role.ADMIN, None),
        ("agent", Role.AGENT, None),
    ):
        await add_user(db_pool, login, role, authority_id=authority)
    bundle = make_appeals_app(db_pool)
    store = authorities_api.setup(bundle.app, db_pool, now=bundle.clock)
    authority_inbox.setup(bundle.app)
    assert await authorities_api.seed_shipped(store) >= 30
    async with TestClient(TestServer(bundle.app)) as client:
        yield Inbox(bundle, store, client, db_pool)


async def sent_appeal(inbox: Inbox, linkedid: str, authority: str, *, topic: str = "108") -> UUID:
    """A registered appeal sent to ``authority`` (as the agent and the supervisor would)."""
    repository = inbox.bundle.repository
    appeal_id = await open_call(repository, linkedid, "0671234567", START - timedelta(minutes=5))
    form = RegistrationForm(
        kind="application",
        surname="Бондар",
        given_name="Олег",
        patronymic="Миколайович",
        residence="м. Дніпро, вул. Робоча, 10",
        essence="Прошу направити на обстеження.",
        topic_code=topic,
    )
    await repository.register(appeal_id, form, actor="agent", at=START)
    await repository.transition(appeal_id, SendToAuthority(authority), actor="super", at=START)
    return appeal_id


async def as_user(inbox: Inbox, login: str) -> dict[str, str]:
    """Sign the client in as ``login``; the headers a state-changing request needs."""
    inbox.client.session.cookie_jar.clear()
    return {"X-CSRF-Token": await sign_in(inbox.client, login)}


async def test_authority_sees_only_its_own_appeals(inbox: Inbox) -> None:
    """The inbox lists only appeals sent to the user's authority; others are 404 to read and to act on."""
    mine = await sent_appeal(inbox, "L-mine", HEALTH)
    theirs = await sent_appeal(inbox, "L-theirs", PENSIONS, topic="106")
    headers = await as_user(inbox, "health")
    body = await (await inbox.client.get("/api/authority/inbox")).json()
    assert [i["id"] for i in body["items"]] == [str(mine)]
    assert body["authority"]["id"] == HEALTH and "охорони здоров'я" in body["authority"]["name"]
    assert body["counts"] == {"total": 1, "overdue": 0, "waiting": 1}
    assert "caller" not in body["items"][0]
    assert (await inbox.client.get(f"/api/authority/appeals/{mine}")).status == 200
    for path in (f"/api/authority/appeals/{theirs}", f"/api/appeals/{theirs}"):
        assert (await inbox.client.get(path)).status == 404
    refused = await inbox.client.post(f"/api/authority/appeals/{theirs}/take", headers=headers)
    assert refused.status == 404
    assert (await inbox.bundle.repository.get(theirs)).status.value == "sent_to_authority"
    # The centre's staff do not use this inbox.
    await as_user(inbox, "super")
    assert (await inbox.client.get("/api/authority/inbox")).status == 403


async def test_take_extend_and_answer_follow_the_lifecycle_and_audit(inbox: Inbox) -> None:
    """Taking in work, extending with a notice and answering move the appeal and are audited by login."""
    appeal_id = await sent_appeal(inbox, "L-life", HEALTH)
    headers = await as_user(inbox, "health")
    base = f"/api/authority/appeals/{appeal_id}"
    early = await inbox.client.post(f"{base}/answer", json={"text": "Відповідь"}, headers=headers)
    assert early.status == 409 and (await early.json())["error_id"] == "illegal_transition"
    taken = await inbox.client.post(f"{base}/take", headers=headers)
    assert (await taken.json())["status"] == "in_work"
    too_far = await inbox.client.post(
        f"{base}/extend",
        json={"new_due": "2026-05-30", "notice": "Потрібне додаткове вивчення."},
        headers=headers,
    )
    assert too_far.status == 409
    no_notice = await inbox.client.post(f"{base}/extend", json={"new_due": "2026-04-10"}, headers=headers)
    assert no_notice.status == 400 and (await no_notice.json())["details"]["field"] == "notice"
    extended = await inbox.client.post(
        f"{base}/extend",
        json={"new_due": "2026-04-10", "notice": "Потрібне додаткове обстеження, термін продовжено."},
        headers=headers,
    )
    body = await extended.json()
    assert (body["status"], body["due"], body["effective_due"]) == ("in_work", "2026-03-17", "2026-04-10")
    answered = await inbox.client.post(
        f"{base}/answer", json={"text": "Направлення видано 5 березня."}, headers=headers
    )
    body = await answered.json()
    assert body["status"] == "answered" and body["answer_text"] == "Направлення видано 5 березня."
    assert body["allowed_actions"] == ["return_for_rework", "close"]
    trail = [(e.action, e.actor) for e in await inbox.bundle.repository.audit_trail(appeal_id)]
    assert trail[-3:] == [
        ("appeal.take_in_work", "health"),
        ("appeal.extend", "health"),
        ("appeal.submit_answer", "health"),
    ]
    assert (await inbox.client.post(f"{base}/close", headers=headers)).status == 404


async def test_reminders_and_overdue_views_per_authority(inbox: Inbox) -> None:
    """Due-soon then overdue reminders reach only the authority concerned; the monitoring counts follow."""
    appeal_id = await sent_appeal(inbox, "L-late", HEALTH)
    await sent_appeal(inbox, "L-other", PENSIONS, topic="106")
    reminders = ReminderService(inbox.store, ReminderSettings(due_within_days=3))
    # The term ends on 17 March (Kyiv); three days before, the reminder is due.
    run = await reminders.run_once(START + timedelta(days=13))
    assert run.due_soon == {HEALTH: 1, PENSIONS: 1} and run.overdue == {} and run.raised == 2
    assert (await reminders.run_once(START + timedelta(days=13, hours=2))).raised == 0
    run = await reminders.run_once(START + timedelta(days=16))
    assert run.overdue == {HEALTH: 1, PENSIONS: 1} and run.raised == 2

    headers = await as_user(inbox, "health")
    inbox.bundle.clock.now = START + timedelta(days=16)
    body = await (await inbox.client.get("/api/authority/inbox")).json()
    assert [(n["kind"], n["term"]) for n in body["notifications"]] == [
        ("overdue", "2026-03-17"),
        ("due_soon", "2026-03-17"),
    ]
    assert body["counts"]["overdue"] == 1
    deadlines = await (await inbox.client.get("/api/authority/deadlines")).json()
    assert [(d["appeal_id"], d["overdue"]) for d in deadlines["items"]] == [(str(appeal_id), True)]
    first = body["notifications"][0]["id"]
    assert (
        await inbox.client.post(f"/api/authority/notifications/{first}/read", headers=headers)
    ).status == 200
    body = await (await inbox.client.get("/api/authority/inbox")).json()
    assert len(body["notifications"]) == 1
    headers = await as_user(inbox, "pensions")
    other = await inbox.client.post(f"/api/authority/notifications/{first}/read", headers=headers)
    assert other.status == 404

    await as_user(inbox, "super")
    monitoring = await (await inbox.client.get("/api/authorities/monitoring")).json()
    assert {(i["authority"], i["overdue"], i["due_soon"]) for i in monitoring["items"]} == {
        (HEALTH, 1, 0),
        (PENSIONS, 1, 0),
    }
    overdue = await (await inbox.client.get(f"/api/authorities/{HEALTH}/overdue")).json()
    assert [i["appeal_id"] for i in overdue["items"]] == [str(appeal_id)]
    assert (await inbox.client.get("/api/authorities/nobody/overdue")).status == 404


async def test_admins_edit_the_authority_list(inbox: Inbox) -> None:
    """Admins add, rename and retire authorities (audited); others may only read the active list."""
    headers = await as_user(inbox, "agent")
    listed = await (await inbox.client.get("/api/authorities")).json()
    assert listed["items"][0]["id"] == "oda"
    new = {
        "id": "util-heat-kr",
        "name": "КП «Криворізька тепломережа»",
        "kind": "utility",
        "parent": "city-kryvyi-rih",
    }
    assert (await inbox.client.post("/api/authorities", json=new, headers=headers)).status == 403
    headers = await as_user(inbox, "admin")
    created = await inbox.client.post("/api/authorities", json=new, headers=headers)
    assert created.status == 201 and (await created.json())["parent_id"] == "city-kryvyi-rih"
    again = await inbox.client.post("/api/authorities", json=new, headers=headers)
    assert again.status == 400 and (await again.json())["details"]["field"] == "id"
    orphan = await inbox.client.post(
        "/api/authorities", json={**new, "id": "x-orphan", "parent": "nowhere"}, headers=headers
    )
    assert orphan.status == 400 and (await orphan.json())["details"]["field"] == "parent"
    retired = await inbox.client.put(
        "/api/authorities/util-heat-kr",
        json={**new, "name": "КП «Тепломережа»", "active": False},
        headers=headers,
    )
    assert retired.status == 200
    renamed = await inbox.client.put(
        "/api/authorities/util-heat-kr", json={**new, "id": "other"}, headers=headers
    )
    assert renamed.status == 400
    active = {i["id"] for i in (await (await inbox.client.get("/api/authorities")).json())["items"]}
    everything = {
        i["id"] for i in (await (await inbox.client.get("/api/authorities?all=true")).json())["items"]
    }
    assert "util-heat-kr" not in active and "util-heat-kr" in everything
    actions = await inbox.pool.fetch(
        "SELECT action, actor, details FROM audit_log WHERE subject = 'authority:util-heat-kr' ORDER BY id"
    )
    assert [(r["action"], r["actor"]) for r in actions] == [
        ("authority.created", "admin"),
        ("authority.updated", "admin"),
    ]
    # Seeding again adds nothing and leaves the admin's edits alone.
    assert await authorities_api.seed_shipped(inbox.store) == 0
    assert (await inbox.store.get("util-heat-kr")) is not None


async def test_reminder_job_runs_periodically_until_stopped(inbox: Inbox) -> None:
    """The started job raises the reminders by itself on its interval and stops cleanly."""
    await sent_appeal(inbox, "L-job", HEALTH)
    service = ReminderService(
        inbox.store,
        ReminderSettings(due_within_days=3, interval_s=0.05),
        now=lambda: START + timedelta(days=14),
    )
    await service.start()
    try:
        for _ in range(100):
            if await inbox.store.notifications(HEALTH):
                break
            await asyncio.sleep(0.05)
        found = await inbox.store.notifications(HEALTH)
        assert [(n.kind, n.number) for n in found] == [("due_soon", "ЗВ-2026-000001")]
    finally:
        await service.stop()
    await service.stop()  # stopping twice is harmless
