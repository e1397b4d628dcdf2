"""Simulated calls through ivr_flows/hotline.yaml: each menu branch gives the expected AGI commands.

The flow is validated against the shipped queue/*.yaml (queues, skills, schedules) and working
hours come from the ACD's real schedule book; the PBX side is the in-memory fake session.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.acd.loader import ACD_FILES, LoadedAcd, load_acd_config
from callcenter.ivr import Flow, FlowEnvironment, Outcome, ValidationContext, load_flow, validate_files
from callcenter.ivr.conditions import ScheduleOracle
from callcenter.ivr.testing import FixedSchedules
from callcenter.telephony.ivr_driver import run_ivr
from tests.integration.test_ivr_driver import Backend, FakeSession, environment

REPO_ROOT = Path(__file__).resolve().parents[2]
KYIV = ZoneInfo("Europe/Kyiv")
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=KYIV)
SATURDAY_10 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=KYIV)
ANY = '"0123456789*#"'


@functools.cache
def acd() -> LoadedAcd:
    return load_acd_config(
        {str(REPO_ROOT / "queue" / n): (REPO_ROOT / "queue" / n).read_text("utf-8") for n in ACD_FILES}
    )


def context() -> ValidationContext:
    loaded = acd()
    return ValidationContext(
        queues=frozenset(loaded.config.queues),
        schedules=frozenset(loaded.schedules.schedules),
        skills=frozenset(loaded.config.skills),
        flows=frozenset({"survey"}),  # the post-call survey the queue node continues to
    )


@functools.cache
def survey_flow() -> Flow:
    """The post-call survey the hotline's queue node continues to when the agent hangs up."""
    return load_flow(REPO_ROOT / "ivr_flows" / "survey.yaml", context())


@pytest.fixture(scope="module")
def hotline() -> Flow:
    return load_flow(REPO_ROOT / "ivr_flows" / "hotline.yaml", context())


async def call(
    flow: Flow,
    keys: list[str | None],
    *,
    now: dt.datetime = TUESDAY_10,
    schedules: ScheduleOracle | None = None,
    callerid: str = "380501234567",
    queue_results: list[str] | None = None,
    lookups: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    dialstatus: str = "ANSWER",
    hangup_during: str | None = None,
) -> tuple[FakeSession, Backend, Outcome]:
    session = FakeSession(
        env=environment("hotline", callerid),
        keys=list(keys),
        variables={"DIALSTATUS": dialstatus},
        hangup_during=hangup_during,
    )
    backend = Backend(flow, lookups=lookups or {}, queue_results=list(queue_results or []))
    env = FlowEnvironment(schedules or acd().schedules, flows={"survey": survey_flow()})
    outcome = await run_ivr(session, flow, env, backend.services(), now=now)
    return session, backend, outcome


GREETING = [
    "ANSWER",
    "SET VARIABLE CHANNEL(language) uk",
    'STREAM FILE tts/uk/notice_uk ""',
    f"STREAM FILE tts/uk/lang_uk {ANY}",
    f"STREAM FILE tts/ru/lang_ru {ANY}",
    f"STREAM FILE tts/en/lang_en {ANY}",
    "WAIT FOR DIGIT 4000",
    "SET VARIABLE CHANNEL(language) uk",
]
MAIN_MENU = [f"STREAM FILE tts/uk/main_menu {ANY}", "WAIT FOR DIGIT 6000"]


def test_shipped_flows_validate_against_the_shipped_queue_configuration() -> None:
    """hotline.yaml and example.yaml name only queues, skills and schedules that queue/*.yaml defines."""
    assert validate_files(sorted((REPO_ROOT / "ivr_flows").glob("*.yaml")), context()) == []


async def test_hangup_during_the_notice_leaves_the_notice_unconfirmed(hotline: Flow) -> None:
    """A caller who hangs up while the personal-data notice plays ends the flow without notice_played."""
    session, backend, outcome = await call(hotline, [], hangup_during="STREAM FILE tts/uk/notice_uk")
    assert session.lines[-1] == "SET VARIABLE CC_IVR_RESULT caller_hangup"
    assert outcome.reason == "caller_hangup" and outcome.path.nodes == ["notice"]
    assert "notice_played" not in outcome.path.variables
    assert backend.outcomes == [outcome]


async def test_branch_1_registers_an_appeal_through_the_topic_menu_and_the_queue(hotline: Flow) -> None:
    """1 → topic 1 (social protection) → the social queue with the social skill; when the agent
    hangs up the caller goes on to the post-call survey (rates 5, resolved), which ends the call."""
    session, backend, outcome = await call(hotline, ["1", "1", "1", "5", "1"], queue_results=["answered"])
    assert session.lines[: len(GREETING) + len(MAIN_MENU) + 2] == [
        *GREETING,
        *MAIN_MENU,
        f"STREAM FILE tts/uk/topic_menu {ANY}",
        "WAIT FOR DIGIT 6000",
    ]
    assert session.lines[-2:] == ["HANGUP", "SET VARIABLE CC_IVR_RESULT hangup"]
    assert (
        outcome.path.variables["survey_rating"] == "5" and outcome.path.variables["survey_resolved"] == "yes"
    )
    assert outcome.path.queue_results == [{"queue": "social", "status": "answered", "agent": "op101"}]
    (queued,) = backend.queued
    assert (queued.queue, queued.skills, queued.topic, queued.language) == (
        "social",
        ("social",),
        "106",
        "uk",
    )
    assert outcome.path.nodes == [
        "notice",
        "notice_played",
        "choose_language",
        "notice_translation",
        "check_hours",
        "main_menu",
        "topic_menu",
        "topic_social",
        "register_queue",
        "survey",
        "survey:begin",
        "survey:post_call_greeting",
        "survey:post_call_intro",
        "survey:rate",
        "survey:rated_5",
        "survey:resolved",
        "survey:resolved_yes",
        "survey:thanks",
        "survey:done",
    ]
    assert outcome.path.digits == ["1", "1", "1", "5", "1"]
    assert outcome.path.variables["notice_played"] == "1"


@pytest.mark.parametrize(
    ("digit", "queue", "topic"),
    [
        ("1", "social", "106"),
        ("2", "utilities", "109"),
        ("3", "veterans", "122"),
        ("4", "idp", "106"),
        ("5", "general", "125"),
    ],
)
async def test_each_topic_goes_to_its_queue_and_skill(
    hotline: Flow, digit: str, queue: str, topic: str
) -> None:
    """Every topic of the submenu reaches the queue and skill of that name, with its classifier code."""
    _, backend, outcome = await call(hotline, ["1", "1", digit], queue_results=["answered"])
    assert [(q.queue, q.skills, q.topic) for q in backend.queued] == [(queue, (queue,), topic)]
    assert outcome.path.topic == topic


async def test_branch_2_reads_the_status_of_an_appeal(hotline: Flow) -> None:
    """2 → number by GET DATA, read back, confirmed; the status and deadline are said, then the next menu."""
    lookups = {("appeal_status", "1234567"): {"state": "IN_WORK", "due_date": "2026-12-09"}}
    session, _, outcome = await call(hotline, ["1", "2", "1234567", "1"], lookups=lookups)
    noon = int(dt.datetime(2026, 12, 9, 12, tzinfo=KYIV).timestamp())
    assert session.lines[len(GREETING) + 2 :] == [
        "GET DATA tts/uk/enter_appeal_number 10000 10",
        'STREAM FILE tts/uk/you_entered ""',
        'SAY DIGITS 1234567 ""',
        f"STREAM FILE tts/uk/confirm_entry {ANY}",
        "WAIT FOR DIGIT 10000",
        f"STREAM FILE tts/uk/appeal_intro {ANY}",
        'SAY DIGITS 1234567 ""',
        f"STREAM FILE tts/uk/status_in_work {ANY}",
        f"STREAM FILE tts/uk/due_date_intro {ANY}",
        f'SAY DATE {noon} ""',
        f"STREAM FILE tts/uk/status_next {ANY}",
        "WAIT FOR DIGIT 5000",
        "SET VARIABLE CC_IVR_RESULT caller_hangup",
    ]
    assert outcome.reason == "caller_hangup"
    assert outcome.path.variables["appeal_number"] == "1234567"


async def test_branch_2_unknown_appeal_number(hotline: Flow) -> None:
    """A number the backend does not know plays the not-found prompt and offers another try."""
    session, _, _ = await call(hotline, ["1", "2", "99999", "1"])
    assert session.lines[-4:-1] == [
        'STREAM FILE tts/uk/appeal_not_found "0123456789*#"',
        f"STREAM FILE tts/uk/status_next {ANY}",
        "WAIT FOR DIGIT 5000",
    ]


async def test_branch_3_transfers_to_the_psychological_support_line(hotline: Flow) -> None:
    """3 → a notice, then EXEC Dial to the support line; an answered transfer ends the flow."""
    session, _, outcome = await call(hotline, ["1", "3"])
    assert session.lines[len(GREETING) + 2 :] == [
        'STREAM FILE tts/uk/psy_connecting ""',
        'EXEC Dial "Local/7333@hotline-transfer,60"',
        "GET VARIABLE DIALSTATUS",
        "HANGUP",
        "SET VARIABLE CC_IVR_RESULT transferred",
    ]
    assert outcome.path.transfers == [{"number": "7333", "status": "ANSWER"}]


async def test_branch_3_busy_support_line_returns_to_the_main_menu(hotline: Flow) -> None:
    """A busy support line is announced and the caller is back in the main menu."""
    session, _, _ = await call(hotline, ["1", "3"], dialstatus="BUSY")
    assert session.lines[len(GREETING) + 5 :] == [
        f"STREAM FILE tts/uk/psy_unavailable {ANY}",
        *MAIN_MENU,
        "SET VARIABLE CC_IVR_RESULT caller_hangup",
    ]


async def test_branch_0_with_no_agent_logged_in_takes_a_voice_message(hotline: Flow) -> None:
    """0 → the general queue; with nobody logged in the caller leaves a message that becomes an appeal."""
    session, backend, outcome = await call(hotline, ["1", "0", "1"], queue_results=["no_agents"])
    assert [(q.queue, q.skills) for q in backend.queued] == [("general", ("general",))]
    assert session.lines[len(GREETING) + 2 :] == [
        f"STREAM FILE tts/uk/no_agents {ANY}",
        f"STREAM FILE tts/uk/message_or_callback {ANY}",
        "WAIT FOR DIGIT 5000",
        'STREAM FILE tts/uk/record_instructions ""',
        'RECORD FILE /var/spool/asterisk/callcenter/ivr-1718000000.8-1 wav "#" 180000 BEEP s=6',
        f"STREAM FILE tts/uk/message_saved {ANY}",
        'STREAM FILE tts/uk/goodbye ""',
        "HANGUP",
        "SET VARIABLE CC_IVR_RESULT hangup",
    ]
    assert outcome.path.recordings[0]["file"] == "/var/spool/asterisk/callcenter/ivr-1718000000.8-1.wav"
    assert outcome.path.variables["voice_message"].endswith(".wav")


async def test_menu_silence_three_times_reaches_an_operator(hotline: Flow) -> None:
    """A caller who presses nothing hears the no-input prompt each time and is put through to the general queue."""
    session, backend, _ = await call(hotline, ["1", None, None, None], queue_results=["answered"])
    assert session.lines.count('STREAM FILE tts/uk/no_input ""') == 3
    assert [q.queue for q in backend.queued] == ["general"]


async def test_after_hours_callback_on_the_caller_number(hotline: Flow) -> None:
    """On Saturday the office schedule is closed: the caller asks for a callback on their own number."""
    session, _, outcome = await call(hotline, ["1", "2", "1"], now=SATURDAY_10)
    assert session.lines[len(GREETING) :] == [
        f"STREAM FILE tts/uk/after_hours {ANY}",
        f"STREAM FILE tts/uk/after_hours_menu {ANY}",
        "WAIT FOR DIGIT 5000",
        "SET VARIABLE CC_CALLBACK 1",
        f"STREAM FILE tts/uk/callback_your_number {ANY}",
        'SAY DIGITS 380501234567 ""',
        f"STREAM FILE tts/uk/callback_confirm {ANY}",
        "WAIT FOR DIGIT 5000",
        f"STREAM FILE tts/uk/callback_registered {ANY}",
        'STREAM FILE tts/uk/goodbye ""',
        "HANGUP",
        "SET VARIABLE CC_IVR_RESULT hangup",
    ]
    assert outcome.path.variables["callback"] == "requested"
    assert outcome.path.variables["callback_number"] == "380501234567"


async def test_holiday_plays_the_holiday_notice_and_the_after_hours_menu(hotline: Flow) -> None:
    """On a holiday of the schedule the holiday notice comes first, then the after-hours choices."""
    holiday = FixedSchedules(open=frozenset({"office"}), holidays=frozenset({"office"}))
    session, _, _ = await call(hotline, ["1"], schedules=holiday)
    assert session.lines[len(GREETING) : len(GREETING) + 3] == [
        f"STREAM FILE tts/uk/holiday {ANY}",
        f"STREAM FILE tts/uk/after_hours_menu {ANY}",
        "WAIT FOR DIGIT 5000",
    ]


async def test_anonymous_caller_types_a_callback_number(hotline: Flow) -> None:
    """Without a caller number the callback asks for one, checks it is a phone number and reads it back."""
    session, _, outcome = await call(
        hotline, ["1", "2", "0501234567", "1"], now=SATURDAY_10, callerid="unknown"
    )
    assert session.lines[len(GREETING) + 4 : len(GREETING) + 9] == [
        "GET DATA tts/uk/enter_phone 10000 12",
        'STREAM FILE tts/uk/you_entered ""',
        'SAY DIGITS 0501234567 ""',
        f"STREAM FILE tts/uk/confirm_entry {ANY}",
        "WAIT FOR DIGIT 10000",
    ]
    assert outcome.path.variables["callback_number"] == "0501234567"


async def test_russian_caller_hears_the_notice_and_menus_in_russian(hotline: Flow) -> None:
    """Choosing 2 switches the channel to ru, repeats the personal-data notice in Russian and speaks ru menus."""
    session, _, outcome = await call(hotline, ["2"])
    assert session.lines[7:] == [
        "SET VARIABLE CHANNEL(language) ru",
        'STREAM FILE tts/ru/notice ""',
        f"STREAM FILE tts/ru/main_menu {ANY}",
        "WAIT FOR DIGIT 6000",
        "SET VARIABLE CC_IVR_RESULT caller_hangup",
    ]
    assert outcome.path.language == "ru"


@pytest.mark.parametrize(
    ("result", "prompt"),
    [("timeout", "wait_too_long"), ("closed", "after_hours"), ("callback_requested", "callback_registered")],
)
async def test_queue_results_other_than_answered(hotline: Flow, result: str, prompt: str) -> None:
    """A long wait, a queue that closed and a callback chosen while waiting each lead to their prompt."""
    session, _, _ = await call(hotline, ["1", "0"], queue_results=[result])
    assert session.lines[len(GREETING) + 2] == f"STREAM FILE tts/uk/{prompt} {ANY}"
