"""The supervisors' recordings page in both languages: Ukrainian by default, English on request,
the same keys in each, nothing left unrendered."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcenter.services.retention import RetentionJob
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.recordings import RecordingRepository, RecordingStatus
from callcenter.storage.users import Role
from callcenter.web import recordings_api
from callcenter.web.static_files import read_static
from tests.integration.i18n_support import assert_same_keys_and_placeholders
from tests.integration.test_auth_support import FakeClock, add_user, make_app, sign_in


def test_recordings_texts_have_the_same_keys_and_placeholders() -> None:
    """recordings.i18n.json has the same keys and placeholders in Ukrainian and English, and a word
    for every recording status the flagged list can show."""
    texts = json.loads(read_static("recordings.i18n.json"))
    assert_same_keys_and_placeholders(texts)
    assert {f"status_{status.value}" for status in RecordingStatus} <= set(texts["uk"])


async def test_recordings_page_in_both_languages(db_pool: Any, tmp_path: Path) -> None:
    """/recordings renders fully in Ukrainian by default and in English with ?lang=en (remembered by
    the cc_lang cookie), links to the other language, and hands its script the page's words."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "sup.rec", Role.SUPERVISOR)
    clock = FakeClock()
    repo = RecordingRepository(db_pool)
    app = make_app(db_pool, clock)
    recordings_api.setup(
        app,
        recordings_api.RecordingsApi(
            repo,
            AppealRepository(db_pool),
            tmp_path,
            RetentionJob(repo, tmp_path, default_days=365, clock=clock.now),
            now=clock.now,
        ),
    )
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "sup.rec")
        pages = {}
        for lang in ("uk", "en"):
            page = await client.get(f"/recordings?lang={lang}", headers={"Accept": "text/html"})
            assert page.status == 200
            text = await page.text()
            pages[lang] = text
            assert f'<html lang="{lang}">' in text and "${" not in text
            block = re.search(r'<script type="application/json" id="recordings-texts">(.*?)</script>', text)
            assert block is not None
            script_texts = json.loads(block.group(1))
            assert script_texts["status_missing"] and "{day}" in script_texts["datetime"]
            outside = text.replace(block.group(0), "")
            assert not re.search(r"\{[a-z_]+\}", outside), lang
        uk, en = pages["uk"], pages["en"]
        for words in ("<h1>Записи розмов</h1>", "Записи з проблемами", ">Знайти</button>", "Завантаження…"):
            assert words in uk, words
        assert '<a id="lang-switch" href="?lang=en" lang="en">English</a>' in uk
        for words in ("<h1>Call recordings</h1>", "Recordings with problems", ">Find</button>", "Loading…"):
            assert words in en, words
        assert '<a id="lang-switch" href="?lang=uk" lang="uk">Українською</a>' in en
        assert "Записи" not in en
        # The last choice (English) is remembered; with no cookie the page is Ukrainian.
        again = await (await client.get("/recordings", headers={"Accept": "text/html"})).text()
        assert '<html lang="en">' in again
        client.session.cookie_jar.clear()
        await sign_in(client, "sup.rec")
        fresh = await (await client.get("/recordings", headers={"Accept": "text/html"})).text()
        assert '<html lang="uk">' in fresh
