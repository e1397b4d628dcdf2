"""Surveys in PostgreSQL: answers, their summaries, the outbound campaign's state, do-not-call.

Tables of migration 0080: ``survey_responses`` (one row per survey taken, keyed by source and
the call's linkedid, so a replayed outcome stores nothing twice), ``survey_campaign_calls``
(the outbound survey's state per closed appeal) and ``do_not_call`` (normalised numbers never
called by a campaign). No phone number is stored with an answer; the campaign reads the
applicant's number from the appeal only when it dials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

__all__ = ["CampaignCall", "SurveyResponse", "SurveyStore", "SurveySummary"]


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    """One survey taken (``rating`` and ``resolved`` are None when not answered)."""

    source: str  # 'post_call' or 'campaign'
    linkedid: str
    answered_at: datetime
    rating: int | None = None
    resolved: bool | None = None
    appeal_id: UUID | None = None
    agent: str | None = None
    queue: str | None = None

    @property
    def completed(self) -> bool:
        """Both questions answered."""
        return self.rating is not None and self.resolved is not None


@dataclass(frozen=True, slots=True)
class SurveySummary:
    """Counts and averages over surveys (the analytics' survey figures)."""

    surveys: int
    completed: int
    rated: int
    average_rating: float | None
    ratings: dict[int, int]
    resolved_yes: int
    resolved_no: int

    @property
    def resolved_share(self) -> float | None:
        """Share of answers to "resolved?" that were yes."""
        answered = self.resolved_yes + self.resolved_no
        return self.resolved_yes / answered if answered else None

    def as_json(self) -> dict[str, Any]:
        """JSON-friendly values."""
        return {
            "surveys": self.surveys,
            "completed": self.completed,
            "rated": self.rated,
            "average_rating": None if self.average_rating is None else round(self.average_rating, 2),
            "ratings": {str(k): v for k, v in sorted(self.ratings.items())},
            "resolved_yes": self.resolved_yes,
            "resolved_no": self.resolved_no,
            "resolved_share": self.resolved_share,
        }


@dataclass(frozen=True, slots=True)
class CampaignCall:
    """An appeal due for an outbound survey call, with the number to dial (personal data)."""

    appeal_id: UUID
    number: str | None
    phone_digits: str
    attempts: int


class SurveyStore:
    """Survey answers, campaign state and the do-not-call list."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    # -- answers -------------------------------------------------------------------------------
    async def record(self, response: SurveyResponse) -> bool:
        """Store a survey; False when this call's survey was stored already (a replay)."""
        appeal_id = response.appeal_id
        if appeal_id is None and response.source == "post_call":
            appeal_id = await self._pool.fetchval(
                "SELECT id FROM appeals WHERE linkedid = $1", response.linkedid
            )
        inserted = await self._pool.fetchval(
            """
            INSERT INTO survey_responses
                (source, linkedid, appeal_id, agent, queue, rating, resolved, completed, answered_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (source, linkedid) DO NOTHING RETURNING id
            """,
            response.source,
            response.linkedid,
            appeal_id,
            response.agent,
            response.queue,
            response.rating,
            response.resolved,
            response.completed,
            response.answered_at,
        )
        return inserted is not None

    async def summary(
        self,
        since: datetime,
        until: datetime,
        *,
        agent: str | None = None,
        queue: str | None = None,
        source: str | None = None,
    ) -> SurveySummary:
        """Survey figures for answers in [since, until), optionally for one agent, queue or source."""
        rows = await self._pool.fetch(
            """
            SELECT rating, resolved, completed, count(*) AS n FROM survey_responses
            WHERE answered_at >= $1 AND answered_at < $2
              AND ($3::text IS NULL OR agent = $3) AND ($4::text IS NULL OR queue = $4)
              AND ($5::text IS NULL OR source = $5)
            GROUP BY rating, resolved, completed
            """,
            since,
            until,
            agent,
            queue,
            source,
        )
        ratings: dict[int, int] = {}
        surveys = completed = yes = no = 0
        for row in rows:
            n = row["n"]
            surveys += n
            completed += n if row["completed"] else 0
            if row["rating"] is not None:
                ratings[row["rating"]] = ratings.get(row["rating"], 0) + n
            if row["resolved"] is True:
                yes += n
            elif row["resolved"] is False:
                no += n
        rated = sum(ratings.values())
        average = sum(k * v for k, v in ratings.items()) / rated if rated else None
        return SurveySummary(surveys, completed, rated, average, ratings, yes, no)

    async def per_agent(self, since: datetime, until: datetime) -> dict[str, SurveySummary]:
        """``summary`` for each agent with post-call surveys in the range."""
        agents = await self._pool.fetch(
            "SELECT DISTINCT agent FROM survey_responses WHERE answered_at >= $1 AND answered_at < $2"
            " AND agent IS NOT NULL ORDER BY agent",
            since,
            until,
        )
        return {row["agent"]: await self.summary(since, until, agent=row["agent"]) for row in agents}

    # -- do-not-call ---------------------------------------------------------------------------
    async def add_do_not_call(self, digits: str, *, by: str, at: datetime, reason: str = "") -> None:
        """Put a normalised number (380…) on the do-not-call list (again: keeps the first entry)."""
        await self._pool.execute(
            "INSERT INTO do_not_call (phone_digits, added_at, added_by, reason) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (phone_digits) DO NOTHING",
            digits,
            at,
            by,
            reason,
        )

    async def remove_do_not_call(self, digits: str) -> bool:
        """Take a number off the list; False if it was not there."""
        result: str = await self._pool.execute("DELETE FROM do_not_call WHERE phone_digits = $1", digits)
        return result.endswith(" 1")

    # -- campaign ------------------------------------------------------------------------------
    async def enrol_closed(self, closed_since: datetime, now: datetime, *, limit: int = 500) -> int:
        """Give every appeal closed since ``closed_since`` and not yet enrolled a campaign row.

        An appeal without a phone, or whose number is on the do-not-call list, is enrolled as
        'skipped' (so it is decided once); an appeal already surveyed after its call likewise.
        """
        result: str = await self._pool.execute(
            """
            INSERT INTO survey_campaign_calls (appeal_id, state, attempts, next_attempt_at, last_result,
                                               created_at, updated_at)
            SELECT a.id,
                   CASE WHEN a.applicant_phone_digits IS NULL OR a.applicant_phone_digits = '' THEN 'skipped'
                        WHEN EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone_digits = a.applicant_phone_digits)
                             THEN 'skipped'
                        WHEN EXISTS (SELECT 1 FROM survey_responses s WHERE s.appeal_id = a.id) THEN 'skipped'
                        ELSE 'pending' END,
                   0, $2,
                   CASE WHEN a.applicant_phone_digits IS NULL OR a.applicant_phone_digits = '' THEN 'no_phone'
                        WHEN EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone_digits = a.applicant_phone_digits)
                             THEN 'do_not_call'
                        WHEN EXISTS (SELECT 1 FROM survey_responses s WHERE s.appeal_id = a.id)
                             THEN 'already_surveyed'
                        END,
                   $2, $2
            FROM appeals a
            WHERE a.status = 'closed' AND a.closed_at >= $1
              AND NOT EXISTS (SELECT 1 FROM survey_campaign_calls c WHERE c.appeal_id = a.id)
            ORDER BY a.closed_at
            LIMIT $3
            """,
            closed_since,
            now,
            limit,
        )
        return int(result.split()[-1])

    async def claim_due(self, now: datetime, *, limit: int) -> list[CampaignCall]:
        """Take up to ``limit`` pending rows whose time has come: they become 'calling'.

        The do-not-call list is checked again here: a number added after enrolment is skipped.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                UPDATE survey_campaign_calls c SET state = 'skipped', last_result = 'do_not_call', updated_at = $1
                FROM appeals a
                WHERE c.appeal_id = a.id AND c.state = 'pending'
                  AND EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone_digits = a.applicant_phone_digits)
                """,
                now,
            )
            rows = await conn.fetch(
                """
                UPDATE survey_campaign_calls c SET state = 'calling', attempts = c.attempts + 1, updated_at = $1
                FROM appeals a
                WHERE c.appeal_id = a.id AND c.appeal_id IN (
                    SELECT appeal_id FROM survey_campaign_calls
                    WHERE state = 'pending' AND next_attempt_at <= $1
                    ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
                RETURNING c.appeal_id, a.number, a.applicant_phone_digits, c.attempts
                """,
                now,
                limit,
            )
        return [
            CampaignCall(row["appeal_id"], row["number"], row["applicant_phone_digits"], row["attempts"])
            for row in rows
        ]

    async def release_stale(self, before: datetime, now: datetime) -> int:
        """Rows left 'calling' since before ``before`` (the process stopped mid-call) go back to pending."""
        result: str = await self._pool.execute(
            "UPDATE survey_campaign_calls SET state = 'pending', next_attempt_at = $2, last_result = 'interrupted',"
            " updated_at = $2 WHERE state = 'calling' AND updated_at < $1",
            before,
            now,
        )
        return int(result.split()[-1])

    async def finish_attempt(
        self,
        appeal_id: UUID,
        *,
        state: str,
        result: str,
        now: datetime,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record how an attempt ended: 'done', 'failed', or back to 'pending' at ``next_attempt_at``."""
        await self._pool.execute(
            "UPDATE survey_campaign_calls SET state = $2, last_result = $3, next_attempt_at = $4, updated_at = $5"
            " WHERE appeal_id = $1",
            appeal_id,
            state,
            result,
            next_attempt_at,
            now,
        )

    async def campaign_state(self, appeal_id: UUID) -> dict[str, Any] | None:
        """The campaign row of an appeal (state, attempts, next attempt, last result)."""
        row = await self._pool.fetchrow(
            "SELECT state, attempts, next_attempt_at, last_result FROM survey_campaign_calls WHERE appeal_id = $1",
            appeal_id,
        )
        return None if row is None else dict(row)
