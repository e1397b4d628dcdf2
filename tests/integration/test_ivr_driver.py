"""The IVR driver: engine commands become the AGI command lines Asterisk would receive."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

from callcenter.ivr import CallInfo, Flow, FlowEnvironment, Outcome, ValidationContext, check_flow
from callcenter.ivr.commands import Queue, QueueResult
from callcenter.ivr.testing import FixedSchedules
from callcenter.telephony.agi_errors import AgiCommandError, ChannelHungUp
from callcenter.telephony.agi_protocol import (
    AgiEnvironment,
    AgiReply,
    parse_environment,
    parse_reply_line,
    quote,
    render_arg,
)
from callcenter.telephony.agi_session import AgiSession, DigitsResult, PlaybackResult, RecordResult
from callcenter.telephony.ivr_driver import IvrRoute, IvrServices, IvrSessionPort, run_ivr

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def environment(script: str = "hotline", callerid: str = "380501234567") -> AgiEnvironment:
    return parse_environment(
        {
            "agi_network": "yes",
            "agi_network_script": script,
            "agi_request": f"agi://127.0.0.1:4573/{script}",
            "agi_channel": "PJSIP/trunk-00000004",
            "agi_language": "en",
            "agi_type": "PJSIP",
            "agi_uniqueid": "1718000000.8",
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


@dataclass
class FakeSession:
    """An in-memory AGI session: records the command lines it would send, answers from a script.

    ``keys`` follow ``callcenter.ivr.testing``: ``"1"`` answers WAIT FOR DIGIT (or GET DATA as a
    whole string), ``"!1"`` is pressed during a STREAM FILE that has escape digits, ``None`` is
    silence. When the flow asks for a key and none is left, the caller hangs up.
    """

    env: AgiEnvironment = field(default_factory=environment)
    keys: list[str | None] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    record_endpos: int = 96_000
    #: The caller hangs up while this command runs (Asterisk answers it with result=-1).
    hangup_during: str | None = None
    lines: list[str] = field(default_factory=list)
    hung_up: bool = False

    def _send(self, line: str, *, media: bool = True) -> None:
        if self.hung_up and media:
            raise ChannelHungUp(f"{line.split(' ', 1)[0]}: channel is dead (511)")
        self.lines.append(line)
        if media and self.hangup_during is not None and line.startswith(self.hangup_during):
            self.hung_up = True
            raise ChannelHungUp(f"{line.split(' ', 1)[0]}: result=-1 (hang-up)")

    def _key(self) -> str | None:
        if not self.keys:
            self.hung_up = True
            raise ChannelHungUp("the caller hung up")
        return self.keys.pop(0)

    async def answer(self) -> None:
        self._send("ANSWER")

    async def stream_file(
        self, file: str, escape_digits: str = "", offset: int | None = None
    ) -> PlaybackResult:
        self._send(f"STREAM FILE {render_arg(file)} {quote(escape_digits)}")
        if escape_digits and self.keys and (self.keys[0] or "").startswith("!"):
            return PlaybackResult((self._key() or "")[1:], 4000)
        return PlaybackResult(None, 8000)

    async def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> DigitsResult:
        self._send(f"GET DATA {render_arg(file)} {timeout_ms} {max_digits}")
        typed = self._key() or ""
        return DigitsResult(typed, not typed)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._send(f"WAIT FOR DIGIT {timeout_ms}")
        return self._key()

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self._send(f"SAY DIGITS {render_arg(digits)} {quote(escape_digits)}")
        return None

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        self._send(f"SAY NUMBER {number} {quote(escape_digits)}")
        return None

    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None:
        self._send(f"SAY DATE {epoch_seconds} {quote(escape_digits)}")
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self._send(f"SET VARIABLE {render_arg(name)} {render_arg(value)}", media=False)

    async def get_variable(self, name: str) -> str | None:
        self._send(f"GET VARIABLE {render_arg(name)}", media=False)
        return self.variables.get(name)

    async def exec(self, application: str, options: str = "") -> int:
        self._send(f"EXEC {render_arg(application)} {render_arg(options)}", media=False)
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
        line = f"RECORD FILE {render_arg(file)} {render_arg(fmt)} {quote(escape_digits)} {timeout_ms}"
        self._send(line + (" BEEP" if beep else "") + (f" s={silence_s}" if silence_s is not None else ""))
        return RecordResult(None, self.record_endpos, False)

    async def hangup(self) -> None:
        self._send("HANGUP")
        self.hung_up = True


def prompt_names(flow: Flow) -> dict[tuple[str, str], str]:
    """(text, language) → "tts/<language>/<prompt name>", so expected lines read like the flow."""
    return {
        (text, lang): f"tts/{lang}/{name}"
        for name, spec in flow.prompts.items()
        for lang, text in spec.texts.items()
    }


@dataclass
class Backend:
    """The services a driver gets, as in-memory fakes that remember what they were asked."""

    flow: Flow
    lookups: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    queue_results: list[str] = field(default_factory=list)
    queued: list[Queue] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    lookup_error: bool = False

    async def render(self, text: str, language: str) -> str:
        return prompt_names(self.flow).get((text, language), f"tts/{language}/inline")

    async def lookup(self, kind: str, key: str) -> Mapping[str, str] | None:
        if self.lookup_error:
            raise ConnectionError("database is down")
        return self.lookups.get((kind, key))

    async def enter_queue(self, session: IvrSessionPort, command: Queue, call: CallInfo) -> QueueResult:
        self.queued.append(command)
        return QueueResult(self.queue_results.pop(0), agent="op101")  # type: ignore[arg-type]

    async def record_outcome(self, env: AgiEnvironment, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def services(self) -> IvrServices:
        return IvrServices(self.render, self.lookup, self.enter_queue, self.record_outcome)


CONTEXT = ValidationContext(frozenset({"general"}), frozenset({"office"}), frozenset({"general"}))


def make_flow(nodes: str, languages: str = "[uk, en]") -> Flow:
    text = (
        f"languages: {languages}\nstart: a\nprompts:\n  hi: {{uk: 'Привіт', en: 'Hi'}}\n  beep: {{file: beep}}\n"
        "nodes:\n" + textwrap.indent(textwrap.dedent(nodes), "  ")
    )
    flow, errors = check_flow(text, "demo.yaml", CONTEXT)
    assert flow is not None, [str(e) for e in errors]
    return flow


async def run(flow: Flow, session: IvrSessionPort, backend: Backend | None = None) -> Outcome:
    backend = backend or Backend(flow)
    return await run_ivr(
        session,
        flow,
        FlowEnvironment(FixedSchedules(open=frozenset({"office"}))),
        backend.services(),
        now=NOW,
    )


async def test_play_menu_and_hangup_become_agi_lines() -> None:
    """Answer, language, STREAM FILE per prompt, WAIT FOR DIGIT, HANGUP, then the result variable."""
    flow = make_flow(
        """\
        a:
          type: menu
          prompt: [hi, beep]
          choices: {"1": z}
          timeout: 4
          fallback: z
        z:
          type: hangup
        """
    )
    session = FakeSession(keys=["1"])
    outcome = await run(flow, session)
    assert session.lines == [
        "ANSWER",
        "SET VARIABLE CHANNEL(language) uk",
        'STREAM FILE tts/uk/hi "0123456789*#"',
        'STREAM FILE beep "0123456789*#"',
        "WAIT FOR DIGIT 4000",
        "HANGUP",
        "SET VARIABLE CC_IVR_RESULT hangup",
    ]
    assert outcome.reason == "hangup" and outcome.path.digits == ["1"]


async def test_a_key_during_the_first_prompt_skips_the_rest() -> None:
    """STREAM FILE interrupted by a key stops the prompt list and no wait follows."""
    flow = make_flow(
        'a:\n  type: menu\n  prompt: [hi, beep]\n  choices: {"1": z}\n  fallback: z\nz:\n  type: hangup\n'
    )
    session = FakeSession(keys=["!1"])
    await run(flow, session)
    assert session.lines[2:4] == ['STREAM FILE tts/uk/hi "0123456789*#"', "HANGUP"]


async def test_input_uses_get_data_and_say_digits() -> None:
    """One-prompt input is a GET DATA; the read-back is SAY DIGITS."""
    flow = make_flow(
        """\
        a:
          type: input
          prompt: hi
          variable: n
          pattern: appeal_number
          max_digits: 10
          timeout: 8
          confirm: {prompt: beep, question: hi}
          next: z
          fallback: z
        z:
          type: hangup
        """
    )
    session = FakeSession(keys=["123456", "1"])
    outcome = await run(flow, session)
    assert session.lines[2:7] == [
        "GET DATA tts/uk/hi 8000 10",
        'STREAM FILE beep ""',
        'SAY DIGITS 123456 ""',
        'STREAM FILE tts/uk/hi "0123456789*#"',
        "WAIT FOR DIGIT 8000",
    ]
    assert outcome.path.variables["n"] == "123456"


async def test_input_after_a_barge_in_collects_key_by_key() -> None:
    """A key pressed during the previous prompt starts the input; the rest come by WAIT FOR DIGIT until #."""
    flow = make_flow(
        """\
        a:
          type: play
          prompt: hi
          next: b
        b:
          type: input
          prompt: hi
          variable: n
          timeout: 5
          next: z
          fallback: z
        z:
          type: hangup
        """
    )
    session = FakeSession(keys=["!4", "2", "#"])
    outcome = await run(flow, session)
    assert session.lines[2:6] == [
        'STREAM FILE tts/uk/hi "0123456789*#"',
        "WAIT FOR DIGIT 5000",
        "WAIT FOR DIGIT 5000",
        "HANGUP",
    ]
    assert outcome.path.variables["n"] == "42"


async def test_say_number_date_and_channel_variables() -> None:
    """say nodes map to SAY NUMBER / SAY DATE; set.channel to SET VARIABLE with quoting."""
    flow = make_flow(
        """\
        a:
          type: set
          variables: {n: "15", d: "2026-12-09"}
          channel: {CC_NOTE: "call back later"}
          next: b
        b:
          type: say
          kind: number
          value: "${n}"
          next: c
        c:
          type: say
          kind: date
          value: "${d}"
          next: z
        z:
          type: hangup
        """
    )
    session = FakeSession()
    await run(flow, session)
    noon = int(dt.datetime(2026, 12, 9, 10, tzinfo=dt.UTC).timestamp())
    assert session.lines[2:5] == [
        'SET VARIABLE CC_NOTE "call back later"',
        'SAY NUMBER 15 ""',
        f'SAY DATE {noon} ""',
    ]


async def test_record_lookup_transfer() -> None:
    """RECORD FILE under the recordings folder, a lookup through the backend, EXEC Dial + DIALSTATUS."""
    flow = make_flow(
        """\
        a:
          type: record
          max_seconds: 60
          silence_seconds: 3
          next: b
        b:
          type: lookup
          kind: appeal_status
          key: "${caller}"
          result: ap
          found: c
          not_found: z
        c:
          type: transfer
          number: "7333"
          timeout: 30
          failed: z
        z:
          type: hangup
        """
    )
    backend = Backend(flow, lookups={("appeal_status", "380501234567"): {"state": "CLOSED"}})
    session = FakeSession(variables={"DIALSTATUS": "BUSY"})
    outcome = await run(flow, session, backend)
    assert session.lines[2:7] == [
        'RECORD FILE /var/spool/asterisk/callcenter/ivr-1718000000.8-1 wav "#" 60000 BEEP s=3',
        'EXEC Dial "Local/7333@hotline-transfer,30"',
        "GET VARIABLE DIALSTATUS",
        "HANGUP",
        "SET VARIABLE CC_IVR_RESULT hangup",
    ]
    assert outcome.path.recordings[0]["file"] == "/var/spool/asterisk/callcenter/ivr-1718000000.8-1.wav"
    assert outcome.path.recordings[0]["duration_ms"] == 12_000
    assert outcome.path.variables["ap.state"] == "CLOSED"
    assert outcome.path.transfers == [{"number": "7333", "status": "BUSY"}]
    assert backend.outcomes == [outcome]


async def test_a_failing_lookup_takes_not_found() -> None:
    """A database error during a lookup does not drop the call: the flow goes to not_found."""
    flow = make_flow(
        "a:\n  type: lookup\n  kind: appeal_status\n  key: '1'\n  result: r\n  found: y\n  not_found: z\n"
        "y:\n  type: hangup\n  reason: found\nz:\n  type: hangup\n  reason: missing\n"
    )
    backend = Backend(flow, lookup_error=True)
    outcome = await run(flow, FakeSession(), backend)
    assert outcome.detail == "missing"


async def test_queue_hand_off_gets_the_call_context() -> None:
    """The ACD hand-off receives queue, skills, language and topic, and its result drives the flow."""
    flow = make_flow(
        'a:\n  type: set\n  variables: {topic: "125"}\n  next: q\n'
        "q:\n  type: queue\n  queue: general\n  skills: [general]\n  fallback: z\nz:\n  type: hangup\n"
    )
    backend = Backend(flow, queue_results=["answered"])
    session = FakeSession()
    outcome = await run(flow, session, backend)
    assert backend.queued == [Queue("general", 0, ("general",), "uk", "125", ("a", "q"))]
    assert session.lines[-2:] == ["HANGUP", "SET VARIABLE CC_IVR_RESULT answered"]
    assert outcome.reason == "answered"


async def test_an_answered_call_stays_answered_when_the_caller_hung_up_first() -> None:
    """After an agent conversation the caller is often gone: a failing HANGUP keeps the outcome answered."""
    flow = make_flow("a:\n  type: queue\n  queue: general\n  fallback: z\nz:\n  type: hangup\n")
    backend = Backend(flow, queue_results=["answered"])
    session = FakeSession(hangup_during="HANGUP")
    outcome = await run(flow, session, backend)
    assert (outcome.reason, outcome.path.end) == ("answered", "answered")
    assert session.lines[-2:] == ["HANGUP", "SET VARIABLE CC_IVR_RESULT answered"]


async def test_caller_hangup_keeps_the_partial_path_and_reports_it() -> None:
    """When the caller hangs up mid-menu, the outcome has the path so far and the result is still set."""
    flow = make_flow(
        'a:\n  type: menu\n  prompt: hi\n  choices: {"1": z}\n  fallback: z\nz:\n  type: hangup\n'
    )
    backend = Backend(flow)
    session = FakeSession(keys=[])
    outcome = await run(flow, session, backend)
    assert (outcome.reason, outcome.path.nodes) == ("caller_hangup", ["a"])
    assert session.lines[-1] == "SET VARIABLE CC_IVR_RESULT caller_hangup"
    assert backend.outcomes == [outcome]


async def test_agi_failure_returns_the_call_to_the_dialplan() -> None:
    """An AGI error mid-flow ends the run without HANGUP so the dialplan's survival path takes the call."""

    class BrokenDial(FakeSession):
        async def exec(self, application: str, options: str = "") -> int:
            raise AgiCommandError(200, "application 'Dial' not found", command="EXEC")

    flow = make_flow("a:\n  type: transfer\n  number: '7333'\n  failed: z\nz:\n  type: hangup\n")
    session = BrokenDial()
    outcome = await run(flow, session)
    assert (outcome.reason, outcome.hung_up) == ("error", False)
    assert "HANGUP" not in session.lines
    assert session.lines[-1] == "SET VARIABLE CC_IVR_RESULT error"


async def test_route_runs_the_flow_named_by_the_script_or_reports_no_flow() -> None:
    """IvrRoute picks the flow by agi_network_script; an unknown route returns to the dialplan."""
    flow = make_flow("a:\n  type: hangup\n")
    backend = Backend(flow)
    route = IvrRoute({"demo": flow}.get, FlowEnvironment(FixedSchedules()), backend.services())
    session = FakeSession(env=environment("demo"))
    await route(session)
    assert session.lines[-2:] == ["HANGUP", "SET VARIABLE CC_IVR_RESULT hangup"]
    unknown = FakeSession(env=environment("nosuch"))
    await route(unknown)
    assert unknown.lines == ["SET VARIABLE CC_IVR_RESULT no_flow"]


async def test_route_language_comes_from_the_query() -> None:
    """`?lang=en` on the AGI URL starts the flow in English; agi_language is ignored."""
    flow = make_flow("a:\n  type: play\n  prompt: hi\n  next: z\nz:\n  type: hangup\n")
    session = FakeSession(env=environment("demo?lang=en"))
    await run(flow, session)
    assert session.lines[1:3] == ["SET VARIABLE CHANNEL(language) en", 'STREAM FILE tts/en/hi "0123456789*#"']


class ScriptedChannel:
    """A CommandChannel for the real AgiSession: records lines, replies from a list."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = [parse_reply_line(r) for r in replies]
        self.lines: list[str] = []
        self.hung_up = False

    async def request(self, data: bytes) -> AgiReply:
        self.lines.append(data.decode().rstrip("\n"))
        return self.replies.pop(0)


async def test_the_real_session_sends_the_same_lines_as_the_fake() -> None:
    """Through the real AgiSession the driver produces the lines the fake records (the contract holds)."""
    flow = make_flow(
        'a:\n  type: menu\n  prompt: [hi, beep]\n  choices: {"1": z}\n  fallback: z\nz:\n  type: hangup\n'
    )
    channel = ScriptedChannel(
        [
            "200 result=0",  # ANSWER
            "200 result=1",  # SET VARIABLE
            "200 result=0 endpos=8000",  # STREAM FILE
            "200 result=0 endpos=8000",  # STREAM FILE
            "200 result=49",  # WAIT FOR DIGIT → "1"
            "200 result=1",  # HANGUP
            "200 result=1",  # SET VARIABLE
        ]
    )
    real: IvrSessionPort = AgiSession(environment(), channel)
    fake = FakeSession(keys=["1"])
    await run(flow, real)
    await run(flow, fake)
    assert channel.lines == fake.lines
