"""The content-alert job on PostgreSQL: a planted spike is stored once and POSTed to a webhook."""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from callcenter.services.content_alerts import SIGNATURE_HEADER, ContentAlertService, ContentAlertSettings

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)  # 12:30 in Kyiv
TODAY = NOW.astimezone(KYIV).date()
_seq = iter(range(1, 1_000_000))


async def add_appeal(pool: Any, topic: str, residence: str, at: datetime) -> None:
    """A registered appeal row with just what the detector reads."""
    seq = next(_seq)
    await pool.execute(
        """
        INSERT INTO appeals (id, linkedid, status, arrived_at, number, number_year, number_seq,
                             received_on, registered_at, residence, topic_code, kind)
        VALUES ($1, $2, 'registered', $3, $4, 2026, $5, $6, $3, $7, $8, 'complaint')
        """,
        uuid.uuid4(),
        f"ca.{seq}",
        at,
        f"CA-2026-{seq:06d}",
        seq,
        at.astimezone(KYIV).date(),
        residence,
        topic,
    )


async def flat_history(pool: Any, days: int = 60) -> None:
    """Two months of a few appeals a day spread over topics and towns."""
    rng = random.Random(11)
    for back in range(days, 0, -1):
        day = TODAY - timedelta(days=back)
        for _ in range(rng.randint(4, 9)):
            at = datetime.combine(day, datetime.min.time(), KYIV) + timedelta(hours=rng.randint(8, 17))
            town = rng.choice(["м. Дніпро", "м. Павлоград", "с. Вільне", "м. Кривий Ріг"])
            await add_appeal(pool, rng.choice(["106", "109", "110", "103"]), town, at)


class Hook:
    """A loopback webhook that fails the first ``failures`` posts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.signatures: list[str] = []
        self.bodies: list[bytes] = []
        self.posts = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        if self.posts <= self.failures:
            return web.Response(status=503)
        self.bodies.append(await request.read())
        self.signatures.append(request.headers.get(SIGNATURE_HEADER, ""))
        self.received.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def hook_server() -> AsyncIterator[tuple[Hook, str]]:
    """A loopback webhook on a free port that fails its first two posts with 503."""
    hook = Hook(failures=2)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield hook, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def test_a_heating_spike_is_stored_once_and_reaches_the_webhook(
    db_pool: Any, hook_server: tuple[Hook, str]
) -> None:
    """12 heating calls from Pavlohrad this morning make one alert, posted after two 503s."""
    hook, url = hook_server
    await flat_history(db_pool)
    morning = datetime.combine(TODAY, datetime.min.time(), KYIV)
    for n in range(12):
        await add_appeal(
            db_pool, "109", "м. Павлоград, вул. Соборна", morning + timedelta(hours=8, minutes=n * 9)
        )
    for n in range(3):
        await add_appeal(db_pool, "106", "м. Дніпро", morning + timedelta(hours=9, minutes=n))
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    service = ContentAlertService(
        db_pool,
        ContentAlertSettings(webhook_url=url, max_attempts=4, backoff_s=0.5, webhook_secret="s3cret"),
        topic_names={"109": "Комунальне господарство"},
        clock=lambda: NOW,
        sleep=no_sleep,
    )
    new = await service.run_once()
    assert [(a.topic, a.locality, a.day, a.count) for a in new] == [("109", "Павлоград", TODAY, 12)]
    assert sleeps == [0.5, 1.0]  # two failures, backoff doubling
    assert len(hook.received) == 1
    body = hook.received[0]
    assert body["type"] == "content.spike" and body["topic"] == "109" and body["locality"] == "Павлоград"
    assert body["topic_name"] == "Комунальне господарство" and body["count"] == 12
    assert body["day"] == TODAY.isoformat() and body["expected"] < 3
    assert "caller" not in body and "phone" not in str(body)
    expected = hmac.new(b"s3cret", hook.bodies[0], hashlib.sha256).hexdigest()
    assert hook.signatures == [f"sha256={expected}"]

    # The next run finds the same spike: no new alert, nothing posted again.
    assert await service.run_once() == []
    assert len(hook.received) == 1
    [stored] = await service.store.alerts(open_only=True)
    assert stored.delivered_at is not None and stored.delivery_attempts == 3

    acknowledged = await service.store.acknowledge(stored.id, by="sup1", at=NOW)
    assert acknowledged is not None and acknowledged.acknowledged_by == "sup1"
    assert await service.store.alerts(open_only=True) == []


async def test_an_unreachable_webhook_keeps_the_alert_for_the_next_run(db_pool: Any) -> None:
    """A refused connection leaves the alert undelivered with its error, for the next run."""
    service = ContentAlertService(
        db_pool,
        ContentAlertSettings(webhook_url="http://127.0.0.1:9/hook", max_attempts=2, backoff_s=0.0),
        clock=lambda: NOW,
    )
    from callcenter.analytics.spikes import Spike

    await service.store.upsert([Spike("124", "Покров", date(2026, 11, 20), 9, 0.5, 1e-9, 1e-5, 50)], NOW)
    assert await service.deliver() == 0
    pending = [a for a in await service.store.undelivered() if a.topic == "124"]
    assert len(pending) == 1 and pending[0].delivery_attempts == 2 and pending[0].last_error
