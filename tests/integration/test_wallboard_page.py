"""The wallboard page in both languages: Ukrainian by default, English on request, the same keys in
each, nothing left unrendered, and its KPI names the analytics page's."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcenter.web.static_files import read_static
from tests.integration.i18n_support import assert_same_keys_and_placeholders
from tests.integration.test_auth_support import sign_in
from tests.integration.test_wallboard_support import add_people, make_wallboard_app

#: Wallboard column → the analytics page's word for the same KPI (analytics.i18n.json).
SAME_AS_ANALYTICS = {
    "col_offered": "col_offered",
    "col_answered": "col_answered",
    "col_abandoned": "col_abandoned",
    "col_asa": "col_period_asa",
    "col_aht": "col_period_aht",
}


def test_wallboard_texts_have_the_same_keys_and_placeholders() -> None:
    """wallboard.i18n.json has the same keys and placeholders in Ukrainian and English, and names
    the KPIs as the analytics page does, in both languages' sense (Пропущено, not Втрачено)."""
    texts = json.loads(read_static("wallboard.i18n.json"))
    assert_same_keys_and_placeholders(texts)
    analytics = json.loads(read_static("analytics.i18n.json"))["uk"]
    for key, analytics_key in SAME_AS_ANALYTICS.items():
        assert texts["uk"][key] == analytics[analytics_key], key
    assert texts["uk"]["col_service_level"].startswith(analytics["col_service_level"])
    assert "Втрачено" not in json.dumps(texts, ensure_ascii=False)


async def test_wallboard_page_in_both_languages(db_pool: Any) -> None:
    """/wallboard renders fully in Ukrainian by default and in English with ?lang=en (remembered by
    the cc_lang cookie); the switch asks for the other language; the script gets the page's words."""
    await add_people(db_pool)
    board = make_wallboard_app(db_pool)
    async with TestClient(TestServer(board.app)) as client:
        await sign_in(client, "u-supervisor")
        pages = {}
        for lang in ("uk", "en"):
            page = await client.get(f"/wallboard?lang={lang}")
            assert page.status == 200
            text = await page.text()
            pages[lang] = text
            assert f'<html lang="{lang}">' in text and "${" not in text
            block = re.search(r'<script type="application/json" id="wallboard-texts">(.*?)</script>', text)
            assert block is not None
            assert json.loads(block.group(1)) == json.loads(read_static("wallboard.i18n.json"))[lang]
            assert not re.search(r"\{[a-z_]+\}", text.replace(block.group(0), "")), lang
        uk, en = pages["uk"], pages["en"]
        for words in (
            "<h1>Табло черг</h1>",
            '<th scope="col" data-field="abandoned">Пропущено</th>',
            '<th scope="col" data-field="offered">Надійшло</th>',
            '<input type="hidden" name="lang" value="en"><button id="lang-switch" type="submit" lang="en">English</button>',
        ):
            assert words in uk, words
        assert "Втрачено" not in uk
        for words in (
            "<h1>Queue board</h1>",
            '<th scope="col" data-field="abandoned">Abandoned</th>',
            '<th scope="col" data-field="asa">ASA</th>',
            '<input type="hidden" name="lang" value="uk"><button id="lang-switch" type="submit" lang="uk">Українською</button>',
        ):
            assert words in en, words
        # The last choice (English) is remembered.
        again = await (await client.get("/wallboard")).text()
        assert '<html lang="en">' in again
