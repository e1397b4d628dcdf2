"""The caller's wait in a queue, inside its FastAGI session: the IVR's ``enter_queue`` hand-off.

``QueueWait(service)`` is an ``IvrServices.enter_queue``. For one caller it

1. joins the ACD (``AcdService.join``); a closed queue or one without any agent logged in gives
   the call straight back (``closed`` / ``no_agents``), so the flow takes its after-hours branch;
2. starts music on hold (``EXEC StartMusicOnHold``) and announces the position and the
   estimated wait, on entry and every ``announce_every_s`` seconds;
3. waits in ``WAIT FOR DIGIT`` slices of ``wait_slice_ms``, so the callback key is heard and the
   ACD's decisions are noticed between slices (an AGI command cannot be interrupted);
4. on an ``Assignment`` rings the agent: ``EXEC Dial(<device>,<ring_timeout>,g)`` then ``GET
   VARIABLE DIALSTATUS``. ANSWER ends the wait (``answered``; the call was connected while Dial
   ran); NOANSWER, BUSY, CHANUNAVAIL put the caller back in its place and the wait goes on;
5. leaves with ``timeout`` (maximum wait), ``closed`` (the queue closed with ``close_waiting``)
   or ``no_agents`` (the last agent logged out), or ``callback_requested`` after the key;
6. a caller who hangs up is an abandon for the ACD; ``ChannelHungUp`` is re-raised so the IVR
   driver ends the run as a hang-up.

The prompt names are all in ``WaitPrompts``; Asterisk picks the language folder from
``CHANNEL(language)``, which the IVR has set.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from callcenter.acd.model import Assignment, CallbackGaveUp, CallerLeft, Decision
from callcenter.errors import CallcenterError
from callcenter.ivr.commands import Queue, QueueResult, QueueStatus
from callcenter.ivr.engine import CallInfo
from callcenter.logs import get_logger
from callcenter.services.acd import AcdService, CallerSlot, OfferInfo
from callcenter.telephony.agi_errors import ChannelHungUp
from callcenter.telephony.ivr_driver import IvrSessionPort

__all__ = ["QueueWait", "WaitPrompts"]

log = get_logger(__name__)

_LEFT: dict[str, QueueStatus] = {"timeout": "timeout", "closed": "closed", "no_queue": "no_agents"}


@dataclass(frozen=True)
class WaitPrompts:
    """Sound files of the wait (Asterisk's core queue sounds plus the callcenter's own)."""

    #: "you are caller number" + SAY NUMBER position
    position: str = "queue-thereare"
    position_after: str = "queue-callswaiting"
    #: "the estimated hold time is" + SAY NUMBER minutes + "minutes"
    wait_time: str = "queue-holdtime"
    minutes: str = "queue-minutes"
    #: "press star to be called back, you keep your place"
    callback_offer: str = "callcenter/queue-callback-offer"
    callback_confirmed: str = "callcenter/queue-callback-confirmed"
    thank_you: str = "queue-thankyou"


#: What the callcenter's own wait prompts say (Ukrainian, the line's language), for deployments
#: without studio recordings: synthesized at start by ``synthesize_wait_prompts``.
CALLBACK_OFFER_TEXT = "Щоб вам передзвонили і ваше місце в черзі збереглося, натисніть зірочку."
CALLBACK_CONFIRMED_TEXT = "Дякуємо. Ми передзвонимо вам, щойно звільниться оператор."


async def synthesize_wait_prompts(render: Callable[[str, str], Awaitable[str]]) -> WaitPrompts:
    """``WaitPrompts`` whose callcenter-specific sounds are text-to-speech files (``render`` is
    ``PromptSynthesizer.render_async``), so the callback offer is heard without a studio."""
    return WaitPrompts(
        callback_offer=await render(CALLBACK_OFFER_TEXT, "uk"),
        callback_confirmed=await render(CALLBACK_CONFIRMED_TEXT, "uk"),
    )


@runtime_checkable
class _FullVariables(Protocol):
    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None: ...


class QueueWait:
    """The ``enter_queue`` hand-off (see the module docstring)."""

    def __init__(
        self,
        service: AcdService,
        *,
        prompts: WaitPrompts | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self.service = service
        self.prompts = prompts or WaitPrompts()
        # Announcement times follow the service clock unless told otherwise (tests).
        self.monotonic = monotonic or service.clock

    async def __call__(self, session: IvrSessionPort, command: Queue, call: CallInfo) -> QueueResult:
        service = self.service
        call_id = call.uniqueid
        linkedid = await _linkedid(session, call_id)
        config = service.state.config
        info = OfferInfo(
            linkedid=linkedid,
            uniqueid=call.uniqueid,
            caller=call.caller,
            language=command.language,
            topic=command.topic,
            priority=command.priority,
            ivr_path=command.ivr_path,
        )
        bound = log.bind(uniqueid=call_id, queue=command.queue)
        if command.queue not in config.queues:
            bound.warning("queue_unknown")
            return QueueResult("no_agents")
        if not service.state.is_open(command.queue, service.clock()):
            return QueueResult("closed")
        if service.agents_logged_in(command.queue) == 0:
            bound.info("queue_no_agents")
            return QueueResult("no_agents")
        slot = service.join(call_id, command.queue, info, skills=dict.fromkeys(command.skills, 1))
        try:
            return await self._wait(session, slot)
        except ChannelHungUp:
            bound.info("queue_caller_hung_up")
            service.leave(call_id)
            raise
        except BaseException:
            service.leave(call_id)  # a driver error or cancellation must not leave a ghost caller
            raise

    async def _wait(self, session: IvrSessionPort, slot: CallerSlot) -> QueueResult:
        service, settings, prompts = self.service, self.service.settings, self.prompts
        key = settings.callback_key
        await self._hold(session, True)
        next_announce = self.monotonic()
        while True:
            decision = slot.pop()
            if decision is not None:
                result = await self._decide(session, slot, decision)
                if result is not None:
                    return result
                continue
            if service.agents_logged_in(slot.queue) == 0:
                await self._hold(session, False)
                service.leave(slot.call_id)
                return QueueResult("no_agents")
            digit: str | None = None
            if self.monotonic() >= next_announce:
                next_announce = self.monotonic() + settings.announce_every_s
                digit = await self._announce(session, slot)
            if digit is None:
                digit = await session.wait_for_digit(settings.wait_slice_ms)
            if digit == key and slot.contact and not slot.inbox:
                position = service.request_callback(slot.call_id)
                log.info("queue_callback_requested", uniqueid=slot.call_id, position=position)
                await self._hold(session, False)
                await session.stream_file(prompts.callback_confirmed)
                return QueueResult("callback_requested")

    async def _decide(
        self, session: IvrSessionPort, slot: CallerSlot, decision: Decision
    ) -> QueueResult | None:
        service = self.service
        if isinstance(decision, CallerLeft | CallbackGaveUp):
            await self._hold(session, False)
            service.slots.pop(slot.call_id, None)
            reason = decision.reason if isinstance(decision, CallerLeft) else "timeout"
            return QueueResult(_LEFT.get(reason, "timeout"))
        if not isinstance(decision, Assignment):
            return None
        await self._hold(session, False)
        service.offered(slot, decision)
        device = service.agent_device(decision.agent_id)
        await session.exec("Dial", f"{device},{max(1, math.ceil(decision.ring_timeout_s))},g")
        status = await session.get_variable("DIALSTATUS") or "CHANUNAVAIL"
        if status == "CANCEL":
            raise ChannelHungUp("the caller hung up while the agent's phone rang")
        # Only when AMI did not already report the answer (it was down or stalled): one more round trip.
        talked_s = await _answered_time(session) if status == "ANSWER" and not slot.connected else None
        service.ring_result(slot, decision.agent_id, status, talked_s=talked_s)
        if status == "ANSWER":
            return QueueResult("answered", decision.agent_id)
        await self._hold(session, True)
        return None

    async def _hold(self, session: IvrSessionPort, on: bool) -> None:
        if on:
            await session.exec("StartMusicOnHold", self.service.settings.moh_class)
        else:
            await session.exec("StopMusicOnHold")

    async def _announce(self, session: IvrSessionPort, slot: CallerSlot) -> str | None:
        """Position and estimated wait; returns a key pressed during it (the callback key)."""
        service, prompts, key = self.service, self.prompts, self.service.settings.callback_key
        now = service.clock()
        position = service.state.position(slot.call_id)
        if position is None:
            return None
        ewt = service.state.estimated_wait(slot.call_id, now)
        await self._hold(session, False)
        digit = (await session.stream_file(prompts.position, key)).digit
        digit = digit or await session.say_number(position, key)
        digit = digit or (await session.stream_file(prompts.position_after, key)).digit
        if ewt is not None and not digit:
            minutes = max(1, math.ceil(ewt / 60))
            digit = (await session.stream_file(prompts.wait_time, key)).digit
            digit = digit or await session.say_number(minutes, key)
            digit = digit or (await session.stream_file(prompts.minutes, key)).digit
        if slot.contact and not digit:
            digit = (await session.stream_file(prompts.callback_offer, key)).digit
        await self._hold(session, True)
        return digit


async def _answered_time(session: IvrSessionPort) -> float | None:
    """Seconds the agent's bridge lasted, from Dial's ANSWEREDTIME_MS (ANSWEREDTIME before 20)."""
    for name, unit in (("ANSWEREDTIME_MS", 1000.0), ("ANSWEREDTIME", 1.0)):
        try:
            value = await session.get_variable(name)
        except CallcenterError as exc:
            if isinstance(exc, ChannelHungUp):
                return None  # the call is over anyway; the answer time is then "now"
            value = None
        if value:
            try:
                return float(value) / unit
            except ValueError:
                continue
    return None


async def _linkedid(session: IvrSessionPort, fallback: str) -> str:
    """The call's linkedid (the id every leg of the call shares), or its uniqueid."""
    try:
        if isinstance(session, _FullVariables):
            value = await session.get_full_variable("${CHANNEL(linkedid)}")
        else:
            value = await session.get_variable("CHANNEL(linkedid)")
    except CallcenterError as exc:
        if isinstance(exc, ChannelHungUp):
            raise
        value = None
    return value or fallback
