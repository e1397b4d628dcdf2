"""Post-call surveys: a caller rates the agent after the agent hangs up; stored once and counted."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from callcenter.ivr import Flow, FlowEnvironment, ValidationContext, check_flow
from callcenter.ivr.testing import FixedSchedules
from callcenter.services.surveys import SurveyService, survey_answers, survey_route
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.surveys import SurveyStore
from callcenter.telephony.ivr_driver import IvrServices, run_ivr
from tests.integration.test_ivr_driver import NOW, Backend, FakeSession, environment

REPO = Path(__file__).resolve().parents[2]
CONTEXT = ValidationContext(
    frozenset({"general"}), frozenset({"office"}), frozenset({"general"}), flows=frozenset({"survey"})
)
# A hotline cut down to its queue node, continuing to the survey when the agent hangs up.
LINE = """\
languages: [uk, ru, en]
start: to_queue
prompts:
  sorry: {uk: "Вибачте", ru: "Извините", en: "Sorry"}
nodes:
  to_queue:
    type: queue
    queue: general
    on: {answered: survey}
    fallback: sorry
  survey: {type: goto, flow: survey}
  sorry: {type: play, prompt: sorry, next: bye}
  bye: {type: hangup}
"""
AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def flows() -> dict[str, Flow]:
    """The shipped survey flow and the cut-down hotline, both validated."""
    survey, errors = check_flow(
        (REPO / "ivr_flows" / "survey.yaml").read_text(encoding="utf-8"), "survey.yaml", CONTEXT
    )
    assert survey is not None, [str(e) for e in errors]
    line, errors = check_flow(LINE, "line.yaml", CONTEXT)
    assert line is not None, [str(e) for e in errors]
    return {"survey": survey, "line": line}


async def call_with_survey(keys: list[str | None], uniqueid: str, service: SurveyService) -> FakeSession:
    """One call through the real IVR driver: answered by op101, then the survey with ``keys``."""
    loaded = flows()
    env = dataclasses.replace(environment("line"), uniqueid=uniqueid)
    session = FakeSession(env=env, keys=list(keys))
    backend = Backend(loaded["line"], queue_results=["answered"])
    services = IvrServices(backend.render, backend.lookup, backend.enter_queue, service.on_outcome)
    await run_ivr(session, loaded["line"], FlowEnvironment(FixedSchedules(), flows=loaded), services, now=NOW)
    return session


async def test_a_simulated_post_call_survey_is_stored_and_counted(db_pool: Any) -> None:
    """Keys 4 then 1 after the agent's call store rating 4, resolved, for agent op101, once."""
    clock = iter(AT + timedelta(minutes=n) for n in range(100))
    store = SurveyStore(db_pool)
    service = SurveyService(store, clock=lambda: next(clock))
    session = await call_with_survey(["4", "1"], "1718000000.8", service)
    assert any(line.startswith("STREAM FILE tts/") for line in session.lines)
    assert session.lines[-2:] == ["HANGUP", "SET VARIABLE CC_IVR_RESULT hangup"]
    row = await db_pool.fetchrow("SELECT * FROM survey_responses WHERE linkedid = '1718000000.8'")
    assert (row["source"], row["rating"], row["resolved"], row["completed"]) == ("post_call", 4, True, True)
    assert (row["agent"], row["queue"]) == ("op101", "general")

    # A caller who rates 2, says "not resolved"; another who hangs up before rating.
    await call_with_survey(["2", "2"], "1718000000.9", service)
    await call_with_survey([], "1718000000.10", service)
    summary = await store.summary(AT, AT + timedelta(days=1))
    assert (summary.surveys, summary.completed, summary.rated) == (3, 2, 2)
    assert summary.average_rating == 3.0 and summary.ratings == {4: 1, 2: 1}
    assert (summary.resolved_yes, summary.resolved_no, summary.resolved_share) == (1, 1, 0.5)
    assert (await store.per_agent(AT, AT + timedelta(days=1)))["op101"].surveys == 3


async def test_the_survey_is_linked_to_the_calls_appeal_and_stored_once(db_pool: Any) -> None:
    """A survey keyed by the call's linkedid finds the call's appeal; a replay stores nothing."""
    repo = AppealRepository(db_pool)
    appeal = await repo.open_for_call("sv.link", caller="+380501112233", dnid="1545", arrived_at=AT)
    loaded = flows()
    session = FakeSession(env=environment("line"), keys=["5", "1"])
    backend = Backend(loaded["line"], queue_results=["answered"])
    outcomes = []

    async def keep(env: Any, outcome: Any) -> None:
        outcomes.append(outcome)

    services = IvrServices(backend.render, backend.lookup, backend.enter_queue, keep)
    await run_ivr(session, loaded["line"], FlowEnvironment(FixedSchedules(), flows=loaded), services, now=NOW)
    service = SurveyService(SurveyStore(db_pool), clock=lambda: AT)
    stored = await service.record_outcome("sv.link", outcomes[0])
    assert stored is not None and stored.rating == 5
    assert await service.record_outcome("sv.link", outcomes[0]) is None
    row = await db_pool.fetchrow(
        "SELECT appeal_id, count(*) OVER () AS n FROM survey_responses WHERE linkedid = 'sv.link'"
    )
    assert row["appeal_id"] == appeal.id and row["n"] == 1


def test_a_run_without_the_survey_has_no_answers() -> None:
    """A call that never reached the survey flow yields no survey."""
    from callcenter.ivr.engine import CallPath, Outcome

    assert survey_answers(Outcome("hangup", CallPath(language="uk"), True)) is None


async def test_an_outbound_survey_call_is_stored_for_its_appeal(db_pool: Any) -> None:
    """The survey route runs the campaign greeting and stores the answers under the appeal."""
    repo = AppealRepository(db_pool)
    appeal = await repo.open_for_call("sv.camp", caller="+380501112244", dnid="1545", arrived_at=AT)
    loaded = flows()
    env = dataclasses.replace(
        environment("survey"), uniqueid="1718000100.1", query={"campaign": "1", "appeal": str(appeal.id)}
    )
    session = FakeSession(env=env, keys=["2", "2"])
    backend = Backend(loaded["survey"])
    service = SurveyService(SurveyStore(db_pool), clock=lambda: AT)
    route = survey_route(
        loaded.get, FlowEnvironment(FixedSchedules(), flows=loaded), backend.services(), service
    )
    await route(session)
    assert "STREAM FILE tts/uk/campaign_intro" in " ".join(session.lines)
    row = await db_pool.fetchrow("SELECT * FROM survey_responses WHERE linkedid = '1718000100.1'")
    assert (row["source"], row["appeal_id"], row["rating"], row["resolved"]) == (
        "campaign",
        appeal.id,
        2,
        False,
    )
    assert row["agent"] is None
    assert await db_pool.fetchval("SELECT count(*) FROM appeals WHERE linkedid = '1718000100.1'") == 0
