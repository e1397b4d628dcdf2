"""The public statistics page in both languages: Ukrainian by default, English with ``lang=en``, the
same keys in each, nothing left unrendered, the language kept in every link and the month form."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcenter.web import public_stats
from callcenter.web.static_files import read_static
from tests.integration.i18n_support import assert_same_keys_and_placeholders
from tests.integration.test_auth_support import make_app
from tests.integration.test_content_alerts import add_appeal

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_stats_texts_have_the_same_keys_and_placeholders() -> None:
    """stats.i18n.json has the same keys and placeholders in Ukrainian and English."""
    texts = json.loads(read_static("stats.i18n.json"))
    assert_same_keys_and_placeholders(texts)


async def test_stats_page_in_both_languages(db_pool: Any) -> None:
    """/stats is Ukrainian by default and English with lang=en, with the same figures, the merged
    small topics named in the page's words; links and the form keep the language; a refused month
    says why in the page's language."""
    await db_pool.execute("TRUNCATE appeals CASCADE")
    for n in range(7):
        await add_appeal(db_pool, "109", "м. Павлоград", datetime(2026, 11, 3 + n, 9, tzinfo=UTC))
    for n, topic in enumerate(("106", "106", "110", "110", "103")):  # five in topics under 5
        await add_appeal(db_pool, topic, "м. Дніпро", datetime(2026, 11, 10 + n, 9, tzinfo=UTC))
    app = make_app(db_pool)
    public_stats.setup(app, public_stats.PublicStatsState(now=lambda: NOW))
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/stats?month=2026-11")
        uk = await page.text()
        assert page.status == 200 and '<html lang="uk">' in uk
        for words in (
            "<title>Статистика гарячої лінії — листопад 2026 року</title>",
            "<h1>Гаряча лінія для громадян: статистика за листопад 2026 року</h1>",
            '<dt>Зареєстровано звернень</dt><dd id="appeals">12</dd>',
            '<dd id="closed">менше 5</dd>',
            "<tr><td>109</td><td>Комунальне господарство</td><td>7</td></tr>",
            "<tr><td>інші</td><td>Інші теми</td><td>5</td></tr>",
            '<input type="hidden" name="lang" value="uk">',
            '<a id="previous" href="/stats?month=2026-10">попередній місяць</a>',
            '<a id="lang-switch" href="/stats?month=2026-11&amp;lang=en" lang="en">English</a>',
        ):
            assert words in uk, words
        page = await client.get("/stats?month=2026-11&lang=en")
        en = await page.text()
        assert page.status == 200 and '<html lang="en">' in en
        for words in (
            "<h1>Citizens&#x27; hotline: statistics for 2026-11</h1>",
            '<dt>Appeals registered</dt><dd id="appeals">12</dd>',
            '<dd id="closed">fewer than 5</dd>',
            "<tr><td>other</td><td>Other topics</td><td>5</td></tr>",
            '<input type="hidden" name="lang" value="en">',
            '<a id="previous" href="/stats?month=2026-10&amp;lang=en">previous month</a>',
            '<a id="lang-switch" href="/stats?month=2026-11" lang="uk">Українською</a>',
        ):
            assert words in en, words
        for text in (uk, en):
            assert "${" not in text and not re.search(r"\{[a-z_]+\}", text)
        assert "Зареєстровано" not in en and "Appeals registered" not in uk
        # The language is the address's only: no cookie, so a shared cache keyed by address is right.
        assert "Set-Cookie" not in page.headers
        bad = await client.get("/stats?month=2026-13")
        assert (
            bad.status == 400 and "у форматі рррр-мм (наприклад, 2026-11), а не «2026-13»" in await bad.text()
        )
        bad = await client.get("/stats?month=2027-01&lang=en")
        assert bad.status == 400 and "for a month that has not begun" in await bad.text()
        api = await client.get("/api/stats?month=2027-01")
        assert (await api.json())["message"] == "no statistics for a month that has not begun"
