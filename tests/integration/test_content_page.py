"""The content-analysis page and API: supervisors only, trends as SVG, alerts acknowledged with CSRF,
the page in Ukrainian by default and in English on request."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcenter.analytics.spikes import Spike
from callcenter.storage.content import ContentAlertStore
from callcenter.storage.surveys import SurveyResponse, SurveyStore
from callcenter.storage.users import Role
from callcenter.web import content_api
from callcenter.web.static_files import read_static
from tests.integration.i18n_support import assert_same_keys_and_placeholders
from tests.integration.test_auth_support import add_user, make_app, sign_in
from tests.integration.test_content_alerts import add_appeal

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def seed(pool: Any) -> int:
    """A few appeals, one alert and two surveys; returns the alert's id."""
    for n in range(6):
        await add_appeal(pool, "109", "м. Павлоград", NOW - timedelta(days=n % 3, hours=1))
    await add_appeal(pool, "106", "м. Дніпро", NOW - timedelta(days=1))
    [alert] = await ContentAlertStore(pool).upsert(
        [Spike("109", "Павлоград", date(2026, 11, 24), 12, 1.2, 1e-9, 1e-6, 40)], NOW
    )
    store = SurveyStore(pool)
    await store.record(SurveyResponse("post_call", "pg.1", NOW, rating=5, resolved=True, agent="op101"))
    await store.record(SurveyResponse("post_call", "pg.2", NOW, rating=3, resolved=False, agent="op101"))
    return alert.id


async def test_supervisor_sees_trends_alerts_and_surveys_and_acknowledges(db_pool: Any) -> None:
    """The page draws the trend and lists the alert; the API acknowledges it only with the CSRF token."""
    alert_id = await seed(db_pool)
    app = make_app(db_pool)
    content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
    await add_user(db_pool, "sup.content", Role.SUPERVISOR)
    await add_user(db_pool, "agent.content", Role.AGENT)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/content", allow_redirects=False)).status in (302, 303, 401)
        await sign_in(client, "agent.content")
        assert (await client.get("/api/content/alerts")).status == 403
        token = await sign_in(client, "sup.content")
        page = await client.get("/content?from=2026-11-20&to=2026-11-24&locality=Павлоград")
        text = await page.text()
        assert page.status == 200
        assert 'id="chart-trends"' in text and f'id="alert-{alert_id}"' in text and 'id="surveys"' in text
        assert "Комунальне господарство" in text and "4,00" in text  # average of 5 and 3
        english = await (await client.get("/content?from=2026-11-20&to=2026-11-24&lang=en")).text()
        assert "4.00" in english and "Average rating" in english
        trends = await (await client.get("/api/content/trends?from=2026-11-20&to=2026-11-24")).json()
        assert trends["labels"][0] == "2026-11-20" and trends["series"][0]["topic"] == "109"
        assert sum(trends["series"][0]["counts"]) == 6 and trends["localities"]["Павлоград"] == 6
        assert (await client.get("/api/content/trends?from=2026-11-25&to=2026-11-24")).status == 400

        refused = await client.post(f"/api/content/alerts/{alert_id}/ack")
        assert refused.status == 403
        done = await client.post(f"/api/content/alerts/{alert_id}/ack", headers={"X-CSRF-Token": token})
        assert done.status == 200 and (await done.json())["acknowledged_by"] == "sup.content"
        assert (await client.get("/api/content/alerts?open=1")).status == 200
        assert (await (await client.get("/api/content/alerts?open=1")).json())["alerts"] == []
        missing = await client.post("/api/content/alerts/999999/ack", headers={"X-CSRF-Token": token})
        assert missing.status == 404
        surveys = await (await client.get("/api/surveys/summary?from=2026-11-24&to=2026-11-24")).json()
        assert surveys["all"]["surveys"] == 2 and surveys["agents"]["op101"]["average_rating"] == 4.0
        script = await client.get("/static/content/content.js")
        assert script.status == 200 and "X-CSRF-Token" in await script.text()


async def test_official_report_page_and_csv_for_supervisors(db_pool: Any) -> None:
    """/reports/official gives the printable page and the CSV; a bad period is a 400."""
    for n in range(3):
        await add_appeal(db_pool, "110", "м. Покров", NOW - timedelta(days=n))
    app = make_app(db_pool)
    content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
    await add_user(db_pool, "sup.official", Role.SUPERVISOR)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "sup.official")
        page = await client.get("/reports/official?period=2026-11")
        text = await page.text()
        assert page.status == 200 and "@page { size: A4" in text and "звіт за листопад 2026 року" in text
        csv_text = await (await client.get("/reports/official.csv?period=2026-11")).text()
        appeals = await db_pool.fetchval(
            "SELECT count(*) FROM appeals WHERE number IS NOT NULL AND received_on BETWEEN '2026-11-01' AND '2026-11-30'"
        )
        assert f"total,appeals,Зареєстровані звернення,{appeals}," in csv_text and appeals > 0
        english = await (await client.get("/reports/official.csv?period=2026-11&lang=en")).text()
        assert f"total,appeals,Registered appeals,{appeals}," in english
        assert (await client.get("/reports/official?period=2026-13")).status == 400


async def test_official_report_page_in_both_languages(db_pool: Any) -> None:
    """/reports/official is Ukrainian by default and English with ?lang=en (then remembered), links
    to the other language keeping the period, renders fully in each, and its CSP lets exactly the
    report's own style block apply."""
    for n in range(6):
        await add_appeal(db_pool, "109", "м. Тернівка", NOW - timedelta(days=n))
    app = make_app(db_pool)
    content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
    await add_user(db_pool, "sup.official.lang", Role.SUPERVISOR)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "sup.official.lang")
        appeals = await db_pool.fetchval(
            "SELECT count(*) FROM appeals WHERE number IS NOT NULL AND received_on BETWEEN '2026-10-01' AND '2026-12-31'"
        )
        page = await client.get("/reports/official?period=2026-Q4")
        uk = await page.text()
        assert page.status == 200 and '<html lang="uk">' in uk
        assert "<h1>Звернення громадян — звіт за IV квартал 2026 року</h1>" in uk
        assert f"<td>Зареєстровано звернень, що надійшли 01.10.2026 – 31.12.2026</td><td>{appeals}</td>" in uk
        assert "Розгляд не завершено" in uk and "станом на 24.11.2026" in uk
        assert '<a id="lang-switch" href="?period=2026-Q4&amp;lang=en" lang="en">English</a>' in uk
        style = re.search(r"<style>(.*?)</style>", uk, re.S)
        assert style is not None
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in page.headers["Content-Security-Policy"]
        page = await client.get("/reports/official?period=2026-Q4&lang=en")
        en = await page.text()
        assert '<html lang="en">' in en and "<h1>Appeals of citizens — report for 2026-Q4</h1>" in en
        assert f"<td>Registered appeals received 2026-10-01 – 2026-12-31</td><td>{appeals}</td>" in en
        assert '<a id="lang-switch" href="?period=2026-Q4&amp;lang=uk" lang="uk">Українською</a>' in en
        for text in (uk, en):
            assert "${" not in text and not re.search(r"\{[a-z_]+\}", text)
        assert "Звернення громадян" not in en and "Not closed yet" not in uk
        # The English choice is remembered (cc_lang), as on the other supervisors' pages.
        again = await (await client.get("/reports/official?period=2026-Q4")).text()
        assert "report for 2026-Q4" in again


async def test_content_page_in_both_languages(db_pool: Any) -> None:
    """content.i18n.json has the same keys and placeholders in both languages; the page renders
    fully in each, Ukrainian by default (dd.mm.yyyy days, decimal comma, Ukrainian errors)."""
    texts = json.loads(read_static("content.i18n.json"))
    assert_same_keys_and_placeholders(texts)
    await db_pool.execute("TRUNCATE appeals, content_alerts, survey_responses CASCADE")
    await seed(db_pool)
    app = make_app(db_pool)
    content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
    await add_user(db_pool, "sup.lang", Role.SUPERVISOR)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "sup.lang")
        page = await client.get("/content?from=2026-11-20&to=2026-11-24")
        uk = await page.text()
        assert page.status == 200 and '<html lang="uk">' in uk
        for words in ("Контент-аналіз звернень", "Динаміка тем", "Підтвердити", "24.11.2026", "20.11.2026"):
            assert words in uk, words
        assert 'id="lang-switch" href="?from=2026-11-20&amp;to=2026-11-24&amp;lang=en"' in uk
        block = re.search(r'<script type="application/json" id="content-texts">(.*?)</script>', uk)
        assert block is not None and json.loads(block.group(1))["acknowledged_by"] == "підтверджено: {login}"
        weeks = await (await client.get("/content?from=2026-09-01&to=2026-11-24&granularity=week")).text()
        assert "48-й тиждень 2026" in weeks
        for lang in ("uk", "en"):
            for query in ("from=2026-11-20&to=2026-11-24", "from=2026-09-01&to=2026-11-24&granularity=week"):
                text = await (await client.get(f"/content?{query}&lang={lang}")).text()
                assert f'<html lang="{lang}">' in text
                assert "${" not in text and not re.search(r"\{[a-z_]+\}", text.split("</script>", 1)[1])
        english = await (await client.get("/content?from=2026-11-20&to=2026-11-24&lang=en")).text()
        assert "Topic trends" in english and "2026-11-24" in english and "Динаміка" not in english
        # The English choice sticks (cc_lang cookie); errors come in the page's language.
        bad = await client.get("/content?from=2026-11-25&to=2026-11-24")
        assert bad.status == 400 and "&#x27;from&#x27; is after &#x27;to&#x27;" in await bad.text()
        bad = await client.get("/content?from=2026-11-25&to=2026-11-24&lang=uk")
        assert bad.status == 400 and "Дата «З» пізніша за дату «По»." in await bad.text()
        bad = await client.get("/content?to=24.11.2026")
        assert bad.status == 400 and "а не «24.11.2026»" in await bad.text()
        bad = await client.get("/content?to=9999-12-31")
        assert bad.status == 400 and "між 01.01.1900 і 31.12.2999" in await bad.text()
        bad = await client.get("/content?from=2025-01-01&to=2026-11-24")
        assert bad.status == 400 and "щонайбільше 366 дн." in await bad.text()
        bad = await client.get("/content?granularity=month")
        assert bad.status == 400 and "лише за днями або тижнями" in await bad.text()
