"""Wiring of the call-handling services: the part of the composition root that knows the features.

``app.start_runtime`` builds the shared resources (database, bus, metrics, AMI, FastAGI, web
application); ``start_call_handling`` builds on them what handles calls and serves the pages:
the ACD with its queue files, the IVR flows with their versions, the call pipeline that the
FastAGI server routes every flow to, the call-fact writer, and the web features (agent desk,
appeals API, agent controls, flow editor). Each service is started here and its stop is pushed
on the exit stack, so they stop in the reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.acd.router import KYIV
from callcenter.analytics.rollup import ALL, RollupPolicy
from callcenter.ivr.engine import FlowEnvironment
from callcenter.prompts import PromptSynthesizer
from callcenter.services.acd import AcdService
from callcenter.services.ami_calls import AmiCallEvents, agent_resolver
from callcenter.services.caller_categories import with_caller_priority
from callcenter.services.calls import CallPipeline
from callcenter.services.content_alerts import (
    ContentAlertService,
    ContentAlertSettings,
    topic_names_from_classifier,
)
from callcenter.services.facts_writer import FactsWriter
from callcenter.services.flows import FlowService
from callcenter.services.live_stats import LiveStats
from callcenter.services.lookups import IvrLookups
from callcenter.services.queue_config import QueueConfigStore
from callcenter.services.queue_wait import QueueWait, WaitPrompts, synthesize_wait_prompts
from callcenter.services.recordings import DiskMonitor, RecordingService
from callcenter.services.reminders import ReminderService
from callcenter.services.retention import RetentionJob
from callcenter.services.survey_campaigns import CampaignSettings, SurveyCampaign
from callcenter.services.surveys import SURVEY_FLOW, SurveyService, survey_route
from callcenter.storage.analytics import AnalyticsStore
from callcenter.storage.recordings import RecordingRepository
from callcenter.storage.surveys import SurveyStore
from callcenter.telephony.ivr_driver import IvrServices
from callcenter.web import (
    agents_api,
    appeals_api,
    authorities_api,
    authority_inbox,
    content_api,
    desk,
    flows_api,
    home,
    public_appeals,
    public_stats,
    recordings_api,
    wallboard,
)
from callcenter.web.analytics_page import setup_analytics
from callcenter.web.metrics import LiveSnapshot

if TYPE_CHECKING:
    from callcenter.app import Runtime

__all__ = ["CallHandling", "start_call_handling"]


@dataclass
class CallHandling:
    """The services ``start_call_handling`` started."""

    acd: AcdService
    queue_config: QueueConfigStore
    flows: FlowService
    pipeline: CallPipeline
    facts: FactsWriter


def _live_snapshot(acd: AcdService) -> LiveSnapshot:
    snap = acd.snapshot()
    queues = snap["queues"]
    agents_by_state: dict[str, int] = {}
    for agent in snap["agents"]:
        agents_by_state[agent["state"]] = agents_by_state.get(agent["state"], 0) + 1
    return LiveSnapshot(
        waiting_calls={name: stats.waiting for name, stats in queues.items()},
        longest_wait_seconds={name: stats.longest_wait_s for name, stats in queues.items()},
        agents_by_state=agents_by_state,
        callbacks_pending={name: stats.callbacks_pending for name, stats in queues.items()},
    )


def _rollup_policy(acd: AcdService) -> RollupPolicy:
    def is_open(queue: str, at: dt.datetime) -> bool:
        names: Iterable[str] = acd.state.config.queues if queue == ALL else (queue,)
        return any(
            acd.state.is_open(name, at.timestamp()) for name in names if name in acd.state.config.queues
        )

    def target_s(queue: str) -> float:
        config = acd.state.config.queues.get(queue)
        return float(config.sl_target_s) if config is not None else 20.0

    return RollupPolicy(is_open=is_open, target_s=target_s)


def _agent_queues(acd: AcdService, agent_id: str) -> list[str]:
    """The queues whose required skills the agent has (for the agent's staffed time per queue)."""
    agent = acd.state.config.agents.get(agent_id)
    if agent is None:
        return []
    return [
        queue.name
        for queue in acd.state.config.queues.values()
        if all(agent.skills.get(skill, 0) >= level for skill, level in queue.skills.items())
    ]


async def start_call_handling(runtime: Runtime, stack: contextlib.AsyncExitStack) -> CallHandling:
    """Start every call-handling service and add the feature routes to ``runtime.web_app``."""
    settings, pool, bus = runtime.settings, runtime.database.pool, runtime.bus

    acd_holder: list[AcdService] = []
    queue_config = QueueConfigStore(
        settings.paths.queue_dir, lambda loaded: acd_holder[0].reconfigure(loaded)
    )
    acd = AcdService(queue_config.load(), bus, ami=runtime.ami)
    acd_holder.append(acd)
    await acd.start()
    stack.push_async_callback(acd.stop)
    await queue_config.start()
    stack.push_async_callback(queue_config.stop)
    runtime.metrics.live_source = lambda: _live_snapshot(acd)

    synthesizer = PromptSynthesizer(settings.paths.sounds_dir)
    flows = FlowService.from_settings(
        settings, pool, synthesizer=synthesizer if settings.ivr.prerender_prompts else None
    )
    await flows.start()
    stack.push_async_callback(flows.stop)

    # The callback offer and its confirmation, synthesized like the flows' text prompts (with
    # pre-rendering off, as in tests, the file names stay those a studio would record).
    wait_prompts = (
        await synthesize_wait_prompts(synthesizer.render_async)
        if settings.ivr.prerender_prompts
        else WaitPrompts()
    )
    services = IvrServices(
        render_prompt=synthesizer.render_async,
        lookup=IvrLookups(runtime.appeals),
        # The caller's benefit categories (from their registered appeals) raise the queue priority.
        enter_queue=with_caller_priority(
            QueueWait(acd, prompts=wait_prompts), runtime.appeals, lambda: acd.state.config
        ),
    )
    root = settings.paths.recordings_dir
    root.mkdir(parents=True, exist_ok=True)
    recording_repo = RecordingRepository(pool)
    recordings = RecordingService(recording_repo, runtime.appeals, root, DiskMonitor(root))
    retention = RetentionJob(recording_repo, root, clock=lambda: dt.datetime.now(dt.UTC))
    stop_background = asyncio.Event()
    background = [
        asyncio.create_task(recordings.disk.watch(60.0, stop_background), name="recordings-disk"),
        asyncio.create_task(
            retention.run_forever(3600.0, stop_background, recordings=recordings), name="recordings-retention"
        ),
    ]

    async def stop_recordings() -> None:
        stop_background.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await recordings.drain()

    stack.push_async_callback(stop_recordings)
    recordings_api.register_metrics(runtime.metrics, recordings)

    survey_store = SurveyStore(pool)
    surveys = SurveyService(survey_store)

    pipeline = CallPipeline(
        flows=flows.get,
        environment=lambda: FlowEnvironment(flows.setup.schedules, flows=flows.flows),
        services=services,
        appeals=runtime.appeals,
        bus=bus,
        metrics=runtime.metrics,
        clock=lambda: dt.datetime.now(KYIV),
        recordings=recordings,
        surveys=surveys,
    )
    runtime.agi.set_default_route(pipeline)
    # Outbound survey calls run the survey flow outside the pipeline (no appeal record).
    runtime.agi.add_route(
        SURVEY_FLOW,
        survey_route(flows.get, FlowEnvironment(flows.setup.schedules, flows=flows.flows), services, surveys),
    )
    if settings.surveys.campaign_enabled and runtime.ami is not None:
        campaign_queue = settings.surveys.queue
        campaign = SurveyCampaign(
            survey_store,
            runtime.ami,
            CampaignSettings(agi_url=settings.surveys.agi_url, caller_id=settings.surveys.caller_id or None),
            is_open=lambda at: acd.state.is_open(campaign_queue, at.timestamp()),
        )
        await campaign.start()
        stack.push_async_callback(campaign.stop)

    content = ContentAlertService(
        pool,
        ContentAlertSettings(
            interval_s=settings.content_alerts.interval_s,
            webhook_url=settings.content_alerts.webhook_url,
            webhook_secret=settings.content_alerts.webhook_secret or None,
        ),
        topic_names=topic_names_from_classifier(runtime.appeals.classifier),
    )
    await content.start()
    stack.push_async_callback(content.stop)
    stack.push_async_callback(pipeline.close)

    facts = FactsWriter(
        bus,
        AnalyticsStore(pool, _rollup_policy(acd)),
        agent_queues=lambda agent: _agent_queues(acd, agent),
    )
    await facts.start()
    stack.push_async_callback(facts.stop)

    # What only AMI sees: holds, transfers, and the end of survival-path calls.
    ami_calls = AmiCallEvents(
        bus,
        runtime.appeals,
        agent_of_device=agent_resolver(lambda: {a: acd.agent_device(a) for a in acd.state.config.agents}),
    )
    await ami_calls.start(runtime.ami)
    stack.push_async_callback(ami_calls.stop)

    app = runtime.web_app
    app.add_routes(home.routes)
    app[agents_api.ACD_SERVICE] = acd
    app[agents_api.QUEUE_CONFIG] = queue_config
    app.add_routes(agents_api.routes)
    appeals_api.setup(app, runtime.appeals)
    public_appeals.setup(app, runtime.appeals, pool)
    authority_store = authorities_api.setup(app, pool)
    authority_inbox.setup(app)
    await authorities_api.seed_shipped(authority_store)
    reminders = ReminderService(authority_store)
    await reminders.start()
    stack.push_async_callback(reminders.stop)
    desk.setup(app, bus)
    flows_api.setup(app, flows)
    setup_analytics(app)
    content_api.setup(app)
    public_stats.setup(app)
    wallboard.setup(
        app,
        LiveStats(bus, acd, policy=_rollup_policy(acd), observer=runtime.metrics),
        acd=acd,
        ami=runtime.ami,
        supervise=wallboard.SuperviseSettings(
            phones=dict(pair.split("=", 1) for pair in settings.supervise.phones),
        ),
    )
    recordings_api.setup(
        app,
        recordings_api.RecordingsApi(recording_repo, runtime.appeals, root, retention),
    )
    return CallHandling(acd, queue_config, flows, pipeline, facts)
