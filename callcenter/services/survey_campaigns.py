"""Outbound survey campaigns: call applicants whose appeals were closed and run the survey.

Every ``interval_s`` the campaign

1. enrols the appeals closed in the last ``closed_within_days`` that have no campaign row yet
   (``SurveyStore.enrol_closed``): an appeal without a phone, with a number on the do-not-call
   list, or already surveyed after its call is enrolled as 'skipped' and never called;
2. when the line is open (``is_open(now)``: the queue's working hours, so nobody is called at
   night or on a holiday), takes at most ``concurrent`` due rows (``claim_due``; the
   do-not-call list is checked again there) and originates each citizen's number on the trunk
   into the dialplan's survey context (``dialplan_contract.SURVEY_CONTEXT``), which runs the
   survey flow over FastAGI at ``agi_url`` with ``campaign=1&appeal=<id>``;
3. records each attempt: answered → 'done' (the answers arrive through the survey flow, stored
   by ``SurveyService`` with source 'campaign'); busy, no answer, congestion or an AMI error →
   'pending' again after ``retry_base_s × 2^(attempt-1)`` (30 min, 1 h, 2 h …), or 'failed'
   after ``max_attempts``.

Only Ukrainian numbers are dialled (the dialplan refuses others too). The number is personal
data: logs carry it masked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from callcenter.errors import CallcenterError
from callcenter.logs import get_logger, mask_phone
from callcenter.services.periodic import PeriodicJob
from callcenter.storage.surveys import CampaignCall, SurveyStore
from callcenter.telephony.dialplan_contract import (
    SURVEY_AGI_VARIABLE,
    SURVEY_APPEAL_VARIABLE,
    SURVEY_CONTEXT,
    TRUNK_ENDPOINT,
)

__all__ = ["CampaignSettings", "Originator", "SurveyCampaign", "retry_delay"]

log = get_logger(__name__)

_UKRAINIAN = re.compile(r"^380\d{9}$")
#: OriginateResponse reasons (Asterisk's AST_CONTROL_*): 4 answered, 5 busy, 8 congestion, 3/1 no answer.
ANSWERED = 4
_REASONS = {0: "failed", 1: "no_answer", 3: "no_answer", 5: "busy", 8: "congestion"}
#: A survey call lasts a minute or two; a row 'calling' for longer than ring time + this was cut short.
_STALE_MARGIN_S = 900.0


class Originator(Protocol):
    """What the campaign needs of the AMI client (``AmiClient.originate_and_wait``)."""

    async def originate_and_wait(
        self,
        channel: str,
        *,
        context: str | None = ...,
        exten: str | None = ...,
        priority: int | str = ...,
        caller_id: str | None = ...,
        variables: Mapping[str, str] | None = ...,
        ring_timeout_ms: int = ...,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """The campaign's pace, retries and where the survey flow is served."""

    agi_url: str = "agi://127.0.0.1:4573/survey"
    caller_id: str | None = None
    interval_s: float = 60.0
    concurrent: int = 2
    max_attempts: int = 3
    retry_base_s: float = 1800.0
    ring_timeout_s: float = 30.0
    closed_within_days: int = 14
    trunk_endpoint: str = TRUNK_ENDPOINT


def retry_delay(attempt: int, base_s: float) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based): base, 2 × base, 4 × base …"""
    return timedelta(seconds=base_s * 2 ** max(0, attempt - 1))


class SurveyCampaign:
    """The outbound survey job (see the module docstring)."""

    def __init__(
        self,
        store: SurveyStore,
        ami: Originator,
        settings: CampaignSettings | None = None,
        *,
        is_open: Callable[[datetime], bool],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings or CampaignSettings()
        self._ami = ami
        self._is_open = is_open
        self._clock = clock
        self._job = PeriodicJob("survey-campaign", self.run_once, self.settings.interval_s)

    def _agi_url(self, appeal_id: UUID) -> str:
        separator = "&" if "?" in self.settings.agi_url else "?"
        return f"{self.settings.agi_url}{separator}campaign=1&appeal={appeal_id}"

    async def _call(self, call: CampaignCall) -> tuple[UUID, str]:
        now = self._clock()
        digits = call.phone_digits or ""
        if not _UKRAINIAN.match(digits):
            await self.store.finish_attempt(call.appeal_id, state="skipped", result="bad_number", now=now)
            return call.appeal_id, "bad_number"
        try:
            response = await self._ami.originate_and_wait(
                f"PJSIP/{digits}@{self.settings.trunk_endpoint}",
                context=SURVEY_CONTEXT,
                exten="s",
                priority=1,
                caller_id=self.settings.caller_id,
                variables={
                    SURVEY_AGI_VARIABLE: self._agi_url(call.appeal_id),
                    SURVEY_APPEAL_VARIABLE: str(call.appeal_id),
                },
                ring_timeout_ms=int(self.settings.ring_timeout_s * 1000),
            )
            reason = int(getattr(response, "reason", 0))
            result = "answered" if reason == ANSWERED else _REASONS.get(reason, f"reason_{reason}")
        except (CallcenterError, TimeoutError, OSError) as exc:
            result = f"error: {type(exc).__name__}"
        now = self._clock()
        if result == "answered":
            await self.store.finish_attempt(call.appeal_id, state="done", result=result, now=now)
        elif call.attempts >= self.settings.max_attempts:
            await self.store.finish_attempt(call.appeal_id, state="failed", result=result, now=now)
        else:
            retry_at = now + retry_delay(call.attempts, self.settings.retry_base_s)
            await self.store.finish_attempt(
                call.appeal_id, state="pending", result=result, now=now, next_attempt_at=retry_at
            )
        log.info(
            "survey_call",
            appeal_id=str(call.appeal_id),
            number=mask_phone(digits),
            attempt=call.attempts,
            result=result,
        )
        return call.appeal_id, result

    async def run_once(self) -> list[tuple[UUID, str]]:
        """Enrol newly closed appeals, then (in working hours) call the due ones; the results."""
        now = self._clock()
        # A call still 'calling' long after its ring time was cut short by a stop or a crash.
        stale = timedelta(seconds=self.settings.ring_timeout_s + _STALE_MARGIN_S)
        await self.store.release_stale(now - stale, now)
        await self.store.enrol_closed(now - timedelta(days=self.settings.closed_within_days), now)
        if not self._is_open(now):
            return []
        due = await self.store.claim_due(now, limit=self.settings.concurrent)
        return list(await asyncio.gather(*(self._call(call) for call in due)))

    async def start(self) -> None:
        """Start the periodic job."""
        await self._job.start()

    async def stop(self) -> None:
        """Stop it and wait for the call attempts in flight to be recorded."""
        await self._job.stop()
