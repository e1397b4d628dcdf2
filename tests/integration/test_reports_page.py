"""The supervisors' analytics page: access by role, the same charts as the CLI report, clear errors,
in Ukrainian by default and in English on request."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.analytics.hours import KYIV
from callcenter.reports import DatabaseSource, build_report, parse_range, report_csv
from callcenter.reports_text import ENGLISH_TEXTS
from callcenter.storage.analytics import AnalyticsStore
from callcenter.storage.users import Role
from callcenter.web.analytics_page import AnalyticsPageState, setup_analytics
from callcenter.web.auth import route_access
from callcenter.web.static_files import read_static
from tests.integration.i18n_support import assert_same_keys_and_placeholders
from tests.integration.test_auth_support import add_user, make_app, sign_in
from tests.unit.test_reports_support import POLICY, synthetic_days

Client = TestClient[Any, Any]
NOW = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # Wednesday: the default range ends on Tuesday 3 March


@pytest.fixture
async def app(db_pool: Any) -> web.Application:
    """The real app plus the analytics page, two days of facts, and one user per relevant role."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await db_pool.execute("TRUNCATE call_facts, queue_stints, agent_legs, agent_sessions, interval_rollups")
    for role in (Role.AGENT, Role.SUPERVISOR):
        await add_user(db_pool, f"u-{role.value}", role)
    calls, sessions = synthetic_days(datetime(2026, 3, 2, tzinfo=KYIV), 2, calls=200)
    store = AnalyticsStore(db_pool, POLICY)
    await store.record_calls(calls)
    for session in sessions:
        await store.record_session(session)
    application = make_app(db_pool)
    setup_analytics(application, AnalyticsPageState(now=lambda: NOW))
    return application


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[Client]:
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_routes_declare_access(app: web.Application) -> None:
    """Every analytics route declares who may call it: data for supervisors, the stylesheet public."""
    declared = {
        route.resource.canonical: route_access(app, route)
        for route in app.router.routes()
        if route.resource is not None and "analytics" in route.resource.canonical
    }
    assert set(declared) == {"/analytics", "/analytics/export.{fmt}", "/static/analytics/analytics.css"}
    assert declared["/analytics"] is not None and declared["/analytics"].roles == {Role.SUPERVISOR}
    assert (
        declared["/static/analytics/analytics.css"] is not None
        and declared["/static/analytics/analytics.css"].public
    )


async def test_supervisor_sees_the_report_charts(client: Client, db_pool: Any) -> None:
    """A supervisor gets the same charts as the CLI's HTML, for the default range (the last 7 days, today included)."""
    await sign_in(client, "u-supervisor")
    response = await client.get("/analytics")
    assert response.status == 200
    text = await response.text()
    assert text.count('class="chart"') == 3
    assert '<html lang="uk">' in text
    assert "Навантаження й укомплектованість — уся лінія, 26.02.2026 – 04.03.2026" in text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "<script" not in text.lower()
    response = await client.get(
        "/analytics", params={"report": "hours", "from": "2026-03-02", "to": "2026-03-03", "lang": "en"}
    )
    text = await response.text()
    assert 'id="chart-heatmap"' in text and '<option value="general">general</option>' in text
    assert "Working hours — whole line, 2026-03-02 – 2026-03-03" in text


async def test_ukrainian_page_speaks_the_managers_words(client: Client, db_pool: Any) -> None:
    """In Ukrainian the KPIs carry their Ukrainian names, decimals a comma and days dd.mm.yyyy; in
    English the same figures read as the CLI's."""
    await sign_in(client, "u-supervisor")
    params = {"report": "load", "from": "2026-03-02", "to": "2026-03-03"}
    uk = await (await client.get("/analytics", params=params)).text()
    for words in (
        "Рівень обслуговування",
        "Середній час обробки",
        "Частка пропущених",
        "Прийнято",
        "Показати",
    ):
        assert words in uk, words
    report = await build_report("load", DatabaseSource(db_pool), parse_range("2026-03-02", "2026-03-03"))
    sl = report.totals.service_level
    assert sl is not None and f"{100 * sl:.1f} %".replace(".", ",") in uk
    assert "02.03 " in uk and 'id="lang-switch" href="?report=load&amp;from=2026-03-02' in uk
    en = await (await client.get("/analytics", params={**params, "lang": "en"})).text()
    assert f"{100 * sl:.1f} %" in en and "Service level" in en and "Рівень" not in en
    # The choice is remembered: the next page without ?lang= stays English.
    again = await (await client.get("/analytics", params=params)).text()
    assert '<html lang="en">' in again


async def test_both_languages_have_every_text(client: Client) -> None:
    """analytics.i18n.json has the same keys (and placeholders) in both languages, its English
    report texts are the CLI's, and every page renders with nothing left unfilled."""
    texts = json.loads(read_static("analytics.i18n.json"))
    assert_same_keys_and_placeholders(texts)
    assert {k: texts["en"][k] for k in ENGLISH_TEXTS} == ENGLISH_TEXTS
    await sign_in(client, "u-supervisor")
    for lang in ("uk", "en"):
        for params in (
            {"report": "load", "from": "2026-03-02", "to": "2026-03-03"},
            {"report": "hours", "from": "2026-03-02", "to": "2026-03-03"},
            {"report": "agents", "from": "2026-03-02", "to": "2026-03-03"},
            {"report": "agents", "from": "2026-03-05", "to": "2026-03-01"},
        ):
            text = await (await client.get("/analytics", params={**params, "lang": lang})).text()
            assert f'<html lang="{lang}">' in text
            assert "${" not in text and not re.search(r"\{[a-z_]+\}", text), (lang, params)


async def test_export_csv_is_the_cli_csv(client: Client, db_pool: Any) -> None:
    """The CSV download equals what ``callcenter report`` writes for the same range and queue."""
    await sign_in(client, "u-supervisor")
    params = {"report": "load", "from": "2026-03-02", "to": "2026-03-03", "queue": "pensions"}
    response = await client.get("/analytics/export.csv", params=params)
    assert response.status == 200
    assert 'filename="load_pensions_2026-03-02_2026-03-03.csv"' in response.headers["Content-Disposition"]
    report = await build_report(
        "load", DatabaseSource(db_pool), parse_range("2026-03-02", "2026-03-03"), "pensions"
    )
    assert await response.text() == report_csv(report)
    html = await client.get("/analytics/export.html", params=params)
    assert html.status == 200 and (await html.text()).count('class="chart"') == 3


async def test_bad_range_is_a_clear_400(client: Client) -> None:
    """A reversed or too long range, a bad date or report answers 400 with the reason in the page's
    language, and the form is still there."""
    await sign_in(client, "u-supervisor")
    response = await client.get("/analytics", params={"from": "2026-03-05", "to": "2026-03-01"})
    assert response.status == 400
    text = await response.text()
    assert "Дата «По» (01.03.2026) раніше за дату «З» (05.03.2026)." in text and 'id="report-form"' in text
    response = await client.get("/analytics", params={"from": "2025-01-01", "to": "2026-03-01"})
    assert response.status == 400 and "щонайбільше 93" in await response.text()
    response = await client.get("/analytics", params={"from": "1.3.2026", "to": "2026-03-01"})
    assert response.status == 400 and "а не «1.3.2026»" in await response.text()
    response = await client.get("/analytics", params={"report": "nope"})
    assert response.status == 400 and "Невідомий звіт «nope»" in await response.text()
    response = await client.get("/analytics", params={"from": "2026-03-05", "to": "2026-03-01", "lang": "en"})
    assert response.status == 400 and "--to 2026-03-01 is before --from 2026-03-05" in await response.text()
    response = await client.get("/analytics", params={"from": "2025-01-01", "to": "2026-03-01", "lang": "en"})
    assert response.status == 400 and "at most 93" in await response.text()
    response = await client.get("/analytics/export.csv", params={"from": "x", "to": "2026-03-01"})
    assert response.status == 400


async def test_agents_and_anonymous_callers_are_refused(client: Client) -> None:
    """An agent gets 403; a browser without a session is sent to the login page."""
    response = await client.get("/analytics", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")
    await sign_in(client, "u-agent")
    assert (await client.get("/analytics")).status == 403
    assert (await client.get("/analytics/export.csv")).status == 403
    css = await client.get("/static/analytics/analytics.css")
    assert css.status == 200 and "svg.chart" in await css.text()
