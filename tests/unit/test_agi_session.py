"""AgiSession against an in-memory channel: the exact command lines and the typed results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from callcenter.telephony.agi_errors import AgiCommandError, ChannelHungUp
from callcenter.telephony.agi_protocol import AgiReply, AgiStreamParser, parse_environment
from callcenter.telephony.agi_session import AgiSession, DigitsResult, PlaybackResult, RecordResult


class ScriptedChannel:
    """A CommandChannel that checks each command line and answers with recorded Asterisk text."""

    def __init__(self, script: list[tuple[str, str]]) -> None:
        self.script = list(script)
        self.hung_up = False
        self.parser = AgiStreamParser()
        self.parser.feed(b"agi_network: yes\n\n")

    async def request(self, data: bytes) -> AgiReply:
        expected, answer = self.script.pop(0)
        assert data.decode() == expected + "\n"
        for event in self.parser.feed(answer.encode()):
            if isinstance(event, AgiReply):
                return event
            self.hung_up = True
        raise AssertionError("the script gave no reply")


def session_with(script: list[tuple[str, str]]) -> tuple[AgiSession, ScriptedChannel]:
    channel = ScriptedChannel(script)
    env = parse_environment({"agi_network_script": "hotline", "agi_uniqueid": "1.1"})
    return AgiSession(env, channel), channel


Call = Callable[[AgiSession], Awaitable[Any]]

CASES: list[tuple[str, Call, str, str, Any]] = [
    ("answer", lambda s: s.answer(), "ANSWER", "200 result=0", None),
    (
        "stream with offset",
        lambda s: s.stream_file("welcome", "12#", offset=800),
        'STREAM FILE welcome "12#" 800',
        "200 result=35 endpos=11360",
        PlaybackResult("#", 11360),
    ),
    (
        "stream to the end",
        lambda s: s.stream_file("welcome"),
        'STREAM FILE welcome ""',
        "200 result=0 endpos=20000",
        PlaybackResult(None, 20000),
    ),
    (
        "get option timeout",
        lambda s: s.get_option("menu", "123", 3000),
        'GET OPTION menu "123" 3000',
        "200 result=0 endpos=5000",
        PlaybackResult(None, 5000),
    ),
    (
        "get data digits with timeout",
        lambda s: s.get_data("enter-acct", 5000, 6),
        "GET DATA enter-acct 5000 6",
        "200 result=1234 (timeout)",
        DigitsResult("1234", True),
    ),
    (
        "get data nothing typed",
        lambda s: s.get_data("enter-acct", max_digits=4),
        "GET DATA enter-acct 0 4",
        "200 result= (timeout)",
        DigitsResult("", True),
    ),
    (
        "get data hash only",
        lambda s: s.get_data("enter-acct"),
        "GET DATA enter-acct",
        "200 result=",
        DigitsResult("", False),
    ),
    ("wait digit star", lambda s: s.wait_for_digit(-1), "WAIT FOR DIGIT -1", "200 result=42", "*"),
    ("say digits", lambda s: s.say_digits("0800", "#"), 'SAY DIGITS 0800 "#"', "200 result=35", "#"),
    ("say date", lambda s: s.say_date(1718000000), 'SAY DATE 1718000000 ""', "200 result=0", None),
    ("set variable", lambda s: s.set_variable("X", ""), 'SET VARIABLE X ""', "200 result=1", None),
    (
        "full variable on another channel",
        lambda s: s.get_full_variable("${CALLERID(num)}", "PJSIP/201-0001"),
        "GET FULL VARIABLE ${CALLERID(num)} PJSIP/201-0001",
        "200 result=0",
        None,
    ),
    ("empty variable", lambda s: s.get_variable("EMPTY"), "GET VARIABLE EMPTY", "200 result=1 ()", ""),
    ("exec without options", lambda s: s.exec("Answer"), "EXEC Answer", "200 result=0", 0),
    ("exec ends call", lambda s: s.exec("Queue", "support,t"), 'EXEC Queue "support,t"', "200 result=-1", -1),
    ("set context", lambda s: s.set_context("after-hours"), "SET CONTEXT after-hours", "200 result=0", None),
    ("set extension", lambda s: s.set_extension("s"), "SET EXTENSION s", "200 result=0", None),
    ("set priority", lambda s: s.set_priority(1), "SET PRIORITY 1", "200 result=0", None),
    (
        "record timeout",
        lambda s: s.record_file("/tmp/msg", silence_s=3),
        'RECORD FILE /tmp/msg wav "#" 60000 BEEP s=3',
        "200 result=0 (timeout) endpos=16000",
        RecordResult(None, 16000, True),
    ),
    (
        "record dtmf",
        lambda s: s.record_file("/tmp/msg", "gsm", "*#", 5000, beep=False),
        'RECORD FILE /tmp/msg gsm "*#" 5000',
        "200 result=35 (dtmf) endpos=8000",
        RecordResult("#", 8000, False),
    ),
    ("verbose", lambda s: s.verbose('said "hi"', 3), 'VERBOSE "said \\"hi\\"" 3', "200 result=1", None),
    ("hangup", lambda s: s.hangup(), "HANGUP", "200 result=1", None),
    (
        "raw command",
        lambda s: s.command("CHANNEL STATUS"),
        "CHANNEL STATUS",
        "200 result=6",
        AgiReply(200, "6"),
    ),
]


@pytest.mark.parametrize(("name", "call", "line", "answer", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_command_lines_and_results(
    name: str, call: Call, line: str, answer: str, expected: Any
) -> None:
    """Each typed method sends the documented command line and turns the reply into its typed value."""
    session, channel = session_with([(line, answer + "\n")])
    assert await call(session) == expected
    assert channel.script == []


@pytest.mark.parametrize(
    ("call", "line", "answer"),
    [
        (lambda s: s.answer(), "ANSWER", "200 result=-1"),
        (lambda s: s.stream_file("x"), 'STREAM FILE x ""', "200 result=-1 endpos=8000"),
        (lambda s: s.stream_file("x"), 'STREAM FILE x ""', "HANGUP\n200 result=-1 endpos=0"),
        (lambda s: s.get_data("x"), "GET DATA x", "200 result=-1"),
        (lambda s: s.wait_for_digit(1000), "WAIT FOR DIGIT 1000", "200 result=-1"),
        (lambda s: s.say_number(5), 'SAY NUMBER 5 ""', "200 result=-1"),
        (lambda s: s.record_file("f"), 'RECORD FILE f wav "#" 60000 BEEP', "200 result=-1 (hangup) endpos=3"),
        (lambda s: s.set_context("x"), "SET CONTEXT x", "511 Command Not Permitted on a dead channel"),
    ],
)
async def test_hangup_results_raise_channel_hung_up(call: Call, line: str, answer: str) -> None:
    """-1 on a media command, (hangup) on RECORD FILE and 511 on anything raise ChannelHungUp."""
    session, _ = session_with([(line, answer + "\n")])
    with pytest.raises(ChannelHungUp):
        await call(session)


async def test_a_missing_sound_file_is_silence_not_a_hang_up() -> None:
    """STREAM FILE of a file Asterisk lacks (-1 endpos=0, channel up) plays as silence; the call goes on."""
    session, _ = session_with(
        [
            ('STREAM FILE callcenter/missing ""', "200 result=-1 endpos=0\n"),
            ("WAIT FOR DIGIT 1000", "200 result=49\n"),
        ]
    )
    assert await session.stream_file("callcenter/missing") == PlaybackResult(None, 0)
    assert not session.hung_up
    assert await session.wait_for_digit(1000) == "1"


async def test_511_and_hangup_line_set_hung_up_for_good() -> None:
    """A HANGUP line before the reply marks the session dead; dead-channel commands still answer."""
    session, _ = session_with(
        [
            ("WAIT FOR DIGIT 8000", "HANGUP\n511 Command Not Permitted on a dead channel\n"),
            ("GET VARIABLE CC_STEP", "200 result=1 (menu)\n"),
        ]
    )
    with pytest.raises(ChannelHungUp):
        await session.wait_for_digit(8000)
    assert session.hung_up
    assert await session.get_variable("CC_STEP") == "menu"


@pytest.mark.parametrize(
    ("call", "line", "answer", "code"),
    [
        (lambda s: s.exec("NoSuchApp"), "EXEC NoSuchApp", "200 result=-2", 200),
        (lambda s: s.record_file("f"), 'RECORD FILE f wav "#" 60000 BEEP', "200 result=-1 (writefile)", 200),
        (lambda s: s.set_priority("nolabel"), "SET PRIORITY nolabel", "520 Invalid command syntax.", 520),
        (lambda s: s.command("FOO"), "FOO", "510 Invalid or unknown command", 510),
        (lambda s: s.wait_for_digit(5), "WAIT FOR DIGIT 5", "200 result=x", 200),
        (lambda s: s.exec("Dial"), "EXEC Dial", "200 result=", 200),
        (lambda s: s.hangup(), "HANGUP", "200 result=-1", 200),
        (lambda s: s.command("CHANNEL STATUS"), "CHANNEL STATUS", "302 odd", 302),
    ],
)
async def test_command_errors(call: Call, line: str, answer: str, code: int) -> None:
    """Refusals and replies that make no sense for the command raise AgiCommandError with the code."""
    session, _ = session_with([(line, answer + "\n")])
    with pytest.raises(AgiCommandError) as info:
        await call(session)
    assert info.value.code == code


async def test_command_refuses_embedded_newline() -> None:
    """A raw command with a newline is refused before anything is written."""
    session, channel = session_with([])
    with pytest.raises(ValueError, match="newlines"):
        await session.command("ANSWER\nHANGUP")
    with pytest.raises(ValueError, match="newlines"):
        await session.set_variable("X", "a\nb")
    assert channel.script == []
