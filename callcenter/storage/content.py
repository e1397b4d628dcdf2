"""Content analysis in PostgreSQL: what the detector reads and the alerts it raises.

``registered_topics`` reads registered appeals as (topic, locality, Kyiv day) records, the input
of ``callcenter.analytics.spikes``; ``ContentAlertStore`` keeps one row per spiking (topic,
locality, day) in ``content_alerts`` (migration 0080): upserted by the periodic job, delivered
to the webhook, acknowledged by supervisors. Nothing here holds personal data: the locality is
the first part of the residence, never the address or the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from callcenter.analytics.spikes import Spike, locality_of

__all__ = ["ContentAlert", "ContentAlertStore", "TopicRecord", "registered_topics"]

#: (topic code, locality, local day of registration)
TopicRecord = tuple[str, str, date]


async def registered_topics(pool: Any, first: date, last: date) -> list[TopicRecord]:
    """Registered appeals with a topic whose Kyiv registration day is in [first, last]."""
    rows = await pool.fetch(
        """
        SELECT topic_code, residence, (registered_at AT TIME ZONE 'Europe/Kyiv')::date AS day
        FROM appeals
        WHERE registered_at IS NOT NULL AND topic_code IS NOT NULL
          AND registered_at >= ($1::date)::timestamp AT TIME ZONE 'Europe/Kyiv'
          AND registered_at < ($2::date + 1)::timestamp AT TIME ZONE 'Europe/Kyiv'
        """,
        first,
        last,
    )
    return [(row["topic_code"], locality_of(row["residence"]), row["day"]) for row in rows]


@dataclass(frozen=True, slots=True)
class ContentAlert:
    """One stored alert."""

    id: int
    topic: str
    locality: str
    day: date
    count: int
    expected: float
    p_value: float
    detected_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    delivery_attempts: int
    last_error: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    def as_json(self) -> dict[str, Any]:
        """The alert as JSON-friendly values (the API and the webhook use these)."""
        return {
            "id": self.id,
            "topic": self.topic,
            "locality": self.locality,
            "day": self.day.isoformat(),
            "count": self.count,
            "expected": round(self.expected, 3),
            "p_value": self.p_value,
            "detected_at": self.detected_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "delivered": self.delivered_at is not None,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
        }


_COLUMNS = (
    "id, topic, locality, day, count, expected, p_value, detected_at, updated_at, delivered_at,"
    " delivery_attempts, last_error, acknowledged_at, acknowledged_by"
)


def _alert(row: Any) -> ContentAlert:
    return ContentAlert(**{key: row[key] for key in row.keys()})


class ContentAlertStore:
    """The ``content_alerts`` table."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def upsert(self, spikes: Sequence[Spike], now: datetime) -> list[ContentAlert]:
        """Store the spikes; returns the alerts that are new (not seen for that series and day).

        A spike seen again (the periodic job runs many times a day) updates the count and the
        expectation of its alert; it is not new and is not sent again.
        """
        new: list[ContentAlert] = []
        async with self._pool.acquire() as conn, conn.transaction():
            for spike in spikes:
                row = await conn.fetchrow(
                    f"""
                    INSERT INTO content_alerts
                        (topic, locality, day, count, expected, p_value, detected_at, updated_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                    ON CONFLICT (topic, locality, day) DO UPDATE
                        SET count = GREATEST(content_alerts.count, EXCLUDED.count),
                            expected = EXCLUDED.expected,
                            p_value = LEAST(content_alerts.p_value, EXCLUDED.p_value),
                            updated_at = EXCLUDED.updated_at
                    RETURNING {_COLUMNS}, (xmax = 0) AS inserted
                    """,
                    spike.topic,
                    spike.locality,
                    spike.day,
                    spike.count,
                    spike.expected,
                    spike.p_value,
                    now,
                )
                if row["inserted"]:
                    new.append(_alert({k: row[k] for k in row.keys() if k != "inserted"}))
        return new

    async def undelivered(self, *, limit: int = 100) -> list[ContentAlert]:
        """Alerts the webhook has not accepted yet, oldest first."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM content_alerts WHERE delivered_at IS NULL ORDER BY detected_at, id LIMIT $1",
            limit,
        )
        return [_alert(row) for row in rows]

    async def mark_delivery(self, alert_id: int, *, at: datetime, attempts: int, error: str | None) -> None:
        """Record a delivery: ``error`` None means the webhook accepted the alert."""
        await self._pool.execute(
            """
            UPDATE content_alerts
            SET delivery_attempts = delivery_attempts + $2,
                delivered_at = CASE WHEN $3::text IS NULL THEN $4 ELSE delivered_at END,
                last_error = $3
            WHERE id = $1
            """,
            alert_id,
            attempts,
            error,
            at,
        )

    async def alerts(
        self, *, since: date | None = None, open_only: bool = False, limit: int = 200
    ) -> list[ContentAlert]:
        """Alerts newest first: all, or only those not acknowledged, from ``since`` on."""
        rows = await self._pool.fetch(
            f"""
            SELECT {_COLUMNS} FROM content_alerts
            WHERE ($1::date IS NULL OR day >= $1) AND (NOT $2 OR acknowledged_at IS NULL)
            ORDER BY day DESC, p_value, id LIMIT $3
            """,
            since,
            open_only,
            limit,
        )
        return [_alert(row) for row in rows]

    async def acknowledge(self, alert_id: int, *, by: str, at: datetime) -> ContentAlert | None:
        """Mark an alert acknowledged (once: the first acknowledgement stays); None if unknown."""
        row = await self._pool.fetchrow(
            f"""
            UPDATE content_alerts
            SET acknowledged_at = COALESCE(acknowledged_at, $2),
                acknowledged_by = COALESCE(acknowledged_by, $3)
            WHERE id = $1 RETURNING {_COLUMNS}
            """,
            alert_id,
            at,
            by,
        )
        return None if row is None else _alert(row)
