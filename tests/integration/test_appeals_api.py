"""The appeals REST API against PostgreSQL: registration, search, lifecycle, callbacks, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.storage.users import Role
from callcenter.web.auth import Access
from tests.integration.test_appeals_api_support import (
    AUTHORITY,
    START,
    AppealsApp,
    add_staff,
    make_appeals_app,
    open_call,
    registration_body,
)
from tests.integration.test_auth_support import sign_in
from tests.integration.test_web_routes_roles import roles_below, walk

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}
CALLER = "+380 50 123 45 67"


@pytest.fixture
async def setup(db_pool: Any) -> AppealsApp:
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    await add_staff(db_pool)
    return make_appeals_app(db_pool)


@pytest.fixture
async def client(setup: AppealsApp) -> AsyncIterator[Client]:
    async with TestClient(TestServer(setup.app)) as test_client:
        yield test_client


async def as_user(client: Client, login: str) -> dict[str, str]:
    """Sign ``login`` in on ``client``; the headers its state-changing requests need."""
    client.session.cookie_jar.clear()
    return {**JSON, "X-CSRF-Token": await sign_in(client, login)}


async def register(client: Client, setup: AppealsApp, linkedid: str, **overrides: Any) -> dict[str, Any]:
    """Open a call's record and register it through the API as the agent."""
    appeal_id = await open_call(setup.repository, linkedid, CALLER, START - timedelta(minutes=5))
    headers = await as_user(client, "u-agent")
    response = await client.post(
        f"/api/appeals/{appeal_id}/register", json=registration_body(**overrides), headers=headers
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_register_assigns_number_and_terms_and_stores_them(client: Client, setup: AppealsApp) -> None:
    """Registering answers with the number and the 15-day term, and the row says the same."""
    body = await register(client, setup, "L-reg")
    assert body["number"] == "ЗВ-2026-000001"
    assert (body["status"], body["kind"], body["due"], body["forward_due"]) == (
        "registered",
        "complaint",
        "2026-03-17",
        "2026-03-07",
    )
    assert body["registered_by"] == "u-agent"
    assert body["applicant"]["phone"] == CALLER  # the caller's number when none was typed
    row = await setup.repository.find_by_linkedid("L-reg")
    assert row is not None and row.number == "ЗВ-2026-000001" and str(row.due) == "2026-03-17"


async def test_registration_names_every_bad_field(client: Client, setup: AppealsApp) -> None:
    """A form without names and with an unknown topic gets 400 listing each field, first one named."""
    appeal_id = await open_call(setup.repository, "L-bad", CALLER, START)
    headers = await as_user(client, "u-agent")
    body = registration_body(surname="", patronymic=None, topic_code="999")
    response = await client.post(f"/api/appeals/{appeal_id}/register", json=body, headers=headers)
    assert response.status == 400
    error = await response.json()
    assert error["error_id"] == "invalid_input"
    assert error["details"]["field"] == "surname"
    assert set(error["details"]["problems"]) == {"surname", "patronymic", "topic_code"}
    wrong_type = await client.post(
        f"/api/appeals/{appeal_id}/register", json=registration_body(categories="7.1"), headers=headers
    )
    assert (await wrong_type.json())["details"]["field"] == "categories"
    stray = await client.post(
        f"/api/appeals/{appeal_id}/register", json=registration_body(colour="red"), headers=headers
    )
    assert (await stray.json())["details"] == {"field": "colour"}


async def test_register_twice_is_refused_with_409(client: Client, setup: AppealsApp) -> None:
    """A record already registered cannot be registered again (the lifecycle refuses it)."""
    body = await register(client, setup, "L-twice")
    headers = await as_user(client, "u-agent")
    again = await client.post(
        f"/api/appeals/{body['id']}/register", json=registration_body(), headers=headers
    )
    assert again.status == 409
    assert (await again.json())["error_id"] == "illegal_transition"


async def test_search_by_each_filter(client: Client, setup: AppealsApp) -> None:
    """Number, phone (any formatting), name, status, topic, authority and overdue each narrow the list."""
    first = await register(client, setup, "L-s1", topic_code="109")
    second = await register(client, setup, "L-s2", surname="Коваленко", topic_code="106", categories=["7.1"])
    sup = await as_user(client, "u-supervisor")
    sent = await client.post(
        f"/api/appeals/{second['id']}/actions/send", json={"authority": AUTHORITY}, headers=sup
    )
    assert sent.status == 200
    await open_call(setup.repository, "L-s3", "0441112233", START)  # a call record, not registered
    await as_user(client, "u-agent")

    async def numbers(**query: str) -> list[str | None]:
        response = await client.get("/api/appeals", params=query, headers=JSON)
        assert response.status == 200, await response.text()
        return sorted((item["number"] or "-") for item in (await response.json())["items"])

    assert await numbers(number=first["number"]) == [first["number"]]
    assert await numbers(phone="0501234567") == sorted([first["number"], second["number"]])
    assert await numbers(phone="044 111 22 33") == ["-"]
    assert await numbers(name="коваленко м") == [second["number"]]
    assert await numbers(status="sent_to_authority") == [second["number"]]
    assert await numbers(topic="109") == [first["number"]]
    assert await numbers(authority=AUTHORITY) == [second["number"]]
    assert await numbers(registered="true") == sorted([first["number"], second["number"]])
    assert await numbers(overdue="true") == []
    setup.clock.advance(timedelta(days=20))
    assert await numbers(overdue="true") == sorted([first["number"], second["number"]])
    overdue = await client.get("/api/appeals/overdue", headers=JSON)
    items = (await overdue.json())["items"]
    assert [i["number"] for i in items] == [second["number"], first["number"]]  # the priority one first
    assert all(i["overdue"] for i in items)


async def test_search_parameters_are_checked(client: Client, setup: AppealsApp) -> None:
    """A bad status, overdue flag, limit or term is a 400 naming the parameter."""
    await as_user(client, "u-agent")
    for query, field in [
        ({"status": "lost"}, "status"),
        ({"overdue": "yes"}, "overdue"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"phone": "---"}, "phone"),
    ]:
        response = await client.get("/api/appeals", params=query, headers=JSON)
        assert response.status == 400, query
        assert (await response.json())["details"]["field"] == field
    term = await client.get("/api/appeals/overdue", params={"term": "soon"}, headers=JSON)
    assert (await term.json())["details"]["field"] == "term"


async def test_lifecycle_through_the_roles(client: Client, setup: AppealsApp) -> None:
    """Supervisor sends, the authority takes and answers, the supervisor closes; wrong roles get 403."""
    appeal = await register(client, setup, "L-life")
    path = f"/api/appeals/{appeal['id']}/actions"
    agent = await as_user(client, "u-agent")
    refused = await client.post(f"{path}/send", json={"authority": AUTHORITY}, headers=agent)
    assert refused.status == 403 and (await refused.json())["details"] == {"action": "send"}

    sup = await as_user(client, "u-supervisor")
    missing = await client.post(f"{path}/send", json={}, headers=sup)
    assert missing.status == 400 and (await missing.json())["details"]["field"] == "authority"
    sent = await client.post(f"{path}/send", json={"authority": AUTHORITY}, headers=sup)
    assert (await sent.json())["status"] == "sent_to_authority"
    early_close = await client.post(f"{path}/close", json={"result_code": "9.1"}, headers=sup)
    assert early_close.status == 409

    other = await as_user(client, "u-other-authority")
    hidden = await client.post(f"{path}/take_in_work", headers=other)
    assert hidden.status == 404  # another authority's appeal does not exist for it
    assert (await client.get("/api/appeals", headers=JSON)).status == 200
    assert (await (await client.get("/api/appeals", headers=JSON)).json())["items"] == []

    authority = await as_user(client, "u-authority")
    listed = await (await client.get("/api/appeals", headers=JSON)).json()
    assert [i["id"] for i in listed["items"]] == [appeal["id"]]
    taken = await client.post(f"{path}/take_in_work", headers=authority)
    assert (await taken.json())["status"] == "in_work"
    cannot_close = await client.post(f"{path}/close", json={"result_code": "9.1"}, headers=authority)
    assert cannot_close.status == 403
    answered = await client.post(
        f"{path}/submit_answer", json={"text": "Опалення відновлено."}, headers=authority
    )
    assert (await answered.json())["allowed_actions"] == ["return_for_rework", "close"]

    sup = await as_user(client, "u-supervisor")
    closed = await client.post(f"{path}/close", json={"result_code": "9.1"}, headers=sup)
    body = await closed.json()
    assert (body["status"], body["result_code"], body["allowed_actions"]) == ("closed", "9.1", [])
    names = [e.action for e in await setup.repository.audit_trail(UUID(body["id"]))]
    assert names[-4:] == ["appeal.send", "appeal.take_in_work", "appeal.submit_answer", "appeal.close"]


async def test_consultation_and_unknown_action(client: Client, setup: AppealsApp) -> None:
    """An agent records a consultation with a topic; an unknown action or topic is a 400."""
    appeal_id = await open_call(setup.repository, "L-cons", CALLER, START)
    agent = await as_user(client, "u-agent")
    path = f"/api/appeals/{appeal_id}/actions"
    unknown = await client.post(f"{path}/fly", headers=agent)
    assert (await unknown.json())["details"] == {"field": "action"}
    bad_topic = await client.post(f"{path}/consult", json={"topic_code": "999"}, headers=agent)
    assert (await bad_topic.json())["details"] == {"field": "topic_code"}
    done = await client.post(
        f"{path}/consult", json={"note": "Пояснено порядок", "topic_code": "106"}, headers=agent
    )
    body = await done.json()
    assert (body["status"], body["kind"], body["topic_code"], body["consultation_note"]) == (
        "consultation",
        "consultation",
        "106",
        "Пояснено порядок",
    )


async def test_ids_and_csrf_are_checked(client: Client, setup: AppealsApp) -> None:
    """A malformed id is a 400 naming it, an unknown one a 404, a POST without the token a 403."""
    headers = await as_user(client, "u-agent")
    malformed = await client.get("/api/appeals/not-a-uuid", headers=JSON)
    assert (await malformed.json())["details"] == {"field": "id"}
    missing = await client.get(f"/api/appeals/{uuid4()}", headers=JSON)
    assert missing.status == 404 and (await missing.json())["error_id"] == "not_found"
    appeal_id = await open_call(setup.repository, "L-csrf", CALLER, START)
    no_token = await client.post(f"/api/appeals/{appeal_id}/register", json=registration_body(), headers=JSON)
    assert no_token.status == 403 and (await no_token.json())["error_id"] == "csrf_token"
    assert (await client.get(f"/api/appeals/{appeal_id}", headers=headers)).status == 200


async def test_callback_list_and_resolution(client: Client, setup: AppealsApp) -> None:
    """An abandoned call is on the supervisors' list; resolving it removes it, twice is a 409."""
    appeal_id = await open_call(setup.repository, "L-cb", CALLER, START, abandoned=True)
    agent = await as_user(client, "u-agent")
    assert (await client.get("/api/callback-tasks", headers=agent)).status == 403
    sup = await as_user(client, "u-supervisor")
    tasks = (await (await client.get("/api/callback-tasks", headers=sup)).json())["items"]
    assert [(t["appeal_id"], t["outcome"], t["waited_s"]) for t in tasks] == [
        (str(appeal_id), "abandoned_in_queue", 60.0)
    ]
    bad = await client.post(f"/api/callback-tasks/{appeal_id}", json={"state": "maybe"}, headers=sup)
    assert (await bad.json())["details"] == {"field": "state"}
    done = await client.post(
        f"/api/callback-tasks/{appeal_id}", json={"state": "done", "note": "Передзвонили"}, headers=sup
    )
    assert (await done.json())["callback"] == "done"
    assert (await (await client.get("/api/callback-tasks", headers=sup)).json())["items"] == []
    again = await client.post(f"/api/callback-tasks/{appeal_id}", json={"state": "done"}, headers=sup)
    assert again.status == 409


async def test_classifier_lists(client: Client, setup: AppealsApp) -> None:
    """The pickers' lists come from the classifier; an unknown list is a 404."""
    await as_user(client, "u-authority")
    lists = (await (await client.get("/api/classifier", headers=JSON)).json())["lists"]
    assert {"topics", "applicant_categories", "results"} <= set(lists)
    veteran = next(e for e in lists["applicant_categories"] if e["code"] == "7.1")
    assert veteran["priority"] is True
    one = await (await client.get("/api/classifier/results", headers=JSON)).json()
    assert one["entries"][0] == {
        "code": "9.1",
        "name": "Вирішено позитивно",
        "priority": False,
        "head_review": False,
    }
    assert (await client.get("/api/classifier/colours", headers=JSON)).status == 404


async def test_every_appeals_and_desk_route_declares_and_enforces_access(
    client: Client, setup: AppealsApp
) -> None:
    """The route walk of the roles test, over the app with the appeals and desk routes added."""
    routes = [
        (m, p, a)
        for m, p, a in walk(setup.app)
        if p.startswith(
            (
                "/api/appeals",
                "/api/callback-tasks",
                "/api/classifier",
                "/api/openapi",
                "/desk",
                "/ws/desk",
                "/static/desk",
            )
        )
    ]
    assert len(routes) == 13
    for method, path, access in routes:
        assert isinstance(access, Access), f"{method} {path} declares nothing"
        for role in Role:
            headers = await as_user(client, f"u-{role.value}")
            response = await client.request(method, path, headers=headers)
            if not access.public and role in roles_below(access):
                assert response.status == 403, f"{role} on {method} {path}: {response.status}"
            else:
                assert response.status not in (401, 403), f"{role} on {method} {path}: {response.status}"
                assert response.status < 500, f"{role} on {method} {path}: {response.status}"
        client.session.cookie_jar.clear()
        anonymous = await client.request(method, path, headers=JSON)
        assert anonymous.status == (401 if not access.public else anonymous.status)
