"""Deadline reminders for authorities: a periodic job that fills each authority's inbox.

Every run looks at the appeals that are an authority's to deal with (sent, in work, back for
rework) and raises, per authority:

* ``due_soon`` for an appeal whose term in force ends within ``due_within_days`` days;
* ``overdue`` for one whose term has ended (the "monitoring of timely consideration").

A reminder is raised once per appeal, kind and term (the table's unique key), so running the
job every hour costs nothing new, and an extension (a new term) brings a fresh reminder. The
reminders are in-app only (the authority's inbox page and API) plus one log line per run with
the counts per authority; nothing is e-mailed.

Wiring: ``ReminderService(AuthorityStore(pool))``, ``await service.start()`` and, on shutdown,
``await service.stop()``; ``run_once(at)`` is what the timer calls and what tests call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from callcenter.logs import get_logger
from callcenter.services.periodic import PeriodicJob
from callcenter.storage.authorities import AuthorityStore

__all__ = [
    "DEFAULT_DUE_WITHIN_DAYS",
    "DEFAULT_INTERVAL_S",
    "ReminderRun",
    "ReminderService",
    "ReminderSettings",
]

log = get_logger(__name__)

DEFAULT_DUE_WITHIN_DAYS = 3
DEFAULT_INTERVAL_S = 3600.0


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    """How far ahead to warn, and how often to look."""

    due_within_days: int = DEFAULT_DUE_WITHIN_DAYS
    interval_s: float = DEFAULT_INTERVAL_S

    def __post_init__(self) -> None:
        if self.due_within_days < 0 or self.interval_s <= 0:
            raise ValueError("due_within_days must be ≥ 0 and interval_s > 0")


@dataclass(frozen=True, slots=True)
class ReminderRun:
    """What one run found and raised (counts per authority id)."""

    at: datetime
    due_soon: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)
    raised: int = 0


class ReminderService:
    """Runs ``run_once`` every ``interval_s`` seconds until stopped."""

    def __init__(
        self,
        store: AuthorityStore,
        settings: ReminderSettings | None = None,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self.settings = settings or ReminderSettings()
        self._now = now or (lambda: datetime.now(UTC))
        self._job = PeriodicJob("authority-reminders", self.run_once, self.settings.interval_s)

    async def run_once(self, at: datetime | None = None) -> ReminderRun:
        """Raise the reminders due at ``at`` (the clock's now by default)."""
        at = at or self._now()
        horizon = at + timedelta(days=self.settings.due_within_days)
        rows = await self._store.deadline_rows(horizon, limit=100_000)
        due_soon: Counter[str] = Counter()
        overdue: Counter[str] = Counter()
        items: list[tuple[str, UUID, str, date, str | None]] = []
        for row in rows:
            authority = row.authority.lower()
            kind = "overdue" if row.term_ends_at <= at else "due_soon"
            (overdue if kind == "overdue" else due_soon)[authority] += 1
            items.append((authority, row.appeal_id, kind, row.term, row.number))
        raised = await self._store.raise_notifications(items, at=at)
        run = ReminderRun(at, dict(due_soon), dict(overdue), raised)
        log.info(
            "authority reminders",
            raised=raised,
            due_soon=run.due_soon,
            overdue=run.overdue,
            within_days=self.settings.due_within_days,
        )
        return run

    async def start(self) -> None:
        """Start the periodic job (the first run happens at once)."""
        await self._job.start()

    async def stop(self) -> None:
        """Stop the job and wait for it."""
        await self._job.stop()
