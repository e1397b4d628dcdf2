"""Fuzzing the HTTP API from ``openapi.yaml``: generated requests get clear errors, never a 5xx.

Every operation of the document is called many times by every role with generated path
parameters (real record ids, random UUIDs, random text), documented and undocumented query
parameters with random values, and request bodies that are random JSON values, the documented
body with fields replaced by values of the wrong kind, or not JSON at all. The app must answer
each one with a status below 500, and every refusal must be the documented error shape
``{"error_id", "message", "details"}`` with a non-empty message. The generator is seeded, so a
failure names the request that caused it and repeats.

``test_schemathesis_api.py`` runs schemathesis on every OpenAPI document (this one included),
as the one role each operation names, with bodies that are always well-formed JSON of the
documented media type. This test covers what that does not: bodies that are not JSON at all or
are sent under the wrong content type, random JSON of any kind (arrays, numbers, nesting),
undocumented query parameters, every role against every appeals operation (refusals included),
and requests without a session.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.integration.test_appeals_api_support import (
    START,
    AppealsApp,
    add_staff,
    make_appeals_app,
    open_call,
    openapi_document,
    registration_body,
    resolve,
)
from tests.integration.test_auth_support import sign_in

Client = TestClient[Any, Any]
ROLES = ("u-agent", "u-supervisor", "u-admin", "u-authority")
REQUESTS_PER_OPERATION = 40


@pytest.fixture
async def setup(db_pool: Any) -> AppealsApp:
    """The appeals app over a clean table and one user per role."""
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    await add_staff(db_pool)
    return make_appeals_app(db_pool)


@pytest.fixture
async def client(setup: AppealsApp) -> AsyncIterator[Client]:
    """A test client on the app."""
    async with TestClient(TestServer(setup.app)) as test_client:
        yield test_client


def random_text(rng: random.Random) -> str:
    """Short text mixing letters, digits, punctuation, Cyrillic, control and odd characters."""
    alphabet = string.printable + "їієґЇІЄҐщ\u0000\u200b\ufeff😀/%?#&=.."
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value (nested up to three levels)."""
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 3.5, 1e308, rng.randint(-1000, 1000)])
    if kind in (3, 4):
        return random_text(rng)
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_text(rng) or "k": random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def mutated_body(rng: random.Random, schema: dict[str, Any] | None) -> Any:
    """The documented body (a valid registration when it is one) with fields of the wrong kind."""
    body: dict[str, Any] = registration_body() if rng.random() < 0.5 else {}
    properties = (schema or {}).get("properties", {})
    for name in properties:
        if rng.random() < 0.6:
            body[name] = random_json(rng)
    if rng.random() < 0.2:
        body[random_text(rng) or "extra"] = random_json(rng)
    return body


def fill_path(rng: random.Random, template: str, ids: list[UUID]) -> str:
    """The path with each ``{param}`` replaced by a real id, a random UUID or random text."""

    def value(match: re.Match[str]) -> str:
        name, choice = match.group(1), rng.random()
        if name in ("id", "appeal_id") and choice < 0.4:
            return str(rng.choice(ids))
        if choice < 0.6:
            return str(uuid4())
        if name == "action" and choice < 0.8:
            return rng.choice(["send", "take_in_work", "extend", "consult", "close", "reopen"])
        if name == "list" and choice < 0.8:
            return rng.choice(["topics", "kinds", "categories", "colours"])
        return quote("".join(c for c in random_text(rng) if c not in "/") or "x", safe="")

    return re.sub(r"\{([a-z_]+)\}", value, template)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) for every operation in the document."""
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def body_schema(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON request body's schema, if the operation documents one."""
    request = operation.get("requestBody")
    if request is None:
        return None
    media = resolve(document, request)["content"].get("application/json")
    return resolve(document, media["schema"]) if media and "schema" in media else None


async def test_generated_requests_for_every_operation_never_get_a_5xx(
    client: Client, setup: AppealsApp
) -> None:
    """Seeded generated requests to every documented operation by every role: no 5xx, clear errors."""
    document = openapi_document()
    ids = [
        await open_call(
            setup.repository, f"F-{n}", "0671234567", START - timedelta(minutes=n), abandoned=n % 2 == 0
        )
        for n in range(4)
    ]
    rng = random.Random(20261124)
    sent = 0
    for method, template, operation in operations(document):
        schema = body_schema(document, operation)
        documented = [
            p["name"] for p in operation.get("parameters", []) if resolve(document, p)["in"] == "query"
        ]
        for _ in range(REQUESTS_PER_OPERATION):
            role = rng.choice(ROLES)
            client.session.cookie_jar.clear()
            # One request in ten has no session at all; the others sign in as the role.
            token = "" if rng.random() < 0.1 else await sign_in(client, role)
            path = fill_path(rng, template, ids)
            query = {name: random_text(rng) for name in documented if rng.random() < 0.5}
            if rng.random() < 0.2:
                query[random_text(rng) or "q"] = random_text(rng)
            kwargs: dict[str, Any] = {"params": query, "headers": {"X-CSRF-Token": token}}
            if method != "GET":
                roll = rng.random()
                if roll < 0.4:
                    kwargs["json"] = mutated_body(rng, schema)
                elif roll < 0.8:
                    kwargs["json"] = random_json(rng)
                else:
                    kwargs["data"] = random_text(rng).encode("utf-8", "surrogatepass")
                    kwargs["headers"]["Content-Type"] = rng.choice(["application/json", "text/plain"])
            what = f"{method} {path} as {role} with {json.dumps({k: v for k, v in kwargs.items() if k != 'headers'}, ensure_ascii=False, default=str)[:300]}"
            response = await client.request(method, path, **kwargs)
            text = await response.text()
            sent += 1
            assert response.status < 500, f"{what}: {response.status} {text[:300]}"
            if response.status >= 400 and response.content_type == "application/json":
                error = json.loads(text)
                assert set(error) >= {"error_id", "message", "details"}, f"{what}: {text[:300]}"
                assert isinstance(error["message"], str) and error["message"].strip(), what
    assert sent == REQUESTS_PER_OPERATION * len(operations(document))
