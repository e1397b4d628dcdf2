"""The call pipeline: what the backend does with every call that reaches it over FastAGI.

One ``CallPipeline`` is the route handler of the hotline flows. For each call it

1. learns the call's linkedid (the key of everything about the call) and opens its appeal
   record at once, so a call that ends a second later still leaves a record;
2. runs the IVR flow (``telephony.ivr_driver``), whose queue nodes go through ``enter_queue``
   below: the record learns the queue, the answer or the callback request as they happen;
3. when the flow ends, writes the IVR path and the end of the call into the record, publishes
   ``CallFinished`` and counts the outcome in the metrics.

Every database write is idempotent (keyed by linkedid), so a retried or replayed step changes
nothing. A failure to write never drops the call: it is logged and the caller goes on.

Only the opening write is awaited on the call's path. The later steps are written behind the
call, in order per call (each waits for the call's previous one): a slow database must not show
up as silence between two prompts. ``close`` gives the steps still in flight time to land.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog

from callcenter.appeals.calls import (
    AfterHours,
    AgentAnswered,
    CallbackRequested,
    CallEnded,
    CallProgress,
    EnteredQueue,
    IvrChoice,
)
from callcenter.bus import EventBus
from callcenter.errors import CallcenterError
from callcenter.ivr.commands import Queue, QueueResult
from callcenter.ivr.engine import CallInfo, FlowEnvironment, Outcome
from callcenter.ivr.model import Flow
from callcenter.logs import get_logger, mask_phone
from callcenter.services.live_events import TOPIC_CALLS, CallArrived, CallFinished
from callcenter.services.write_retry import RetryingWriter
from callcenter.telephony.agi_errors import AgiError
from callcenter.telephony.agi_protocol import AgiEnvironment
from callcenter.telephony.ivr_driver import IvrServices, IvrSessionPort, run_ivr
from callcenter.web.metrics import CallMetrics

__all__ = ["CallPipeline", "HandBackToDialplan", "analytics_outcome"]

log = get_logger(__name__)


class HandBackToDialplan(AgiError):
    """The backend gives the call back to the dialplan's survival path (no flow, or the flow
    ended without ending the call). The FastAGI server then answers FAILURE, so the dialplan's
    AGISTATUS and CC_HANDLED checks both send the call to the survival queue."""


QueueHandoff = Callable[[IvrSessionPort, Queue, CallInfo], Awaitable[QueueResult]]
Clock = Callable[[], dt.datetime]


def analytics_outcome(outcome: Outcome) -> str:
    """The call's outcome in the analytics' vocabulary (``docs/kpi.md``) from how the flow ended."""
    results = [q["status"] for q in outcome.path.queue_results]
    if outcome.reason == "answered" or "answered" in results:
        return "answered"
    if outcome.reason == "transferred":
        return "transferred"
    if "callback_requested" in results:
        return "callback"
    if "closed" in results or outcome.path.variables.get("after_hours") == "1":
        return "after_hours"
    if not outcome.hung_up:
        return "survival_path"  # the flow gave the call back to the dialplan
    if results:
        return "abandoned_queue"
    return "abandoned_ivr" if outcome.reason == "caller_hangup" else "ivr_completed"


@dataclass
class _Call:
    linkedid: str
    queue: str | None = None
    agent: str | None = None


class CallPipeline:
    """FastAGI route handler for the hotline flows (see the module docstring)."""

    def __init__(
        self,
        *,
        flows: Callable[[str], Flow | None],
        environment: Callable[[], FlowEnvironment],
        services: IvrServices,
        appeals: Any,
        bus: EventBus,
        metrics: CallMetrics,
        clock: Clock,
        recordings: Any = None,
        surveys: Any = None,
    ) -> None:
        """``services.enter_queue`` is the ACD's hand-off; the pipeline wraps it to follow the call.

        ``appeals`` is an ``AppealRepository`` (or anything with ``open_for_call`` and
        ``apply_call_progress``); ``environment`` gives the current flows and schedules;
        ``recordings`` (a ``RecordingService``, optional) records the conversation from the answer;
        ``surveys`` (a ``SurveyService``, optional) stores the post-call survey's answers.
        """
        self._flows = flows
        self._environment = environment
        self._enter_queue: QueueHandoff = services.enter_queue
        self._services = replace(services, enter_queue=self._queue, on_outcome=self._finished)
        self._appeals = appeals
        self._bus = bus
        self._metrics = metrics
        self._clock = clock
        self._recordings = recordings
        self._surveys = surveys
        self._calls: dict[str, _Call] = {}
        #: the record's writes, retried in order while the database is away (a restart)
        self.writes = RetryingWriter("appeals")
        #: per linkedid, the last step written behind the call (the next one waits for it)
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    @property
    def steps_in_flight(self) -> int:
        """Record steps scheduled behind calls and not written (or queued for retry) yet."""
        return len(self._in_flight)

    async def settled(self) -> None:
        """Wait until every step scheduled so far has been written or queued for retrying."""
        while self._in_flight:
            # asyncio.wait, not gather: a caller's timeout must not cancel the writes themselves.
            await asyncio.wait(set(self._in_flight))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let record writes still in flight or waiting for the database through, then stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.settled()
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            log.error("record_steps_lost_at_stop", count=len(self._in_flight))
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self.writes.close()

    async def __call__(self, session: IvrSessionPort) -> None:
        env = session.env
        flow = self._flows(env.network_script)
        if flow is None:
            await session.set_variable("CC_IVR_RESULT", "no_flow")
            raise HandBackToDialplan(f"no active flow named {env.network_script!r}")
        linkedid = await self._linkedid(session)
        self._calls[env.uniqueid] = _Call(linkedid)
        with structlog.contextvars.bound_contextvars(uniqueid=env.uniqueid, linkedid=linkedid):
            now = self._clock()
            try:
                appeal = await self.writes.write(
                    "open",
                    lambda: self._appeals.open_for_call(
                        linkedid, caller=env.callerid, dnid=env.dnid, arrived_at=now
                    ),
                )
                if appeal is not None:
                    structlog.contextvars.bind_contextvars(appeal_id=str(appeal.id))
            except CallcenterError:
                log.exception("appeal_open_failed")
            self._bus.publish(
                TOPIC_CALLS,
                CallArrived(linkedid, env.uniqueid, env.callerid, env.dnid, flow.name, now.timestamp()),
            )
            log.info("call_arrived", caller=mask_phone(env.callerid), flow=flow.name)
            try:
                outcome = await run_ivr(session, flow, self._environment(), self._services, now=now)
            finally:
                self._calls.pop(env.uniqueid, None)
            if not outcome.hung_up and outcome.reason != "caller_hangup":
                raise HandBackToDialplan(
                    f"flow ended with {outcome.reason}: the survival path takes the call"
                )

    async def _linkedid(self, session: IvrSessionPort) -> str:
        """The call's linkedid: the caller's first channel's uniqueid, shared by every leg."""
        getter = getattr(session, "get_full_variable", None)
        if getter is not None:
            try:
                value = await getter("${CHANNEL(linkedid)}")
            except AgiError:
                value = None
            if value:
                return str(value)
        return session.env.uniqueid

    def _progress_behind(self, event: CallProgress) -> None:
        """Write ``event`` after the call's earlier steps, without holding up the call."""
        key = event.linkedid
        task = asyncio.create_task(
            self._progress_after(self._tails.get(key), event),
            name=f"record-{type(event).__name__}",
            context=contextvars.copy_context(),  # the call's log context
        )
        self._tails[key] = task
        self._in_flight.add(task)
        task.add_done_callback(lambda done: self._step_done(key, done))

    def _step_done(self, key: str, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def _progress_after(self, previous: asyncio.Task[None] | None, event: CallProgress) -> None:
        if previous is not None:
            # Its failures are logged inside; only its end matters here (order per call).
            await asyncio.gather(previous, return_exceptions=True)
        await self._progress(event)

    async def _progress(self, event: CallProgress) -> None:
        try:
            # A database that is away (restarting) queues the step for retrying: the call goes on.
            await self.writes.write(type(event).__name__, lambda: self._appeals.apply_call_progress(event))
        except CallcenterError:
            # The call goes on; the record misses one step, which the log shows with its linkedid.
            log.exception("appeal_progress_failed", progress=type(event).__name__)

    async def _queue(self, session: IvrSessionPort, command: Queue, info: CallInfo) -> QueueResult:
        call = self._calls.get(session.env.uniqueid)
        if call is None:  # not our call (a direct driver use): just hand over
            return await self._enter_queue(session, command, info)
        now = self._clock()
        call.queue = command.queue
        if command.topic:
            self._progress_behind(IvrChoice(call.linkedid, "topic", command.topic, now))
        self._progress_behind(EnteredQueue(call.linkedid, command.queue, now))
        if self._recordings is not None:
            # MixMonitor with option b records only while bridged: from the agent's answer. The
            # caller heard the recording notice in the flow's greeting. It never raises.
            await self._recordings.start_recording(session, call.linkedid, now)
        result = await self._enter_queue(session, command, info)
        now = self._clock()
        if result.status == "answered" and result.agent:
            call.agent = result.agent
            self._progress_behind(AgentAnswered(call.linkedid, result.agent, now))
        elif result.status == "callback_requested":
            self._progress_behind(CallbackRequested(call.linkedid, now))
        elif result.status == "closed":
            self._progress_behind(AfterHours(call.linkedid, now))
        return result

    async def _finished(self, env: AgiEnvironment, outcome: Outcome) -> None:
        call = self._calls.get(env.uniqueid) or _Call(env.uniqueid)
        now = self._clock()
        for step in outcome.path.steps:
            if step.digits:
                self._progress_behind(IvrChoice(call.linkedid, step.node, "".join(step.digits), now))
        if outcome.path.language:
            self._progress_behind(IvrChoice(call.linkedid, "language", outcome.path.language, now))
        result = analytics_outcome(outcome)
        if result == "after_hours":
            self._progress_behind(AfterHours(call.linkedid, now))
        if outcome.hung_up:
            self._progress_behind(CallEnded(call.linkedid, now))
        if self._recordings is not None and call.queue is not None:
            self._recordings.schedule_finish(call.linkedid, now)
        if self._surveys is not None:
            try:
                await self._surveys.record_outcome(call.linkedid, outcome, agent=call.agent, queue=call.queue)
            except CallcenterError:
                log.exception("survey_store_failed")
        self._metrics.observe_call_end(call.queue or "", result)
        self._bus.publish(
            TOPIC_CALLS, CallFinished(call.linkedid, result, call.queue, call.agent, now.timestamp())
        )
        log.info("call_finished", outcome=result, queue=call.queue, ivr_reason=outcome.reason)
