"""The public appeal form's API against PostgreSQL: submit, validation, anti-abuse, status check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.storage.appeals import AppealRepository
from callcenter.web import public_appeals
from callcenter.web.public_appeals_guard import (
    Challenge,
    GuardSettings,
    leading_zero_bits,
    solve,
    work_digest,
)
from tests.integration.test_auth_support import make_app

Client = TestClient[Any, Any]
#: Monday 2 March 2026, 12:00 in Kyiv.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
GUARD = GuardSettings(difficulty=8, min_fill_s=3.0, submissions_per_hour=4, status_checks_per_window=5)


@dataclass
class Seconds:
    """The guard's clock, moved by the test."""

    value: float = 1_000_000.0

    def __call__(self) -> float:
        return self.value


@dataclass
class Bundle:
    client: Client
    pool: Any
    seconds: Seconds
    state: public_appeals.PublicAppeals


@pytest.fixture
async def bundle(db_pool: Any) -> AsyncIterator[Bundle]:
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    app = make_app(db_pool)
    seconds = Seconds()
    state = public_appeals.setup(
        app, AppealRepository(db_pool), db_pool, guard=GUARD, now=lambda: NOW, seconds=seconds
    )
    async with TestClient(TestServer(app)) as client:
        yield Bundle(client, db_pool, seconds, state)


def appeal_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "application",
        "surname": "Коваленко",
        "given_name": "Ганна",
        "patronymic": "Петрівна",
        "residence": "м. Дніпро, вул. Січеславська Набережна, 5, кв. 12",
        "email": "hanna.kovalenko@example.com",
        "phone": "067 123 45 67",
        "essence": "Прошу перерахувати пенсію з урахуванням стажу.",
        "topic_code": "106",
        "categories": ["7.5"],
        "website": "",
    }
    body.update(overrides)
    return body


async def solved(bundle: Bundle) -> dict[str, Any]:
    """A fresh challenge from the API with its work done, aged past the minimum fill time."""
    response = await bundle.client.get("/api/public/challenge")
    assert response.status == 200
    data = await response.json()
    solution = solve(Challenge(data["token"], data["difficulty"]))
    bundle.seconds.value += 5
    return {"challenge": data["token"], "solution": solution}


async def test_submit_registers_a_web_appeal_with_number_and_term(bundle: Bundle) -> None:
    """A valid submission is registered like an agent's: number, 15-day term, channel web, form 1.1."""
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **await solved(bundle)})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body == {
        "number": "ЗВ-2026-000001",
        "status": "registered",
        "registered_on": "2026-03-02",
        "due": "2026-03-17",
        "channel": "web",
    }
    row = await bundle.pool.fetchrow("SELECT * FROM appeals WHERE number = $1", body["number"])
    assert row["channel"] == "web" and row["receipt_form"] == "1.1"
    assert row["linkedid"].startswith("web:") and row["caller"] is None and row["dnid"] is None
    assert row["email"] == "hanna.kovalenko@example.com" and row["applicant_phone_digits"] == "380671234567"
    assert row["priority"] is True and row["registered_by"] == "web" and row["sign"] == "2.1"
    actions = [
        r["action"]
        for r in await bundle.pool.fetch(
            "SELECT action FROM audit_log WHERE subject = $1 ORDER BY id", f"appeal:{row['id']}"
        )
    ]
    assert actions == ["appeal.web_received", "appeal.registered"]


async def test_every_bad_field_is_named_and_nothing_is_stored(bundle: Bundle) -> None:
    """Missing ПІБ, e-mail and phone and a bad topic come back together; no record is left."""
    proof = await solved(bundle)
    body = appeal_body(surname="", email="", phone="", topic_code="999", given_name="Ганна1")
    response = await bundle.client.post("/api/public/appeals", json={**body, **proof})
    assert response.status == 400
    details = (await response.json())["details"]
    assert list(details["problems"]) == ["surname", "given_name", "email", "phone", "topic_code"]
    assert details["field"] == "surname"
    assert await bundle.pool.fetchval("SELECT count(*) FROM appeals") == 0
    # The same work is good for the corrected form.
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **proof})
    assert response.status == 201


async def test_honeypot_fast_unsolved_and_replayed_forms_are_refused(bundle: Bundle) -> None:
    """A filled honeypot, a form sent at once, a wrong solution and a replay each get their own error."""
    proof = await solved(bundle)
    response = await bundle.client.post(
        "/api/public/appeals", json={**appeal_body(website="spam.example"), **proof}
    )
    assert (response.status, (await response.json())["error_id"]) == (400, "rejected")

    fresh = await (await bundle.client.get("/api/public/challenge")).json()
    fast = {"challenge": fresh["token"], "solution": solve(Challenge(fresh["token"], fresh["difficulty"]))}
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **fast})
    assert (response.status, (await response.json())["error_id"]) == (400, "too_fast")

    wrong = await solved(bundle)
    wrong["solution"] += 1
    while leading_zero_bits(work_digest(wrong["challenge"], wrong["solution"])) >= GUARD.difficulty:
        wrong["solution"] += 1  # the neighbour must really not be a solution at this difficulty
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **wrong})
    assert (response.status, (await response.json())["error_id"]) == (400, "challenge_unsolved")

    forged = dict(proof, challenge=proof["challenge"][:-2] + "xx")
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **forged})
    assert (response.status, (await response.json())["error_id"]) == (400, "challenge_invalid")
    assert await bundle.pool.fetchval("SELECT count(*) FROM appeals") == 0


async def test_replayed_and_rate_limited_submissions(bundle: Bundle) -> None:
    """A spent token cannot be sent again, and the per-address limit (4 an hour) answers 429."""
    proof = await solved(bundle)
    assert (await bundle.client.post("/api/public/appeals", json={**appeal_body(), **proof})).status == 201
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **proof})
    assert (response.status, (await response.json())["error_id"]) == (400, "challenge_reused")
    for _ in range(2):
        assert (
            await bundle.client.post("/api/public/appeals", json={**appeal_body(), **await solved(bundle)})
        ).status == 201
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **await solved(bundle)})
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    assert (await response.json())["error_id"] == "too_many_requests"
    assert await bundle.pool.fetchval("SELECT count(*) FROM appeals WHERE channel = 'web'") == 3


async def test_status_check_needs_number_and_phone_and_reveals_only_the_status(bundle: Bundle) -> None:
    """The right pair shows status and terms only; a wrong phone or number is the same 404."""
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **await solved(bundle)})
    number = (await response.json())["number"]
    response = await bundle.client.post(
        "/api/public/appeals/status", json={"number": number, "phone": "+38 (067) 123-45-67"}
    )
    assert response.status == 200
    assert await response.json() == {
        "number": number,
        "status": "registered",
        "kind": "application",
        "registered_on": "2026-03-02",
        "due": "2026-03-17",
        "extended": False,
    }
    wrong_phone = await bundle.client.post(
        "/api/public/appeals/status", json={"number": number, "phone": "0500000000"}
    )
    wrong_number = await bundle.client.post(
        "/api/public/appeals/status", json={"number": "ЗВ-2026-000099", "phone": "0671234567"}
    )
    assert wrong_phone.status == wrong_number.status == 404
    assert await wrong_phone.json() == await wrong_number.json()
    bad = await bundle.client.post(
        "/api/public/appeals/status", json={"number": "123", "phone": "0671234567"}
    )
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "number"
    limited = await bundle.client.post(
        "/api/public/appeals/status", json={"number": number, "phone": "0671234567"}
    )
    assert limited.status == 200
    limited = await bundle.client.post(
        "/api/public/appeals/status", json={"number": number, "phone": "0671234567"}
    )
    assert limited.status == 429


async def test_form_choices_page_and_json_only(bundle: Bundle) -> None:
    """The form lists the classifier's kinds, topics and categories; the page is Ukrainian (English on request); forms need JSON."""
    form = await (await bundle.client.get("/api/public/form")).json()
    assert [k["code"] for k in form["kinds"]] == ["proposal", "application", "complaint"]
    assert form["kinds"][2]["name"] == "Скарга"
    assert {"code": "106", "name": "Соціальний захист"} in form["topics"]
    assert any(c["code"] == "7.5" for c in form["categories"])
    assert form["challenge"]["difficulty"] == GUARD.difficulty
    page = await bundle.client.get("/zvernennia")
    assert page.status == 200 and '<html lang="uk">' in await page.text()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in page.headers
    english = await (await bundle.client.get("/zvernennia?lang=en")).text()
    assert '<html lang="en">' in english and "<h1>Electronic appeal</h1>" in english
    assert '<html lang="uk">' in await (await bundle.client.get("/zvernennia?lang=xx")).text()
    assert (await bundle.client.get("/static/public/public.i18n.json")).status == 404
    assert (await bundle.client.get("/static/public/public.js")).status == 200
    assert (await bundle.client.get("/static/public/other.js")).status == 404
    response = await bundle.client.post("/api/public/appeals", data="surname=x")
    assert response.status == 415


async def test_a_failed_registration_leaves_no_empty_record(bundle: Bundle, db_pool: Any) -> None:
    """When registering fails after the record was opened, the record is removed and the error is 500."""

    class FailingRepository(AppealRepository):
        async def register(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database went away mid-registration")

    bundle.state.repository = FailingRepository(db_pool)
    response = await bundle.client.post("/api/public/appeals", json={**appeal_body(), **await solved(bundle)})
    assert response.status == 500
    assert await bundle.pool.fetchval("SELECT count(*) FROM appeals") == 0


async def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address(bundle: Bundle) -> None:
    """Behind a trusted proxy each client has its own budget, keyed by the proxy's hop, not the spoofable first."""
    body = {"number": "ЗВ-2026-000001", "phone": "0671234567"}

    async def check_status(forwarded: str) -> int:
        response = await bundle.client.post(
            "/api/public/appeals/status", json=body, headers={"X-Forwarded-For": forwarded}
        )
        return response.status

    bundle.state.trusted_proxies = frozenset({"127.0.0.1"})
    first = [await check_status("10.9.9.9, 203.0.113.7") for _ in range(GUARD.status_checks_per_window + 1)]
    assert first == [404] * GUARD.status_checks_per_window + [429]
    # Another client writing the first one's address as its own first hop is not blocked by it.
    assert await check_status("203.0.113.7, 198.51.100.9") == 404
    # Without trusted proxies the header is ignored: the connection's own address counts.
    bundle.state.trusted_proxies = frozenset()
    assert await check_status("203.0.113.7") == 404
