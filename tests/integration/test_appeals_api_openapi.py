"""``openapi.yaml`` against the running app: every path and method is called and every answer's shape checked."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from tests.integration.test_appeals_api_support import (
    AUTHORITY,
    START,
    AppealsApp,
    add_staff,
    check,
    make_appeals_app,
    open_call,
    openapi_document,
    registration_body,
    resolve,
)
from tests.integration.test_auth_support import sign_in

Client = TestClient[Any, Any]
CALLER = "0671234567"
#: The app's routes the document must describe (the desk's page and socket are not API).
API_PREFIXES = ("/api/appeals", "/api/callback-tasks", "/api/classifier", "/api/openapi")


@dataclass
class Call:
    """One request of the walk: who sends it, where, with what, and the status it must get."""

    operation: str
    role: str | None  # None: no session
    path: str
    status: int
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@pytest.fixture
async def setup(db_pool: Any) -> AppealsApp:
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    await add_staff(db_pool)
    return make_appeals_app(db_pool)


@pytest.fixture
async def client(setup: AppealsApp) -> AsyncIterator[Client]:
    async with TestClient(TestServer(setup.app)) as test_client:
        yield test_client


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId → (method, path template, operation) for every operation in the document."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


async def scenario(client: Client, setup: AppealsApp) -> list[Call]:
    """Records in every state the walk needs, and the calls that exercise each operation."""
    repository = setup.repository
    to_register = await open_call(repository, "W-reg", CALLER, START - timedelta(minutes=3))
    to_consult = await open_call(repository, "W-cons", CALLER, START)
    abandoned = await open_call(repository, "W-cb", CALLER, START, abandoned=True)
    registered = await open_call(repository, "W-sent", CALLER, START - timedelta(days=1))
    client.session.cookie_jar.clear()
    token = await sign_in(client, "u-agent")
    response = await client.post(
        f"/api/appeals/{registered}/register",
        json=registration_body(categories=["7.1"], email="m@example.org"),
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 200, await response.text()
    a = f"/api/appeals/{registered}"
    return [
        Call("getOpenApi", None, "/api/openapi.yaml", 200),
        Call("searchAppeals", "u-agent", "/api/appeals", 200, {"phone": CALLER, "registered": "true"}),
        Call("searchAppeals", "u-agent", "/api/appeals", 200, {"name": "шевч", "topic": "109", "limit": "5"}),
        Call("searchAppeals", "u-authority", "/api/appeals", 200, {"overdue": "false"}),
        Call("searchAppeals", "u-agent", "/api/appeals", 400, {"status": "lost"}),
        Call("searchAppeals", None, "/api/appeals", 401),
        Call("overdueAppeals", "u-supervisor", "/api/appeals/overdue", 200),
        Call("overdueAppeals", "u-supervisor", "/api/appeals/overdue", 200, {"term": "forwarding"}),
        Call("overdueAppeals", "u-agent", "/api/appeals/overdue", 400, {"term": "soon"}),
        Call("getAppeal", "u-agent", a, 200),
        Call("getAppeal", "u-agent", f"/api/appeals/{abandoned}", 200),
        Call("getAppeal", "u-agent", "/api/appeals/123", 400),
        Call("getAppeal", "u-agent", f"/api/appeals/{uuid4()}", 404),
        Call("getAppeal", "u-authority", a, 404),  # not sent to its authority yet
        Call("registerAppeal", "u-agent", f"/api/appeals/{to_register}/register", 400, body={"kind": "complaint"}),
        Call("registerAppeal", "u-agent", f"/api/appeals/{to_register}/register", 200, body=registration_body()),
        Call("registerAppeal", "u-agent", f"/api/appeals/{to_register}/register", 409, body=registration_body()),
        Call("registerAppeal", "u-authority", f"/api/appeals/{to_register}/register", 403, body=registration_body()),
        Call("appealAction", "u-agent", f"{a}/actions/send", 403, body={"authority": AUTHORITY}),
        Call("appealAction", "u-supervisor", f"{a}/actions/send", 200, body={"authority": AUTHORITY}),
        Call("appealAction", "u-authority", f"{a}/actions/take_in_work", 200),
        Call("appealAction", "u-authority", f"{a}/actions/take_in_work", 409),
        Call("appealAction", "u-supervisor", f"{a}/actions/extend", 400, body={"new_due": "soon", "notice": "x"}),
        Call("appealAction", "u-agent", f"/api/appeals/{to_consult}/actions/consult", 200, body={"note": "ok"}),
        Call("appealAction", "u-agent", f"/api/appeals/{uuid4()}/actions/consult", 404, body={}),
        Call("callbackTasks", "u-supervisor", "/api/callback-tasks", 200),
        Call("callbackTasks", "u-agent", "/api/callback-tasks", 403),
        Call("resolveCallback", "u-supervisor", f"/api/callback-tasks/{abandoned}", 400, body={"state": "x"}),
        Call("resolveCallback", "u-supervisor", f"/api/callback-tasks/{abandoned}", 200, body={"state": "cancelled"}),
        Call("resolveCallback", "u-supervisor", f"/api/callback-tasks/{abandoned}", 409, body={"state": "done"}),
        Call("resolveCallback", "u-supervisor", f"/api/callback-tasks/{uuid4()}", 404, body={"state": "done"}),
        Call("classifierLists", "u-authority", "/api/classifier", 200),
        Call("classifierLists", None, "/api/classifier", 401),
        Call("classifierList", "u-agent", "/api/classifier/topics", 200),
        Call("classifierList", "u-agent", "/api/classifier/colours", 404),
    ]  # fmt: skip


def response_schema(document: dict[str, Any], operation: dict[str, Any], status: int) -> tuple[str, Any]:
    """The documented content type and schema of ``operation``'s answer with ``status``."""
    responses = operation["responses"]
    assert str(status) in responses, f"{operation['operationId']} does not document {status}"
    response = resolve(document, responses[str(status)])
    ((content_type, media),) = response["content"].items()
    return content_type, media["schema"]


async def test_document_is_served_and_is_the_file(client: Client) -> None:
    """``/api/openapi.yaml`` is public, declares OpenAPI 3.1 and is the shipped file."""
    response = await client.get("/api/openapi.yaml")
    assert response.status == 200
    assert response.content_type == "application/yaml"
    served = yaml.safe_load(await response.text())
    assert served == openapi_document()
    assert served["openapi"].startswith("3.1.")


async def test_document_and_route_table_agree(setup: AppealsApp) -> None:
    """Every documented path and method is a route, and every API route is documented."""
    documented = {(m, p) for m, p, _ in operations(openapi_document()).values()}
    served = set()
    for route in setup.app.router.routes():
        info = route.get_info()
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and path and path.startswith(API_PREFIXES):
            served.add((route.method, path))
    assert documented == served


async def test_every_operation_answers_as_documented(client: Client, setup: AppealsApp) -> None:
    """Each operation is called; its status is documented and its body has the documented shape."""
    document = openapi_document()
    known = operations(document)
    calls = await scenario(client, setup)
    assert {c.operation for c in calls} == set(known), "every operation needs a call in the walk"
    for call in calls:
        method, template, operation = known[call.operation]
        where = f"{call.operation} {method} {call.path} as {call.role}"
        assert re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), call.path), where
        documented = {
            p["name"]: p
            for p in (resolve(document, p) for p in operation.get("parameters", []))
            if p["in"] == "query"
        }
        for name, value in call.query.items():
            assert name in documented, f"{where}: query parameter {name} is not documented"
            if call.status == 200:
                schema = documented[name]["schema"]
                typed: Any = int(value) if resolve(document, schema).get("type") == "integer" else value
                assert check(document, schema, typed) == [], f"{where}: {name}={value}"
        client.session.cookie_jar.clear()
        headers = {"Accept": "application/json"}
        if call.role is not None:
            headers["X-CSRF-Token"] = await sign_in(client, call.role)
        if call.body is not None and call.status in (200, 409):
            # What we send for a success must itself be what the document describes.
            request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert check(document, request_schema, call.body) == [], where
        response = await client.request(method, call.path, params=call.query, json=call.body, headers=headers)
        assert response.status == call.status, f"{where}: {response.status} {await response.text()}"
        content_type, schema = response_schema(document, operation, call.status)
        assert response.content_type == content_type, where
        text = await response.text()
        value = await response.json() if content_type == "application/json" else yaml.safe_load(text)
        assert check(document, schema, value) == [], where


def test_checker_finds_each_kind_of_mismatch() -> None:
    """The shape checker reports wrong types, missing and extra properties, enums, formats and items."""
    document = openapi_document()
    summary = {"$ref": "#/components/schemas/AppealSummary"}
    good = {
        "id": str(uuid4()), "number": None, "status": "call_open", "kind": None,
        "arrived_at": "2026-03-02T10:00:00+00:00", "registered_at": None, "caller": None,
        "applicant_name": None, "topic_code": None, "authority": None, "due": None,
        "effective_due": None, "overdue": False, "priority": False, "call_outcome": "in_progress",
        "callback": "none",
    }  # fmt: skip
    assert check(document, summary, good) == []
    assert check(document, summary, {**good, "overdue": "no"}) != []
    assert check(document, summary, {k: v for k, v in good.items() if k != "status"}) != []
    assert check(document, summary, {**good, "secret": 1}) != []
    assert check(document, summary, {**good, "status": "lost"}) != []
    assert check(document, summary, {**good, "id": "123"}) != []
    assert check(document, summary, {**good, "due": "17.03.2026"}) != []
    listing = {"$ref": "#/components/schemas/OverdueList"}
    assert check(document, listing, {"items": [good]}) == []
    assert check(document, listing, {"items": [good, {**good, "priority": None}]}) != []
    with pytest.raises(ValueError, match="does not support"):
        check(document, {"type": "string", "pattern": "^x$"}, "x")
