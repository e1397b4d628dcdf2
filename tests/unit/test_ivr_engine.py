"""The engine generator: every node type, the path it records, and its guards."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest

from callcenter.ivr import CallInfo, Flow, FlowEnvironment, ValidationContext, check_flow, run_flow
from callcenter.ivr.commands import (
    ALL_KEYS,
    CollectDigits,
    Command,
    Digits,
    Hangup,
    KeyPress,
    Lookup,
    Play,
    Prompt,
    Queue,
    Record,
    Say,
    SetVariable,
    Transfer,
    WaitDigit,
)
from callcenter.ivr.engine import EngineError, Outcome
from callcenter.ivr.testing import FixedSchedules, ScriptedCaller, drive

KYIV = dt.timezone(dt.timedelta(hours=2))
TUESDAY_NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=KYIV)
CONTEXT = ValidationContext(
    queues=frozenset({"general", "social"}),
    schedules=frozenset({"office"}),
    skills=frozenset({"general", "social"}),
    flows=frozenset({"second"}),
)
PROMPTS = """\
  hi: {uk: "Привіт", ru: "Привет", en: "Hi"}
  bad: {uk: "Помилка", ru: "Ошибка", en: "Wrong"}
  quiet: {uk: "Тиша", ru: "Тишина", en: "Silence"}
  beep: {file: beep}
"""


def make_flow(nodes: str, *, name: str = "main", start: str = "a", languages: str = "[uk, ru, en]") -> Flow:
    text = f"languages: {languages}\nstart: {start}\nprompts:\n{PROMPTS}nodes:\n" + textwrap.indent(
        textwrap.dedent(nodes), "  "
    )
    flow, errors = check_flow(text, f"{name}.yaml", CONTEXT)
    assert flow is not None, [str(e) for e in errors]
    return flow


def call(
    caller: str | None = "380501234567", now: dt.datetime = TUESDAY_NOON, language: str | None = None
) -> CallInfo:
    return CallInfo("1718000000.8", caller, now, dnid="0800507506", language=language)


def run(
    flow: Flow,
    caller: ScriptedCaller,
    *,
    info: CallInfo | None = None,
    schedules: FixedSchedules | None = None,
    flows: dict[str, Flow] | None = None,
) -> tuple[list[Command], Outcome]:
    env = FlowEnvironment(schedules or FixedSchedules(open=frozenset({"office"})), flows or {})
    return drive(run_flow(flow, info or call(), env), caller)


HI_UK = Prompt("uk", text="Привіт")
END = "z:\n  type: hangup\n"


def test_play_sends_prompts_in_the_call_language_and_hangup_ends() -> None:
    """A play node yields Play with the current language's text; hangup ends with Hangup."""
    flow = make_flow("a:\n  type: play\n  prompt: [hi, beep]\n  interruptible: false\n  next: z\n" + END)
    commands, outcome = run(flow, ScriptedCaller())
    assert commands == [
        SetVariable("CHANNEL(language)", "uk"),
        Play((HI_UK, Prompt("uk", file="beep")), False, ""),
        Hangup("completed"),
    ]
    assert (outcome.reason, outcome.hung_up, outcome.path.nodes) == ("hangup", True, ["a", "z"])


def test_interrupted_play_hands_its_key_to_the_next_menu() -> None:
    """A key pressed during an interruptible prompt selects the following menu's choice at once."""
    flow = make_flow(
        """\
        a:
          type: play
          prompt: hi
          next: m
        m:
          type: menu
          prompt: hi
          choices: {"1": z, "2": a}
          fallback: z
        z:
          type: hangup
        """
    )
    commands, outcome = run(flow, ScriptedCaller(keys=["!1"]))
    assert commands[1] == Play((HI_UK,), True, ALL_KEYS)
    assert not any(isinstance(c, WaitDigit) for c in commands)
    assert outcome.path.nodes == ["a", "m", "z"]
    assert outcome.path.digits == ["1", "1"]


MENU = """\
m:
  type: menu
  prompt: hi
  choices: {"1": one, "2": z}
  timeout: 3
  retries: 3
  timeout_prompt: quiet
  invalid_prompt: bad
  fallback: fb
one:
  type: hangup
  reason: one
fb:
  type: hangup
  reason: fallback
z:
  type: hangup
"""


def test_menu_plays_then_waits_and_follows_the_digit() -> None:
    """A menu plays its prompt (interruptible), waits for a key, and goes to the choice."""
    commands, outcome = run(make_flow(MENU, start="m"), ScriptedCaller(keys=["1"]))
    assert commands[1:] == [Play((HI_UK,), True, ALL_KEYS), WaitDigit(3000), Hangup("one")]
    assert outcome.detail == "one"


def test_menu_invalid_and_timeout_retry_then_fallback() -> None:
    """Invalid keys and silences play their prompts and retry; after `retries` the fallback runs."""
    commands, outcome = run(make_flow(MENU, start="m"), ScriptedCaller(keys=["7", None, "#"]))
    plays = [c.prompts[0].text for c in commands if isinstance(c, Play)]
    assert plays == ["Привіт", "Помилка", "Привіт", "Тиша", "Привіт", "Помилка"]
    assert outcome.detail == "fallback"
    assert outcome.path.steps[0].digits == ["7", "timeout", "#"]
    assert outcome.path.steps[0].result == "fallback"


def test_menu_succeeds_on_a_later_attempt() -> None:
    """A wrong key followed by a right one reaches the choice."""
    _, outcome = run(make_flow(MENU, start="m"), ScriptedCaller(keys=["9", "2"]))
    assert outcome.detail == "completed" and outcome.path.digits == ["9", "2"]


INPUT = """\
i:
  type: input
  prompt: hi
  variable: number
  pattern: appeal_number
  max_digits: 10
  timeout: 7
  retries: 2
  invalid_prompt: bad
  confirm: {prompt: quiet, question: hi}
  next: s
  fallback: fb
s:
  type: say
  kind: digits
  value: "${number}"
  next: z
fb:
  type: hangup
  reason: fallback
z:
  type: hangup
"""


def test_input_collects_checks_confirms_and_stores_digits() -> None:
    """Digits matching the pattern are read back, confirmed with 1 and stored in the variable."""
    commands, outcome = run(make_flow(INPUT, start="i"), ScriptedCaller(keys=["123456", "1"]))
    assert commands[1:] == [
        CollectDigits((HI_UK,), 10, 7000, "#", ""),
        Play((Prompt("uk", text="Тиша"),), False, ""),
        Say("digits", "123456"),
        Play((HI_UK,), True, ALL_KEYS),
        WaitDigit(7000),
        Say("digits", "123456"),
        Hangup("completed"),
    ]
    assert outcome.path.variables["number"] == "123456"


def test_input_rejects_a_bad_pattern_and_reentry_then_falls_back() -> None:
    """Too few digits play the invalid prompt; pressing 2 at the read-back re-enters; retries end in fallback."""
    commands, outcome = run(make_flow(INPUT, start="i"), ScriptedCaller(keys=["12", "123456", "2"]))
    assert Play((Prompt("uk", text="Помилка"),), False, "") in commands
    assert outcome.detail == "fallback"
    assert "number" not in outcome.path.variables
    assert outcome.path.steps[0].digits == ["12", "123456", "2"]


def test_input_starts_with_a_key_pressed_during_the_previous_prompt() -> None:
    """A barge-in key becomes the first digit and the input prompt is skipped."""
    flow = make_flow(
        "a:\n  type: play\n  prompt: hi\n  next: i\n"
        + INPUT.replace("confirm: {prompt: quiet, question: hi}\n  ", "")
    )
    commands, outcome = run(flow, ScriptedCaller(keys=["!5", "4321"]))
    assert CollectDigits((), 10, 7000, "#", "5") in commands
    assert outcome.path.variables["number"] == "54321"


def test_say_number_and_date_and_skipped_value() -> None:
    """Numbers go as they are, dates as epoch seconds at Kyiv noon; an unsayable value is skipped."""
    flow = make_flow(
        """\
        a:
          type: set
          variables: {n: "42", d: "2026-12-10", junk: "abc"}
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
          next: e
        e:
          type: say
          kind: number
          value: "${junk}"
          next: z
        z:
          type: hangup
        """
    )
    commands, outcome = run(flow, ScriptedCaller())
    noon = int(dt.datetime(2026, 12, 10, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp())
    assert [c for c in commands if isinstance(c, Say)] == [Say("number", "42"), Say("date", str(noon))]
    assert outcome.path.steps[3].result == "skipped: cannot be said as number"


def test_say_digits_drops_the_plus_and_separators_of_a_phone_number() -> None:
    """`+380 50 123-45-67` is said as its digits; text with letters is not said at all."""
    flow = make_flow(
        'a:\n  type: say\n  kind: digits\n  value: "${caller}"\n  next: b\n'
        'b:\n  type: say\n  kind: digits\n  value: "${dnid}x"\n  next: z\n' + END
    )
    commands, outcome = run(flow, ScriptedCaller(), info=call("+380 50 123-45-67"))
    assert [c for c in commands if isinstance(c, Say)] == [Say("digits", "380501234567")]
    assert outcome.path.steps[1].result == "skipped: cannot be said as digits"


def test_set_keeps_call_variables_sends_channel_variables_and_records_topic() -> None:
    """`variables` stay in the engine (topic goes to the path); `channel` becomes SET VARIABLE."""
    flow = make_flow(
        'a:\n  type: set\n  variables: {topic: "106", who: "${caller}"}\n  channel: {CC_TOPIC: "${topic}"}\n  next: z\n'
        + END
    )
    commands, outcome = run(flow, ScriptedCaller())
    assert SetVariable("CC_TOPIC", "106") in commands
    assert outcome.path.topic == "106"
    assert outcome.path.variables["who"] == "380501234567"


BRANCH = """\
a:
  type: branch
  rules:
    - if: {holiday: office}
      then: holiday
    - if: {not: {open: office}}
      then: closed
    - if: {caller_anonymous: true}
      then: anon
    - if: {caller_prefix: ["38044", "38050"]}
      then: mobile
    - if: {all: [{weekdays: [sat, sun]}, {time: {from: "09:00", to: "18:00"}}]}
      then: weekend_day
    - if: {dates: {from: 2026-12-31, to: 2027-01-01}}
      then: new_year
    - if: {time: {from: "22:00", to: "06:00"}}
      then: night
  else: other
holiday: {type: hangup, reason: holiday}
closed: {type: hangup, reason: closed}
anon: {type: hangup, reason: anon}
mobile: {type: hangup, reason: mobile}
weekend_day: {type: hangup, reason: weekend_day}
new_year: {type: hangup, reason: new_year}
night: {type: hangup, reason: night}
other: {type: hangup, reason: other}
"""


@pytest.mark.parametrize(
    ("caller", "now", "open_", "holidays", "expected"),
    [
        ("380501234567", TUESDAY_NOON, {"office"}, {"office"}, "holiday"),
        ("380501234567", TUESDAY_NOON, set(), set(), "closed"),
        (None, TUESDAY_NOON, {"office"}, set(), "anon"),
        ("380441234567", TUESDAY_NOON, {"office"}, set(), "mobile"),
        ("380671234567", dt.datetime(2026, 11, 28, 10, tzinfo=KYIV), {"office"}, set(), "weekend_day"),
        ("380671234567", dt.datetime(2026, 12, 31, 12, tzinfo=KYIV), {"office"}, set(), "new_year"),
        ("380671234567", dt.datetime(2026, 11, 24, 23, 30, tzinfo=KYIV), {"office"}, set(), "night"),
        ("380671234567", dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC), {"office"}, set(), "night"),
        ("380671234567", TUESDAY_NOON, {"office"}, set(), "other"),
    ],
)
def test_branch_conditions(
    caller: str | None, now: dt.datetime, open_: set[str], holidays: set[str], expected: str
) -> None:
    """Schedules, caller number, weekdays, time ranges (over midnight too) and dates pick the rule."""
    schedules = FixedSchedules(open=frozenset(open_), holidays=frozenset(holidays))
    _, outcome = run(make_flow(BRANCH), ScriptedCaller(), info=call(caller, now), schedules=schedules)
    assert outcome.detail == expected
    assert all(at == now for _, _, at in schedules.asked)


def test_branch_on_variables_and_language() -> None:
    """equals, in, matches and set test call variables; language tests the chosen language."""
    flow = make_flow(
        """\
        a:
          type: set
          variables: {st: IN_WORK, num: "00123"}
          next: b
        b:
          type: branch
          rules:
            - if: {variable: missing, set: true}
              then: bad
            - if: {variable: st, equals: CLOSED}
              then: bad
            - if: {all: [{variable: st, in: [IN_WORK, EXTENDED]}, {variable: num, matches: '0+\\d+'}, {language: ru}]}
              then: good
          else: bad
        good: {type: hangup, reason: good}
        bad: {type: hangup, reason: bad}
        """
    )
    _, outcome = run(flow, ScriptedCaller(), info=call(language="ru"))
    assert outcome.detail == "good"
    assert outcome.path.steps[1].result == "rule 3"


LANGUAGE = """\
l:
  type: language
  prompt: hi
  choices: {"1": uk, "2": ru, "3": en}
  timeout: 4
  retries: 2
  default: en
  next: p
p:
  type: play
  prompt: hi
  next: z
z:
  type: hangup
"""


def test_language_choice_switches_prompts_and_the_channel_language() -> None:
    """Pressing 2 switches to Russian: the channel language is set and prompts follow."""
    commands, outcome = run(make_flow(LANGUAGE, start="l"), ScriptedCaller(keys=["2"]))
    assert SetVariable("CHANNEL(language)", "ru") in commands
    assert Play((Prompt("ru", text="Привет"),), True, ALL_KEYS) in commands
    assert outcome.path.language == "ru" and outcome.path.variables["language"] == "ru"


def test_language_default_after_silence_and_fixed_switch() -> None:
    """No key twice falls back to `default`; a `set` language node switches without asking."""
    _, outcome = run(make_flow(LANGUAGE, start="l"), ScriptedCaller(keys=[None, None]))
    assert outcome.path.language == "en" and outcome.path.steps[0].result == "default"
    fixed = make_flow("l:\n  type: language\n  set: ru\n  next: z\n" + END, start="l")
    commands, outcome = run(fixed, ScriptedCaller())
    assert commands == [
        SetVariable("CHANNEL(language)", "uk"),
        SetVariable("CHANNEL(language)", "ru"),
        Hangup(),
    ]


def test_call_language_from_the_channel_is_used_when_offered() -> None:
    """A call arriving with language en starts in English; an unoffered one starts in the default."""
    flow = make_flow("a:\n  type: play\n  prompt: hi\n  next: z\n" + END, languages="[uk, en]")
    commands, _ = run(flow, ScriptedCaller(), info=call(language="en"))
    assert commands[0] == SetVariable("CHANNEL(language)", "en")
    commands, _ = run(flow, ScriptedCaller(), info=call(language="ru"))
    assert commands[0] == SetVariable("CHANNEL(language)", "uk")


LOOKUP = """\
a:
  type: lookup
  kind: appeal_status
  key: "${caller}"
  result: appeal
  found: f
  not_found: nf
f:
  type: say
  kind: date
  value: "${appeal.due_date}"
  next: z
nf:
  type: hangup
  reason: not_found
z:
  type: hangup
"""


def test_lookup_found_sets_result_variables() -> None:
    """A found lookup stores its values under the result name and follows `found`."""
    lookups = {("appeal_status", "380501234567"): {"state": "IN_WORK", "due_date": "2026-12-09"}}
    commands, outcome = run(make_flow(LOOKUP), ScriptedCaller(lookups=lookups))
    assert Lookup("appeal_status", "380501234567") in commands
    assert outcome.path.variables["appeal.state"] == "IN_WORK"
    assert outcome.path.steps[0].result == "found" and outcome.detail == "completed"


def test_lookup_not_found_follows_not_found() -> None:
    """An unknown key goes to `not_found`."""
    _, outcome = run(make_flow(LOOKUP), ScriptedCaller())
    assert outcome.detail == "not_found"


def test_record_attaches_the_message_to_the_path() -> None:
    """A record node plays its prompt without barge-in, records, and keeps the file for the appeal."""
    flow = make_flow(
        "r:\n  type: record\n  prompt: hi\n  max_seconds: 90\n  silence_seconds: 4\n  variable: msg\n  next: z\n"
        + END,
        start="r",
    )
    commands, outcome = run(flow, ScriptedCaller())
    assert commands[1:3] == [Play((HI_UK,), False, ""), Record(90, 4, True)]
    assert outcome.path.recordings == [
        {"node": "r", "file": "/recordings/ivr-1.wav", "duration_ms": 12_000, "purpose": "appeal"}
    ]
    assert outcome.path.variables["msg"] == "/recordings/ivr-1.wav"


QUEUE = """\
t:
  type: set
  variables: {topic: "106", q: social}
  next: q
q:
  type: queue
  queue: "${q}"
  priority: 2
  skills: [social, general]
  on: {no_agents: none, callback_requested: cb}
  fallback: fb
none: {type: hangup, reason: no_agents}
cb: {type: hangup, reason: callback}
fb: {type: hangup, reason: fallback}
"""


def test_queue_answered_ends_the_call() -> None:
    """An answered queue call hangs up afterwards and ends as answered, with the topic and language."""
    commands, outcome = run(make_flow(QUEUE, start="t"), ScriptedCaller(queue_results=["answered"]))
    assert Queue("social", 2, ("social", "general"), "uk", "106", ("t", "q")) in commands
    assert commands[-1] == Hangup("answered")
    assert (outcome.reason, outcome.hung_up) == ("answered", True)
    assert outcome.path.queue_results == [{"queue": "social", "status": "answered", "agent": "op101"}]


@pytest.mark.parametrize(
    ("status", "reason"),
    [("no_agents", "no_agents"), ("callback_requested", "callback"), ("closed", "fallback")],
)
def test_queue_results_lead_on(status: str, reason: str) -> None:
    """Each queue result follows its `on` target, others the fallback."""
    _, outcome = run(make_flow(QUEUE, start="t"), ScriptedCaller(queue_results=[status]))  # type: ignore[list-item]
    assert outcome.detail == reason


def test_a_key_pressed_before_the_queue_is_not_taken_by_a_menu_after_it() -> None:
    """A barge-in key is consumed or dropped by the queue wait, never replayed into a later menu."""
    flow = make_flow(
        """\
        a:
          type: play
          prompt: hi
          next: q
        q:
          type: queue
          queue: general
          fallback: m
        m:
          type: menu
          prompt: hi
          choices: {"1": z}
          fallback: z
        z:
          type: hangup
        """
    )
    commands, outcome = run(flow, ScriptedCaller(keys=["!1", "1"], queue_results=["no_agents"]))
    assert WaitDigit(5000) in commands
    assert outcome.path.digits == ["1", "1"]


TRANSFER = "x:\n  type: transfer\n  number: '7333'\n  timeout: 45\n  failed: z\n" + END


def test_transfer_answered_and_failed() -> None:
    """An answered transfer ends the flow; a busy line goes to `failed`."""
    commands, outcome = run(make_flow(TRANSFER, start="x"), ScriptedCaller(transfer_results=["ANSWER"]))
    assert commands[1:] == [Transfer("7333", 45), Hangup("transferred")]
    assert outcome.reason == "transferred"
    _, outcome = run(make_flow(TRANSFER, start="x"), ScriptedCaller(transfer_results=["BUSY"]))
    assert outcome.reason == "hangup" and outcome.path.transfers == [{"number": "7333", "status": "BUSY"}]


def test_goto_continues_in_another_flow_and_switches_an_unoffered_language() -> None:
    """A goto runs the other flow's node; a language that flow lacks becomes its default."""
    second = make_flow(
        "b:\n  type: play\n  prompt: hi\n  next: z\n" + END, name="second", start="b", languages="[uk]"
    )
    main = make_flow("a:\n  type: goto\n  flow: second\n  node: b\n")
    commands, outcome = run(main, ScriptedCaller(), info=call(language="en"), flows={"second": second})
    assert commands[1:] == [SetVariable("CHANNEL(language)", "uk"), Play((HI_UK,), True, ALL_KEYS), Hangup()]
    assert outcome.path.nodes == ["a", "second:b", "second:z"]


def test_goto_to_a_flow_that_is_not_loaded_leaves_the_call_to_the_dialplan() -> None:
    """A missing flow at run time ends with an error and no hangup, so the dialplan's survival path runs."""
    _, outcome = run(make_flow("a:\n  type: goto\n  flow: second\n"), ScriptedCaller())
    assert (outcome.reason, outcome.hung_up) == ("error", False)
    assert "second" in outcome.detail


def test_step_limit_stops_a_runaway_call() -> None:
    """A caller going round a menu forever is stopped by the step limit and left to the dialplan."""
    flow = make_flow(
        "m:\n  type: menu\n  prompt: hi\n  choices: {'1': p}\n  fallback: z\np:\n  type: play\n  prompt: hi\n  next: m\n"
        + END,
        start="m",
    )
    env = FlowEnvironment(FixedSchedules(), max_steps=10)
    _, outcome = drive(run_flow(flow, call(), env), ScriptedCaller(keys=["1"] * 5))
    assert (outcome.reason, outcome.hung_up) == ("step_limit", False)
    assert len(outcome.path.steps) == 10


def test_caller_hangup_mid_flow_keeps_the_partial_path() -> None:
    """When the driver reports a hang-up, the path so far is the outcome."""
    flow_run = run_flow(make_flow(MENU, start="m"), call(), FlowEnvironment(FixedSchedules()))
    steps = flow_run.commands()
    next(steps)
    steps.send(None)
    steps.send(KeyPress(None))
    steps.close()
    outcome = flow_run.caller_hung_up()
    assert (outcome.reason, outcome.hung_up) == ("caller_hangup", True)
    assert flow_run.path.nodes == ["m"] and flow_run.path.end == "caller_hangup"
    assert json.loads(json.dumps(outcome.path.to_dict()))["end"] == "caller_hangup"


def test_a_wrong_result_from_the_driver_is_an_engine_error() -> None:
    """Answering a Play with Digits is a driver bug and is refused loudly."""
    steps = run_flow(make_flow(MENU, start="m"), call(), FlowEnvironment(FixedSchedules())).commands()
    next(steps)
    steps.send(None)
    with pytest.raises(EngineError, match="expected KeyPress"):
        steps.send(Digits("1"))
