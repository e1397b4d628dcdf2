"""Fakes for the ACD runtime tests: a clock the test moves, a scripted AGI session, a fake AMI.
No tests here; the unit and integration tests of ``callcenter.services`` import these.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from callcenter.acd.loader import LoadedAcd, load_acd_config
from callcenter.bus import EventBus, Subscription
from callcenter.ivr.commands import Queue
from callcenter.ivr.engine import CallInfo
from callcenter.services.acd import AcdService, AcdSettings, AmiPort
from callcenter.telephony.agi_errors import ChannelHungUp
from callcenter.telephony.agi_protocol import AgiEnvironment, parse_environment
from callcenter.telephony.agi_session import DigitsResult, PlaybackResult, RecordResult
from callcenter.telephony.events import (
    AmiEvent,
    ChannelSnapshot,
    DialBegin,
    DialEnd,
    Hangup,
    OriginateResponse,
)

KYIV = ZoneInfo("Europe/Kyiv")
#: Tuesday 2026-11-24 10:00 in Kyiv: the office schedule is open.
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=KYIV).timestamp()
SUNDAY_10 = dt.datetime(2026, 11, 29, 10, 0, tzinfo=KYIV).timestamp()

SKILLS = """\
skills:
  general: {title: "General"}
  social: {title: "Social"}
"""
AGENTS = """\
agents:
  - {id: op1, name: "One", device: "PJSIP/op1", skills: {general: 3}}
  - {id: op2, name: "Two", device: "PJSIP/op2", skills: {general: 2, social: 2}}
"""
HOURS = """\
timezone: Europe/Kyiv
holidays: {country: UA, categories: [public], local: []}
schedules:
  always: {weekly: {mon-sun: "00:00-24:00"}, closed_on_holidays: false}
  office: {weekly: {mon-fri: "08:00-17:00"}, closed_on_holidays: false}
"""
QUEUES = """\
default_queue: general
queues:
  general:
    skills: {general: 1}
    schedule: always
    max_wait_s: 600
    ring_timeout_s: 10
    default_aht_s: 120
    callback: {max_attempts: 2, retry_s: 60}
  social:
    skills: {social: 1}
    schedule: office
    ring_timeout_s: 10
"""
FILES = {"skills.yaml": SKILLS, "agents.yaml": AGENTS, "hours.yaml": HOURS, "queues.yaml": QUEUES}


def loaded(files: Mapping[str, str] = FILES) -> LoadedAcd:
    """The test configuration (overridden files replace the defaults)."""
    return load_acd_config({f"queue/{name}": text for name, text in {**FILES, **files}.items()})


@dataclass
class FakeClock:
    """Seconds that move only when the test (or the fake session's waits) move them."""

    t: float = TUESDAY_10

    def __call__(self) -> float:
        return self.t


def make_service(
    clock: Callable[[], float],
    ami: AmiPort | None = None,
    files: Mapping[str, str] = FILES,
    **settings: object,
) -> tuple[AcdService, Subscription]:
    """A service on the test configuration, and a subscription to everything it publishes."""
    bus = EventBus()
    sub = bus.subscribe()
    acd_settings = AcdSettings(**{"announce_every_s": 30.0, "wait_slice_ms": 1000, **settings})  # type: ignore[arg-type]
    return AcdService(loaded(files), bus, ami=ami, settings=acd_settings, clock=clock), sub


def published(sub: Subscription) -> list[object]:
    """Every event published so far."""
    out = []
    while (item := sub.get_nowait()) is not None:
        out.append(item[1])
    return out


def environment(uniqueid: str = "1718000000.8", callerid: str = "380501234567") -> AgiEnvironment:
    return parse_environment(
        {
            "agi_network": "yes",
            "agi_network_script": "hotline",
            "agi_request": "agi://127.0.0.1:4573/hotline",
            "agi_channel": "PJSIP/trunk-00000004",
            "agi_language": "uk",
            "agi_type": "PJSIP",
            "agi_uniqueid": uniqueid,
            "agi_version": "22.10.1",
            "agi_callerid": callerid,
            "agi_calleridname": "unknown",
            "agi_dnid": "0800507506",
            "agi_rdnis": "unknown",
            "agi_context": "hotline",
            "agi_extension": "0800507506",
            "agi_priority": "2",
            "agi_accountcode": "",
            "agi_threadid": "1",
        }
    )


def call_info(uniqueid: str = "1718000000.8", caller: str | None = "380501234567") -> CallInfo:
    return CallInfo(uniqueid=uniqueid, caller=caller, now=dt.datetime.fromtimestamp(TUESDAY_10, KYIV))


def queue_command(queue: str = "general", priority: int = 0) -> Queue:
    return Queue(queue, priority, (), "uk", "106")


@dataclass
class FakeSession:
    """An in-memory AGI session: records every command; ``on_wait`` scripts the caller.

    Each ``WAIT FOR DIGIT`` advances the clock by its timeout and then calls ``on_wait(session)``,
    which may return a key, raise ``ChannelHungUp`` or act on the service (an agent logs in).
    ``dial`` gives the DIALSTATUS of successive Dials; ``on_dial`` runs while one "rings".
    """

    clock: FakeClock
    on_wait: Callable[[FakeSession], str | None] = lambda s: None
    dial: list[str] = field(default_factory=list)
    on_dial: Callable[[FakeSession, str], None] = lambda s, target: None
    env: AgiEnvironment = field(default_factory=environment)
    linkedid: str = "1718000000.7"
    lines: list[str] = field(default_factory=list)
    waits: int = 0
    #: a key "pressed" during the next playback that allows it
    key_during_prompt: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    hung_up: bool = False

    def _key(self, escape: str) -> str | None:
        key = self.key_during_prompt
        if key is not None and key in escape:
            self.key_during_prompt = None
            return key
        return None

    async def answer(self) -> None:
        self.lines.append("ANSWER")

    async def stream_file(
        self, file: str, escape_digits: str = "", offset: int | None = None
    ) -> PlaybackResult:
        self.lines.append(f"STREAM FILE {file}")
        await asyncio.sleep(0)
        return PlaybackResult(self._key(escape_digits), 0)

    async def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> DigitsResult:
        raise AssertionError("the wait never uses GET DATA")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self.lines.append(f"WAIT FOR DIGIT {timeout_ms}")
        self.waits += 1
        self.clock.t += timeout_ms / 1000
        await asyncio.sleep(0)
        return self.on_wait(self)

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self.lines.append(f"SAY DIGITS {digits}")
        return None

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        self.lines.append(f"SAY NUMBER {number}")
        return self._key(escape_digits)

    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None:
        raise AssertionError("the wait never says dates")

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        self.lines.append(f"GET VARIABLE {name}")
        return self.variables.get(name)

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        self.lines.append(f"GET FULL VARIABLE {expression}")
        return self.linkedid if expression == "${CHANNEL(linkedid)}" else None

    async def exec(self, application: str, options: str = "") -> int:
        self.lines.append(f"EXEC {application} {options}".rstrip())
        if application == "Dial":
            self.on_dial(self, options.split(",")[0])
            await asyncio.sleep(0)
            self.variables["DIALSTATUS"] = self.dial.pop(0)
            if self.variables["DIALSTATUS"] == "CANCEL":
                self.hung_up = True
                return -1
        return 0

    async def record_file(
        self,
        file: str,
        fmt: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = 60000,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> RecordResult:
        raise AssertionError("the wait never records")

    async def hangup(self) -> None:
        self.lines.append("HANGUP")


def hang_up(session: FakeSession) -> str | None:
    """An ``on_wait`` that hangs up."""
    session.hung_up = True
    raise ChannelHungUp("WAIT FOR DIGIT: result=-1 (hang-up)")


def snapshot(uniqueid: str, channel: str = "PJSIP/op1-00000001") -> ChannelSnapshot:
    return ChannelSnapshot(
        channel=channel,
        state=6,
        state_desc="Up",
        caller_num=None,
        caller_name=None,
        connected_num=None,
        connected_name=None,
        language="uk",
        account_code="",
        context="callback",
        exten="s",
        priority=1,
        uniqueid=uniqueid,
        linkedid=uniqueid,
    )


def dial_end(uniqueid: str, status: str) -> DialEnd:
    return DialEnd(
        channel=snapshot(uniqueid), dest=snapshot("dest-1", "PJSIP/trunk-1"), dial_status=status, forward=None
    )


def dial_begin(uniqueid: str, dest_channel: str) -> DialBegin:
    return DialBegin(channel=snapshot(uniqueid), dest=snapshot("dest-1", dest_channel), dial_string="op1")


def hangup_event(uniqueid: str) -> Hangup:
    return Hangup(channel=snapshot(uniqueid), cause=16, cause_txt="Normal Clearing", tech_cause=None)


@dataclass
class FakeAmi:
    """Records Originates; ``answers`` says whether each agent leg is answered."""

    answers: list[bool] = field(default_factory=list)
    originated: list[dict[str, object]] = field(default_factory=list)
    listeners: list[Callable[[AmiEvent], object]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    hung_up: list[str] = field(default_factory=list)

    async def originate_and_wait(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
        channel_id: str | None = None,
    ) -> OriginateResponse:
        self.originated.append(
            {
                "channel": channel,
                "context": context,
                "exten": exten,
                "variables": dict(variables or {}),
                "channel_id": channel_id,
            }
        )
        self.started.set()
        await asyncio.sleep(0)
        ok = self.answers.pop(0)
        return OriginateResponse(
            action_id="1",
            response="Success" if ok else "Failure",
            channel=channel,
            context=context,
            exten=exten,
            application=None,
            data=None,
            reason=4 if ok else 3,
            uniqueid=channel_id if ok else None,
            caller_num=None,
            caller_name=None,
        )

    async def hangup(self, channel: str, cause: int | None = None) -> None:
        self.hung_up.append(channel)

    def add_listener(self, listener: Callable[[AmiEvent], object]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit(self, event: AmiEvent) -> None:
        for listener in list(self.listeners):
            listener(event)
