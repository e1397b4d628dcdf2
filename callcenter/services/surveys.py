"""The post-call survey: read the answers from a finished IVR run and store them.

The survey is an IVR flow (``ivr_flows/survey.yaml``), not a node type: its ``menu`` nodes ask,
its ``set`` nodes record ``survey_rating`` (1-5) and ``survey_resolved`` (yes/no), and
``survey_source`` says how the caller got there (``post_call`` after an agent's call,
``campaign`` on an outbound survey call). The hotline reaches it from its queue node when the
agent hangs up: ``on: {answered: survey}`` with ``survey: {type: goto, flow: survey}`` (Dial's
``g`` option keeps the caller in the AGI session after the agent's hang-up).

``survey_answers`` reads a finished run (pure); ``SurveyService.record_outcome`` stores it keyed
by the call's linkedid (so a replay stores nothing twice) with the agent and queue that took
the call; ``on_outcome`` has the driver's ``OutcomeSink`` shape for a driver used directly.
Figures for the analytics: ``SurveyStore.summary`` / ``per_agent``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID

from callcenter.ivr.engine import FlowEnvironment, Outcome
from callcenter.ivr.model import Flow
from callcenter.logs import get_logger
from callcenter.storage.surveys import SurveyResponse, SurveyStore
from callcenter.telephony.agi_protocol import AgiEnvironment
from callcenter.telephony.ivr_driver import IvrRoute, IvrServices

__all__ = ["SURVEY_FLOW", "SurveyAnswers", "SurveyService", "survey_answers", "survey_route"]

log = get_logger(__name__)

SURVEY_FLOW = "survey"
SOURCES = ("post_call", "campaign")


@dataclass(frozen=True, slots=True)
class SurveyAnswers:
    """What the caller answered (None: not answered)."""

    source: str
    rating: int | None
    resolved: bool | None
    agent: str | None
    queue: str | None
    appeal_id: UUID | None


def survey_answers(outcome: Outcome) -> SurveyAnswers | None:
    """The survey in a finished run, or None when the run never entered the survey flow."""
    variables = outcome.path.variables
    source = variables.get("survey_source")
    if source not in SOURCES:
        return None
    raw_rating = variables.get("survey_rating", "")
    rating = int(raw_rating) if raw_rating.isdigit() and 1 <= int(raw_rating) <= 5 else None
    resolved = {"yes": True, "no": False}.get(variables.get("survey_resolved", ""))
    answered = [q for q in outcome.path.queue_results if q.get("status") == "answered"]
    agent = answered[-1].get("agent") if answered else None
    queue = answered[-1].get("queue") if answered else None
    appeal_id: UUID | None = None
    if raw := variables.get("query.appeal"):
        try:
            appeal_id = UUID(raw)
        except ValueError:
            appeal_id = None
    return SurveyAnswers(source, rating, resolved, agent, queue, appeal_id)


class SurveyService:
    """Stores surveys from finished runs (see the module docstring)."""

    def __init__(
        self, store: SurveyStore, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self._clock = clock

    async def record_outcome(
        self, linkedid: str, outcome: Outcome, *, agent: str | None = None, queue: str | None = None
    ) -> SurveyResponse | None:
        """Store the run's survey (if it had one) under ``linkedid``; returns what was stored.

        ``agent`` and ``queue`` default to the last answered queue result of the run. Nothing is
        stored for a run without a survey, or for a linkedid whose survey is stored already.
        """
        answers = survey_answers(outcome)
        if answers is None:
            return None
        response = SurveyResponse(
            source=answers.source,
            linkedid=linkedid,
            answered_at=self._clock(),
            rating=answers.rating,
            resolved=answers.resolved,
            appeal_id=answers.appeal_id,
            agent=agent or answers.agent,
            queue=queue or answers.queue,
        )
        if not await self.store.record(response):
            return None
        log.info(
            "survey_recorded",
            source=response.source,
            rating=response.rating,
            resolved=response.resolved,
            agent=response.agent,
            completed=response.completed,
        )
        return response

    async def on_outcome(self, env: AgiEnvironment, outcome: Outcome) -> None:
        """``IvrServices.on_outcome`` for a driver used without the call pipeline (keyed by uniqueid)."""
        await self.record_outcome(env.uniqueid, outcome)


def survey_route(
    flows: Callable[[str], Flow | None],
    environment: FlowEnvironment,
    services: IvrServices,
    surveys: SurveyService,
) -> IvrRoute:
    """The FastAGI route for outbound survey calls (``agi://…/survey?campaign=1&appeal=<id>``).

    Added with ``agi.add_route(SURVEY_FLOW, …)`` it serves the survey flow outside the call
    pipeline: a survey call is not a citizen's call, so it opens no appeal record and counts in
    no queue; its answers are stored by ``surveys`` (keyed by the survey call's uniqueid).
    """
    return IvrRoute(flows, environment, replace(services, on_outcome=surveys.on_outcome))
