"""The public statistics page: open to all, top topics and on-time share, never a cell below 5."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcenter.web import public_stats
from callcenter.web.public_stats import suppress
from tests.integration.test_auth_support import make_app
from tests.integration.test_official_support import kyiv_day, make_appeals

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_small_cells_are_merged_or_hidden() -> None:
    """Topics under 5 go to "other", which shows only at 5 or more; small bases are hidden."""
    stats = suppress("2026-11", {"109": 12, "106": 5, "110": 4, "103": 2, None: 1}, 4, 4, {"109": "ЖКГ"})
    assert stats.topics == (("109", "ЖКГ", 12), ("106", "", 5), ("other", "Other topics", 7))
    assert stats.appeals == 24 and stats.closed is None and stats.on_time_share is None
    tiny = suppress("2026-11", {"109": 3, "106": 1}, 9, 6, {})
    assert tiny.topics == () and tiny.appeals is None and tiny.on_time_share == 6 / 9
    assert all(count >= 5 for _, _, count in stats.topics)


async def test_public_page_shows_aggregates_without_personal_data(db_pool: Any) -> None:
    """Anyone gets /stats and /api/stats; the figures match the records and hold no personal data."""
    made = await make_appeals(
        db_pool, prefix="ps", start=datetime(2026, 11, 1, 6, tzinfo=UTC), count=30, seed=5
    )
    app = make_app(db_pool)
    clock = [0.0]
    public_stats.setup(app, public_stats.PublicStatsState(now=lambda: NOW, monotonic=lambda: clock[0]))
    async with TestClient(TestServer(app)) as client:
        data = await (await client.get("/api/stats?month=2026-11")).json()
        assert data["appeals"] == 30
        counted = {t["topic"]: t["appeals"] for t in data["top_topics"]}
        by_topic: dict[str, int] = {}
        for appeal in made.appeals:
            assert appeal.topic_code is not None
            by_topic[appeal.topic_code] = by_topic.get(appeal.topic_code, 0) + 1
        assert {k: v for k, v in counted.items() if k != "other"} == {
            k: v for k, v in by_topic.items() if v >= 5
        }
        small = sum(v for v in by_topic.values() if v < 5)
        assert counted.get("other", 0) == (small if small >= 5 else 0)
        assert all(v >= 5 for v in counted.values())
        closed = [a for a in made.appeals if a.closed_at is not None and kyiv_day(a.closed_at).month == 11]
        assert data["closed"] == (len(closed) if len(closed) >= 5 else None)
        on_time = sum(
            1 for a in closed if a.closed_at and a.effective_due and kyiv_day(a.closed_at) <= a.effective_due
        )
        assert data["closed_on_time_share"] == round(on_time / len(closed), 4)
        page = await client.get("/stats")
        text = await page.text()
        assert page.status == 200 and 'id="chart-topics"' in text and "2026-11" in text
        for appeal in made.appeals:
            assert appeal.number is not None and appeal.number not in text
        assert "380501234567" not in text and "+380" not in text
        assert "Шевченко" not in text and "<script" not in text
        assert (await client.get("/api/stats?month=2027-01")).status == 400

        # Cached for five minutes: a new appeal shows only after the cache expires.
        await make_appeals(
            db_pool, prefix="ps2", start=datetime(2026, 11, 20, 6, tzinfo=UTC), count=1, seed=6
        )
        assert (await (await client.get("/api/stats?month=2026-11")).json())["appeals"] == 30
        clock[0] += public_stats.CACHE_S + 1
        assert (await (await client.get("/api/stats?month=2026-11")).json())["appeals"] == 31
