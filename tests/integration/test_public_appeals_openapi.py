"""``openapi_authorities.yaml`` (merged over ``openapi.yaml``) against the running app: every public,
authorities and inbox route is documented, and every documented operation answers as described."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from callcenter.appeals.lifecycle import SendToAuthority
from callcenter.appeals.registration import RegistrationForm
from callcenter.services.reminders import ReminderService
from callcenter.storage.users import Role
from callcenter.web import authorities_api, authority_inbox, public_appeals
from callcenter.web.public_appeals_guard import Challenge, GuardSettings, solve
from tests.integration.test_appeals_api_support import (
    START,
    AppealsApp,
    check,
    make_appeals_app,
    open_call,
    openapi_document,
    resolve,
)
from tests.integration.test_auth_support import add_user, sign_in

Client = TestClient[Any, Any]
PREFIXES = ("/api/public", "/api/authorities", "/api/authority/")


def merged_document() -> dict[str, Any]:
    """openapi.yaml with the issue-12 additions merged in, as the lead will merge them."""
    text = (resources.files("callcenter.web") / "openapi_authorities.yaml").read_text(encoding="utf-8")
    extra: dict[str, Any] = yaml.safe_load(text)
    document = copy.deepcopy(openapi_document())
    assert not set(extra["paths"]) & set(document["paths"]), "the additions must not redefine a path"
    document["paths"].update(extra["paths"])
    for section, items in extra["components"].items():
        target = document["components"].setdefault(section, {})
        assert not set(items) & set(target), f"the additions must not redefine a component of {section}"
        target.update(items)
    return document


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId → (method, path template, operation) for the additions' operations."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        if not path.startswith(PREFIXES):
            continue
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


@dataclass
class Walk:
    bundle: AppealsApp
    client: Client
    store: Any
    appeal_id: str


@pytest.fixture
async def walk(db_pool: Any) -> AsyncIterator[Walk]:
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters, authorities, users CASCADE")
    for login, role, authority in (
        ("health", Role.AUTHORITY, "oda-health"),
        ("super", Role.SUPERVISOR, None),
        ("admin", Role.ADMIN, None),
    ):
        await add_user(db_pool, login, role, authority_id=authority)
    bundle = make_appeals_app(db_pool)
    public_appeals.setup(
        bundle.app,
        bundle.repository,
        db_pool,
        guard=GuardSettings(difficulty=4, min_fill_s=0),
        now=bundle.clock,
    )
    store = authorities_api.setup(bundle.app, db_pool, now=bundle.clock)
    authority_inbox.setup(bundle.app)
    await authorities_api.seed_shipped(store)
    appeal_id = await open_call(bundle.repository, "W-1", "0671234567", START - timedelta(minutes=3))
    form = RegistrationForm(
        kind="complaint",
        surname="Савчук",
        given_name="Ірина",
        patronymic="Олегівна",
        residence="м. Павлоград, вул. Шевченка, 3",
        essence="Відмовили у прийомі до лікаря.",
        topic_code="108",
    )
    await bundle.repository.register(appeal_id, form, actor="agent", at=START)
    await bundle.repository.transition(appeal_id, SendToAuthority("oda-health"), actor="super", at=START)
    bundle.clock.now = START + timedelta(days=16)
    await ReminderService(store).run_once(START + timedelta(days=13))
    async with TestClient(TestServer(bundle.app)) as client:
        yield Walk(bundle, client, store, str(appeal_id))


def test_every_route_of_the_additions_is_documented(walk: Walk) -> None:
    """The app's public, authorities and inbox routes and the additions' operations are the same set."""
    routes = {
        (route.method, route.resource.canonical)
        for route in walk.bundle.app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and route.resource.canonical.startswith(PREFIXES)
    }
    documented = {(method, path) for method, path, _ in operations(merged_document()).values()}
    assert routes == documented


async def test_every_operation_answers_as_documented(walk: Walk) -> None:
    """Each operation is called (success and a refusal) and each answer matches its documented schema."""
    document = merged_document()
    known = operations(document)
    client = walk.client
    challenge = await (await client.get("/api/public/challenge")).json()
    solution = solve(Challenge(challenge["token"], challenge["difficulty"]))
    web_form = {
        "kind": "proposal", "surname": "Петренко", "given_name": "Іван", "patronymic": "Іванович",
        "residence": "м. Нікополь, вул. Електрометалургів, 1", "email": "ivan@example.com",
        "phone": "0501112233", "essence": "Пропоную облаштувати пандус.", "topic_code": "110",
        "challenge": challenge["token"], "solution": solution, "website": "",
    }  # fmt: skip
    new_authority = {"id": "util-lift", "name": "КП «Ліфтсервіс»", "kind": "utility"}
    calls: list[tuple[str, str | None, str, str, int, Any]] = [
        ("publicForm", None, "GET", "/api/public/form", 200, None),
        ("publicChallenge", None, "GET", "/api/public/challenge", 200, None),
        ("submitPublicAppeal", None, "POST", "/api/public/appeals", 201, web_form),
        ("submitPublicAppeal", None, "POST", "/api/public/appeals", 400, {**web_form, "email": ""}),
        ("publicAppealStatus", None, "POST", "/api/public/appeals/status", 200,
         {"number": "ЗВ-2026-000002", "phone": "050 111 22 33"}),
        ("publicAppealStatus", None, "POST", "/api/public/appeals/status", 404,
         {"number": "ЗВ-2026-000001", "phone": "0501112233"}),
        ("listAuthorities", None, "GET", "/api/authorities", 401, None),
        ("listAuthorities", "super", "GET", "/api/authorities", 200, None),
        ("listAuthorities", "super", "GET", "/api/authorities?all=true", 403, None),
        ("createAuthority", "super", "POST", "/api/authorities", 403, new_authority),
        ("createAuthority", "admin", "POST", "/api/authorities", 201, new_authority),
        ("createAuthority", "admin", "POST", "/api/authorities", 400, {**new_authority, "kind": "x"}),
        ("updateAuthority", "admin", "PUT", "/api/authorities/util-lift", 200, {**new_authority, "active": False}),
        ("updateAuthority", "admin", "PUT", "/api/authorities/none-such", 404, {**new_authority, "id": "none-such"}),
        ("authoritiesMonitoring", "super", "GET", "/api/authorities/monitoring", 200, None),
        ("authoritiesMonitoring", "health", "GET", "/api/authorities/monitoring", 403, None),
        ("authorityOverdue", "super", "GET", "/api/authorities/oda-health/overdue", 200, None),
        ("authorityOverdue", "super", "GET", "/api/authorities/none-such/overdue", 404, None),
        ("authorityInbox", "health", "GET", "/api/authority/inbox", 200, None),
        ("authorityInbox", "health", "GET", "/api/authority/inbox?status=nope", 400, None),
        ("authorityInbox", "super", "GET", "/api/authority/inbox", 403, None),
        ("authorityAppeal", "health", "GET", f"/api/authority/appeals/{walk.appeal_id}", 200, None),
        ("authorityAppeal", "health", "GET", "/api/authority/appeals/00000000-0000-0000-0000-000000000000", 404, None),
        ("authorityAction", "health", "POST", f"/api/authority/appeals/{walk.appeal_id}/answer", 409, {"text": "x"}),
        ("authorityAction", "health", "POST", f"/api/authority/appeals/{walk.appeal_id}/take", 200, None),
        ("authorityAction", "health", "POST", f"/api/authority/appeals/{walk.appeal_id}/answer", 400, {}),
        ("authorityDeadlines", "health", "GET", "/api/authority/deadlines", 200, None),
        ("readAuthorityNotification", "health", "POST", "/api/authority/notifications/nope/read", 400, None),
        ("readAuthorityNotification", "health", "POST", "/api/authority/notifications/999999/read", 404, None),
    ]  # fmt: skip
    notification = await walk.store.notifications("oda-health")
    calls.append(
        (
            "readAuthorityNotification",
            "health",
            "POST",
            f"/api/authority/notifications/{notification[0].id}/read",
            200,
            None,
        )
    )
    assert {c[0] for c in calls} == set(known), "every operation needs a call in the walk"
    signed_as: str | None = "nobody"
    token = ""
    for operation_id, login, method, path, status, body in calls:
        if login != signed_as:
            client.session.cookie_jar.clear()
            token = await sign_in(client, login) if login else ""
            signed_as = login
        doc_method, _template, operation = known[operation_id]
        assert method == doc_method
        headers = {"X-CSRF-Token": token} if token and method != "GET" else {}
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status == status, f"{operation_id} {path}: {response.status} {await response.text()}"
        responses = operation["responses"]
        assert str(status) in responses, f"{operation_id} does not document {status}"
        ((content_type, media),) = resolve(document, responses[str(status)])["content"].items()
        assert response.content_type == content_type
        problems = check(document, media["schema"], await response.json())
        assert problems == [], f"{operation_id} {status}: {problems}"
