"""Outbound survey campaign: closed appeals called in working hours, retries, do-not-call, once each."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.appeals.lifecycle import Close, SendToAuthority, SubmitAnswer, TakeInWork
from callcenter.services.survey_campaigns import CampaignSettings, SurveyCampaign, retry_delay
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.surveys import SurveyStore
from callcenter.telephony.dialplan_contract import SURVEY_AGI_VARIABLE, SURVEY_CONTEXT
from tests.integration.test_official_support import form

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 10:00 in Kyiv


@dataclass
class Reply:
    """The part of an OriginateResponse the campaign reads."""

    reason: int


@dataclass
class FakeAmi:
    """Answers Originates from a script of reasons per number (4 answered, 5 busy, 3 no answer)."""

    script: dict[str, list[int]]
    calls: list[tuple[str, str | None, Mapping[str, str]]] = field(default_factory=list)

    async def originate_and_wait(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
    ) -> Reply:
        self.calls.append((channel, context, dict(variables or {})))
        number = channel.removeprefix("PJSIP/").split("@")[0]
        return Reply(self.script[number].pop(0))


async def closed_appeal(repo: AppealRepository, linkedid: str, phone: str, at: datetime) -> Any:
    """A registered appeal with ``phone``, closed at ``at``."""
    opened = await repo.open_for_call(linkedid, caller=phone, dnid="1545", arrived_at=at - timedelta(days=5))
    appeal = await repo.register(
        opened.id, form(random.Random(1), phone=phone), actor="agent:1", at=at - timedelta(days=5)
    )
    await repo.transition(appeal.id, SendToAuthority("dep"), actor="op", at=at - timedelta(days=4))
    await repo.transition(appeal.id, TakeInWork(), actor="ex", at=at - timedelta(days=4))
    await repo.transition(appeal.id, SubmitAnswer("ok"), actor="ex", at=at)
    return await repo.transition(appeal.id, Close("9.1"), actor="head", at=at)


async def test_campaign_calls_each_closed_appeal_with_retries_and_respects_the_list(db_pool: Any) -> None:
    """Answered once → done; busy → retried with backoff then failed; do-not-call and old ones never rung."""
    repo = AppealRepository(db_pool)
    answers = await closed_appeal(repo, "cmp.1", "+380501110001", T0 - timedelta(days=1))
    busy = await closed_appeal(repo, "cmp.2", "+380501110002", T0 - timedelta(days=1))
    listed = await closed_appeal(repo, "cmp.3", "+380501110003", T0 - timedelta(days=2))
    old = await closed_appeal(repo, "cmp.4", "+380501110004", T0 - timedelta(days=40))
    store = SurveyStore(db_pool)
    await store.add_do_not_call("380501110003", by="sup1", at=T0, reason="asked not to be called")
    ami = FakeAmi({"380501110001": [4], "380501110002": [5, 3, 5]})
    now = [T0]
    open_hours = [False]
    campaign = SurveyCampaign(
        store,
        ami,
        CampaignSettings(
            agi_url="agi://10.0.0.5:4573/survey", concurrent=5, max_attempts=3, retry_base_s=1800
        ),
        is_open=lambda at: open_hours[0],
        clock=lambda: now[0],
    )

    assert await campaign.run_once() == []  # closed hours: enrolled, nobody rung
    assert ami.calls == []
    open_hours[0] = True
    first = dict(await campaign.run_once())
    assert first == {answers.id: "answered", busy.id: "busy"}
    channel, context, variables = sorted(ami.calls)[0]
    assert channel == "PJSIP/380501110001@trunk" and context == SURVEY_CONTEXT
    assert variables[SURVEY_AGI_VARIABLE] == f"agi://10.0.0.5:4573/survey?campaign=1&appeal={answers.id}"
    state = await store.campaign_state(busy.id)
    assert state is not None and state["state"] == "pending" and state["attempts"] == 1
    assert state["next_attempt_at"] == T0 + retry_delay(1, 1800)

    now[0] = T0 + timedelta(minutes=10)
    assert await campaign.run_once() == []  # the retry is not due yet
    now[0] = T0 + timedelta(minutes=31)
    assert await campaign.run_once() == [(busy.id, "no_answer")]
    now[0] = T0 + timedelta(hours=2)
    assert await campaign.run_once() == [(busy.id, "busy")]
    final = await store.campaign_state(busy.id)
    assert final is not None and (final["state"], final["attempts"]) == ("failed", 3)
    assert (await store.campaign_state(answers.id) or {})["state"] == "done"
    assert (await store.campaign_state(listed.id) or {})["last_result"] == "do_not_call"
    assert await store.campaign_state(old.id) is None
    now[0] = T0 + timedelta(days=1)
    assert await campaign.run_once() == []
    assert len(ami.calls) == 4  # 1 + 3 attempts, nobody else


async def test_a_number_listed_after_enrolment_is_not_rung(db_pool: Any) -> None:
    """A number put on the do-not-call list after its appeal was enrolled is skipped at dial time."""
    repo = AppealRepository(db_pool)
    appeal = await closed_appeal(repo, "cmp.late", "+380501110009", T0)
    store = SurveyStore(db_pool)
    ami = FakeAmi({})
    campaign = SurveyCampaign(store, ami, is_open=lambda at: False, clock=lambda: T0 + timedelta(hours=1))
    await campaign.run_once()
    assert (await store.campaign_state(appeal.id) or {})["state"] == "pending"
    await store.add_do_not_call("380501110009", by="sup1", at=T0)
    campaign = SurveyCampaign(store, ami, is_open=lambda at: True, clock=lambda: T0 + timedelta(hours=1))
    assert await campaign.run_once() == [] and ami.calls == []
    assert (await store.campaign_state(appeal.id) or {})["state"] == "skipped"


async def test_a_call_cut_short_by_a_stop_is_tried_again(db_pool: Any) -> None:
    """A row left 'calling' (the backend stopped mid-call) returns to pending and is rung again."""
    repo = AppealRepository(db_pool)
    appeal = await closed_appeal(repo, "cmp.stale", "+380501110010", T0)
    store = SurveyStore(db_pool)
    await store.enrol_closed(T0 - timedelta(days=1), T0)
    [claimed] = [
        c for c in await store.claim_due(T0 + timedelta(hours=1), limit=10) if c.appeal_id == appeal.id
    ]
    assert (await store.campaign_state(appeal.id) or {})["state"] == "calling"
    ami = FakeAmi({"380501110010": [4]})
    later = T0 + timedelta(hours=2)
    campaign = SurveyCampaign(store, ami, is_open=lambda at: True, clock=lambda: later)
    assert (appeal.id, "answered") in await campaign.run_once()
    state = await store.campaign_state(appeal.id)
    assert state is not None and (state["state"], state["attempts"]) == ("done", claimed.attempts + 1)
