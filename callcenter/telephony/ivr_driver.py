"""Runs the IVR engine inside a FastAGI session: engine commands in, AGI commands out.

The engine (``callcenter.ivr``) yields commands and takes results; this adapter performs each
command with the session's AGI methods and sends the result back:

| engine command  | AGI                                                                    |
|-----------------|------------------------------------------------------------------------|
| Play            | STREAM FILE per prompt (text prompts are synthesized first)             |
| WaitDigit       | WAIT FOR DIGIT                                                          |
| CollectDigits   | GET DATA (one prompt), else STREAM FILE + WAIT FOR DIGIT per key        |
| Say             | SAY DIGITS / SAY NUMBER / SAY DATE                                      |
| SetVariable     | SET VARIABLE                                                            |
| Lookup          | none: the injected lookup function (the database)                       |
| Record          | RECORD FILE                                                             |
| Queue           | none here: the injected ACD hand-off, which keeps the caller waiting    |
| Transfer        | EXEC Dial + GET VARIABLE DIALSTATUS                                     |
| Hangup          | HANGUP                                                                  |

A caller who hangs up ends the run with the partial path (``ChannelHungUp``). A run that ends
without hanging up (step limit, a missing flow, an AGI error) returns to the dialplan with
``CC_IVR_RESULT`` set, and the shipped dialplan sends the call to its survival queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from callcenter.errors import CallcenterError
from callcenter.ivr.commands import (
    ALL_KEYS,
    CollectDigits,
    Command,
    Digits,
    Hangup,
    KeyPress,
    Lookup,
    LookupResult,
    Play,
    Prompt,
    Queue,
    QueueResult,
    Record,
    Recording,
    Result,
    Say,
    SetVariable,
    Transfer,
    TransferResult,
    WaitDigit,
)
from callcenter.ivr.engine import CallInfo, EngineError, FlowEnvironment, FlowRun, Outcome
from callcenter.ivr.model import Flow
from callcenter.logs import get_logger, mask_phone
from callcenter.telephony.agi_errors import AgiError, ChannelHungUp
from callcenter.telephony.agi_protocol import AgiEnvironment
from callcenter.telephony.agi_session import DigitsResult, PlaybackResult, RecordResult
from callcenter.telephony.dialplan_contract import TRANSFER_CONTEXT

__all__ = ["IvrRoute", "IvrServices", "IvrSessionPort", "run_ivr"]

KYIV = ZoneInfo("Europe/Kyiv")
#: Asterisk's recordings are 8 kHz: RECORD FILE's endpos counts samples.
_SAMPLES_PER_MS = 8
log = get_logger("callcenter.telephony.ivr")


class IvrSessionPort(Protocol):
    """The part of ``AgiSession`` the driver uses (an in-memory fake implements it in tests)."""

    @property
    def env(self) -> AgiEnvironment:
        """The call's ``agi_*`` header."""
        ...

    async def answer(self) -> None: ...
    async def stream_file(
        self, file: str, escape_digits: str = "", offset: int | None = None
    ) -> PlaybackResult: ...
    async def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> DigitsResult: ...
    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...
    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None: ...
    async def say_number(self, number: int, escape_digits: str = "") -> str | None: ...
    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None: ...
    async def set_variable(self, name: str, value: str) -> None: ...
    async def get_variable(self, name: str) -> str | None: ...
    async def exec(self, application: str, options: str = "") -> int: ...
    async def record_file(
        self,
        file: str,
        fmt: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = 60000,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> RecordResult: ...
    async def hangup(self) -> None: ...


PromptRenderer = Callable[[str, str], Awaitable[str]]
LookupFunction = Callable[[str, str], Awaitable[Mapping[str, str] | None]]
QueueHandoff = Callable[[IvrSessionPort, Queue, CallInfo], Awaitable[QueueResult]]
OutcomeSink = Callable[[AgiEnvironment, Outcome], Awaitable[None]]


@dataclass(frozen=True)
class IvrServices:
    """What the driver needs besides the session.

    ``render_prompt(text, language)`` gives a sound file name for text (``PromptSynthesizer.
    render_async``); ``lookup(kind, key)`` answers lookup nodes (None: not found);
    ``enter_queue`` hands the caller to the ACD and returns when it gives the call back;
    ``on_outcome`` receives every finished run (appeal record, analytics).
    ``transfer_channel`` is the Dial string for outside numbers; ``recordings_dir`` is where
    Asterisk writes voice messages (a path on the PBX).
    """

    render_prompt: PromptRenderer
    lookup: LookupFunction
    enter_queue: QueueHandoff
    on_outcome: OutcomeSink | None = None
    transfer_channel: str = f"Local/{{number}}@{TRANSFER_CONTEXT}"  # dialplan_contract.transfer_channel
    recordings_dir: str = "/var/spool/asterisk/callcenter"
    answer: bool = True


class _Performer:
    """Carries out one call's commands on its session."""

    def __init__(self, session: IvrSessionPort, services: IvrServices, call: CallInfo) -> None:
        self.session = session
        self.services = services
        self.call = call
        self.recordings = 0

    async def sound(self, prompt: Prompt) -> str:
        if prompt.file is not None:
            return prompt.file
        assert prompt.text is not None, "a validated flow has a file or a text for every language"
        return await self.services.render_prompt(prompt.text, prompt.language)

    async def perform(self, command: Command) -> Result:
        session = self.session
        if isinstance(command, Play):
            for prompt in command.prompts:
                played = await session.stream_file(await self.sound(prompt), command.escape_digits)
                if played.digit is not None:
                    return KeyPress(played.digit)
            return KeyPress(None)
        if isinstance(command, WaitDigit):
            return KeyPress(await session.wait_for_digit(command.timeout_ms))
        if isinstance(command, CollectDigits):
            return await self.collect(command)
        if isinstance(command, Say):
            if command.kind == "digits":
                await session.say_digits(command.value, command.escape_digits)
            elif command.kind == "number":
                await session.say_number(int(command.value), command.escape_digits)
            else:
                await session.say_date(int(command.value), command.escape_digits)
            return None
        if isinstance(command, SetVariable):
            await session.set_variable(command.name, command.value)
            return None
        if isinstance(command, Lookup):
            return await self.lookup(command)
        if isinstance(command, Record):
            return await self.record(command)
        if isinstance(command, Queue):
            return await self.services.enter_queue(session, command, self.call)
        if isinstance(command, Transfer):
            dial = self.services.transfer_channel.format(number=command.number)
            await session.exec("Dial", f"{dial},{command.timeout_s}")
            return TransferResult(await session.get_variable("DIALSTATUS") or "CHANUNAVAIL")
        if isinstance(command, Hangup):
            await session.hangup()
            return None
        raise EngineError(f"the driver cannot perform {command!r}")

    async def collect(self, command: CollectDigits) -> Digits:
        """GET DATA when it fits (one prompt, # ends); otherwise key by key, so earlier keys count."""
        if not command.initial and len(command.prompts) == 1 and command.terminator == "#":
            got = await self.session.get_data(
                await self.sound(command.prompts[0]), command.timeout_ms, command.max_digits
            )
            return Digits(got.digits, got.timed_out)
        digits = command.initial
        if not digits:
            for prompt in command.prompts:
                played = await self.session.stream_file(await self.sound(prompt), ALL_KEYS)
                if played.digit is not None:
                    digits = played.digit
                    break
        terminator = command.terminator
        while len(digits) < command.max_digits and not (terminator and digits.endswith(terminator)):
            digit = await self.session.wait_for_digit(command.timeout_ms)
            if digit is None:
                return Digits(digits, timed_out=True)
            digits += digit
        return Digits(digits.removesuffix(terminator) if terminator else digits)

    async def lookup(self, command: Lookup) -> LookupResult:
        try:
            values = await self.services.lookup(command.kind, command.key)
        except Exception:
            # A failed lookup (database down) must not drop the call: the flow takes `not_found`.
            log.exception("ivr_lookup_failed", kind=command.kind, uniqueid=self.call.uniqueid)
            return LookupResult(False)
        return LookupResult(values is not None, dict(values or {}))

    async def record(self, command: Record) -> Recording:
        self.recordings += 1
        base = f"{self.services.recordings_dir}/ivr-{self.call.uniqueid}-{self.recordings}"
        got = await self.session.record_file(
            base,
            "wav",
            command.escape_digits,
            command.max_seconds * 1000,
            command.beep,
            command.silence_seconds,
        )
        if got.endpos <= 0:
            return Recording(None, 0)
        return Recording(f"{base}.wav", got.endpos // _SAMPLES_PER_MS)


def call_info(env: AgiEnvironment, now: dt.datetime) -> CallInfo:
    """The engine's view of a FastAGI call. The language comes from the route (``?lang=en``), not
    from ``agi_language``, which is Asterisk's channel default rather than the caller's choice."""
    return CallInfo(
        uniqueid=env.uniqueid,
        caller=env.callerid,
        now=now,
        dnid=env.dnid,
        language=env.query.get("lang"),
        variables=dict(env.query),
    )


async def run_ivr(
    session: IvrSessionPort,
    flow: Flow,
    environment: FlowEnvironment,
    services: IvrServices,
    *,
    now: dt.datetime | None = None,
) -> Outcome:
    """Run ``flow`` for the call on ``session`` until it ends; return how it ended."""
    call = call_info(session.env, now or dt.datetime.now(KYIV))
    run = FlowRun(flow, call, environment)
    performer = _Performer(session, services, call)
    bound = log.bind(uniqueid=call.uniqueid, flow=flow.name)
    bound.info("ivr_start", caller=mask_phone(call.caller), flow_digest=flow.digest[:12])
    steps = run.commands()
    try:
        if services.answer:
            await session.answer()
        command = next(steps)
        while True:
            command = steps.send(await performer.perform(command))
    except StopIteration as stop:
        outcome: Outcome = stop.value
    except ChannelHungUp:
        steps.close()
        outcome = run.caller_hung_up()
    except (CallcenterError, EngineError, ValueError) as exc:
        # An AGI failure (a missing application, a refused command), a prompt that cannot be
        # synthesized, or a driver bug: leave the call to the dialplan's survival path.
        steps.close()
        bound.exception("ivr_failed", node=run.path.nodes[-1:] or None)
        outcome = run.failed(f"{type(exc).__name__}: {exc}")
    await _report(session, outcome)
    if services.on_outcome is not None:
        await services.on_outcome(session.env, outcome)
    return outcome


async def _report(session: IvrSessionPort, outcome: Outcome) -> None:
    """Tell the dialplan how the flow ended (SET VARIABLE works on a dead channel too)."""
    try:
        await session.set_variable("CC_IVR_RESULT", outcome.reason)
    except AgiError:
        pass  # the session is gone altogether; the outcome is still returned and recorded
    log.info(
        "ivr_end",
        uniqueid=session.env.uniqueid,
        reason=outcome.reason,
        detail=outcome.detail,
        nodes=len(outcome.path.steps),
        language=outcome.path.language,
    )


class IvrRoute:
    """A FastAGI route handler: runs the active version of the flow named by the route."""

    def __init__(
        self,
        flows: Callable[[str], Flow | None],
        environment: FlowEnvironment,
        services: IvrServices,
    ) -> None:
        self.flows = flows
        self.environment = environment
        self.services = services

    async def __call__(self, session: IvrSessionPort) -> None:
        """Handle one call; an unknown route returns to the dialplan with CC_IVR_RESULT=no_flow."""
        flow = self.flows(session.env.network_script)
        if flow is None:
            log.warning("ivr_no_flow", route=session.env.network_script, uniqueid=session.env.uniqueid)
            await session.set_variable("CC_IVR_RESULT", "no_flow")
            return
        await run_ivr(session, flow, self.environment, self.services)
