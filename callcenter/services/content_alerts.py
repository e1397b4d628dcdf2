"""The content-analysis job: find topic spikes in the appeals, store them, tell a webhook.

Every ``interval_s`` the job reads the registered appeals of the detector's history window
plus today (``storage.content.registered_topics``), runs ``analytics.spikes.detect_spikes``
for today (a day in progress: ``partial=True``) and for yesterday (a whole day: a late-evening
spike is still reported), stores them (``ContentAlertStore.upsert``: one alert per topic,
locality and day), and POSTs every alert not yet delivered as JSON to the configured webhook
(``docs/content-analysis.md`` has the payload), signed with an HMAC-SHA256 header when a
secret is configured. A delivery is retried with exponential
backoff within a run; an alert still undelivered is tried again on the next run, so a webhook
that is down for an hour gets its alerts when it is back.

The payload has no personal data (topic, locality, counts). The webhook URL is configuration;
tests use a loopback aiohttp server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from callcenter.analytics.spikes import DEFAULT_POLICY, SpikePolicy, count_table, detect_spikes
from callcenter.logs import get_logger
from callcenter.services.periodic import PeriodicJob
from callcenter.storage.content import ContentAlert, ContentAlertStore, registered_topics

__all__ = [
    "SIGNATURE_HEADER",
    "ContentAlertService",
    "ContentAlertSettings",
    "today_in_kyiv",
    "topic_names_from_classifier",
    "webhook_payload",
]

log = get_logger(__name__)

KYIV = ZoneInfo("Europe/Kyiv")

SIGNATURE_HEADER = "X-Callcenter-Signature"
DEFAULT_INTERVAL_S = 900.0
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_BACKOFF_S = 1.0
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ContentAlertSettings:
    """How often the job runs, where alerts go, and the detector's policy."""

    interval_s: float = DEFAULT_INTERVAL_S
    webhook_url: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_s: float = DEFAULT_BACKOFF_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    page_url: str = "/content"
    #: When set, each POST carries ``X-Callcenter-Signature: sha256=<hex HMAC of the body>``.
    webhook_secret: str | None = None
    policy: SpikePolicy = field(default_factory=lambda: DEFAULT_POLICY)


def webhook_payload(
    alert: ContentAlert, topic_names: Mapping[str, str], page_url: str = "/content"
) -> dict[str, Any]:
    """The JSON body POSTed for one alert (documented in docs/content-analysis.md)."""
    return {
        "type": "content.spike",
        "id": alert.id,
        "topic": alert.topic,
        "topic_name": topic_names.get(alert.topic, ""),
        "locality": alert.locality,
        "day": alert.day.isoformat(),
        "count": alert.count,
        "expected": round(alert.expected, 3),
        "p_value": alert.p_value,
        "detected_at": alert.detected_at.isoformat(),
        "url": f"{page_url}#alert-{alert.id}",
    }


class ContentAlertService:
    """Runs the detector over the stored appeals and delivers new alerts (module docstring)."""

    def __init__(
        self,
        pool: Any,
        settings: ContentAlertSettings | None = None,
        *,
        topic_names: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings or ContentAlertSettings()
        self.store = ContentAlertStore(pool)
        self._pool = pool
        self._topic_names = dict(topic_names or {})
        self._clock = clock
        self._sleep = sleep
        self._job = PeriodicJob("content-alerts", self.run_once, self.settings.interval_s)

    async def detect(self, now: datetime) -> list[ContentAlert]:
        """Detect spikes for today (in progress) and yesterday, store them; returns the new alerts."""
        today = now.astimezone(KYIV).date()
        policy = self.settings.policy
        first = today - timedelta(days=policy.baseline_days + 1)
        records = await registered_topics(self._pool, first, today)
        table = count_table(records)
        spikes = detect_spikes(table, today - timedelta(days=1), policy)
        spikes += detect_spikes(table, today, policy, partial=True)
        new = await self.store.upsert(spikes, now)
        for alert in new:
            log.warning(
                "content_spike",
                alert_id=alert.id,
                topic=alert.topic,
                locality=alert.locality,
                day=alert.day.isoformat(),
                count=alert.count,
                expected=round(alert.expected, 2),
            )
        return new

    async def deliver(self, session: aiohttp.ClientSession | None = None) -> int:
        """POST every undelivered alert to the webhook; returns how many it accepted."""
        url = self.settings.webhook_url
        if not url:
            return 0
        delivered = 0
        own = session is None
        client = session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s)
        )
        try:
            for alert in await self.store.undelivered():
                ok, attempts, error = await self._post(client, url, alert)
                await self.store.mark_delivery(alert.id, at=self._clock(), attempts=attempts, error=error)
                if ok:
                    delivered += 1
                else:
                    log.warning("content_webhook_failed", alert_id=alert.id, attempts=attempts, error=error)
        finally:
            if own:
                await client.close()
        return delivered

    async def _post(
        self, client: aiohttp.ClientSession, url: str, alert: ContentAlert
    ) -> tuple[bool, int, str | None]:
        body = json.dumps(
            webhook_payload(alert, self._topic_names, self.settings.page_url), ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.settings.webhook_secret:
            digest = hmac.new(self.settings.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        error: str | None = None
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                async with client.post(url, data=body, headers=headers) as response:
                    if 200 <= response.status < 300:
                        return True, attempt, None
                    error = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < self.settings.max_attempts:
                await self._sleep(self.settings.backoff_s * 2 ** (attempt - 1))
        return False, self.settings.max_attempts, error

    async def run_once(self) -> list[ContentAlert]:
        """One run of the job: detect, store, deliver. Returns the new alerts."""
        new = await self.detect(self._clock())
        await self.deliver()
        return new

    async def start(self) -> None:
        """Start the periodic job (the first run at once)."""
        await self._job.start()

    async def stop(self) -> None:
        """Stop the job and wait for it."""
        await self._job.stop()


def topic_names_from_classifier(classifier: Any) -> dict[str, str]:
    """Topic code → name from a ``Classifier`` (for the webhook's ``topic_name``)."""
    return {entry.code: entry.name for entry in classifier.entries("topics")}


def today_in_kyiv(now: datetime) -> date:
    """The Kyiv calendar day of ``now``."""
    return now.astimezone(KYIV).date()
