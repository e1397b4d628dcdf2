"""Graph and reference errors of flows, each with its location."""

from __future__ import annotations

import textwrap

from callcenter.ivr import ValidationContext, check_flow
from callcenter.ivr.model import FlowError

CONTEXT = ValidationContext(
    queues=frozenset({"general", "social"}),
    schedules=frozenset({"office"}),
    skills=frozenset({"general", "social"}),
    flows=frozenset({"other"}),
)


def flow_text(nodes: str, prompts: str = '  hi: {uk: "Привіт", en: "Hi"}\n', start: str = "a") -> str:
    return f"languages: [uk, en]\nstart: {start}\nprompts:\n{prompts}nodes:\n" + textwrap.indent(
        textwrap.dedent(nodes), "  "
    )


def at(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of needle."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def errors_of(text: str, context: ValidationContext = CONTEXT) -> list[FlowError]:
    flow, errors = check_flow(text, "f.yaml", context)
    assert (flow is None) == bool(errors)
    return errors


def only(text: str, context: ValidationContext = CONTEXT) -> FlowError:
    errors = errors_of(text, context)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


END = "z:\n  type: hangup\n"


def test_unknown_target_is_located_at_the_reference() -> None:
    """A `next` naming no node is reported where the name is written."""
    text = flow_text("a:\n  type: play\n  prompt: hi\n  next: zz\n")
    error = only(text)
    assert (error.line, error.column) == at(text, "zz")
    assert error.message == "node `a` goes to an unknown node `zz`"


def test_unknown_start_node() -> None:
    """`start` must name a node."""
    text = flow_text(END, start="nope")
    messages = [e.message for e in errors_of(text)]
    assert "`start` names an unknown node `nope`" in messages


def test_unreachable_node_is_reported_at_its_definition() -> None:
    """A node nothing leads to is reported where it is defined."""
    text = flow_text("a:\n  type: hangup\nlost:\n  type: hangup\n")
    error = only(text)
    assert (error.line, error.column) == at(text, "lost:")
    assert error.message == "node `lost` can never be reached from `a`"


def test_loop_without_waiting_for_input() -> None:
    """Plays and sets that lead back to each other loop forever without asking the caller."""
    text = flow_text(
        """\
        a:
          type: play
          prompt: hi
          next: b
        b:
          type: set
          variables: {x: "1"}
          next: a
        """
    )
    errors = errors_of(text)
    loop = [e for e in errors if e.message.startswith("loop never waits")]
    assert len(loop) == 1
    assert (loop[0].line, loop[0].column) == at(text, "a:\n")
    assert "a → b → a" in loop[0].message


def test_branch_that_points_at_itself_is_a_loop() -> None:
    """A self-loop through a branch is reported even when another exit exists."""
    text = flow_text(
        """\
        a:
          type: branch
          rules:
            - if: {language: en}
              then: a
          else: z
        z:
          type: hangup
        """
    )
    error = only(text)
    assert error.message.startswith("loop never waits for the caller: a → a")


def test_loop_through_a_menu_is_allowed_but_must_be_able_to_exit() -> None:
    """A menu whose every way leads back to itself traps the caller: reported once at the first node."""
    text = flow_text(
        """\
        a:
          type: menu
          prompt: hi
          choices: {"1": b}
          fallback: a
        b:
          type: play
          prompt: hi
          next: a
        """
    )
    error = only(text)
    assert (error.line, error.column) == at(text, "a:\n")
    assert error.message == (
        "the call can never end from `a`, `b`: no path leads to a hangup, queue, transfer or goto"
    )


def test_menu_with_a_gap_in_its_digits() -> None:
    """Choices 1, 2, 4 skip 3; 0, * and # are extras and need no sequence."""
    text = flow_text(
        """\
        a:
          type: menu
          prompt: hi
          choices: {"1": z, "2": z, "4": z, "0": z, "*": z}
          fallback: z
        z:
          type: hangup
        """
    )
    error = only(text)
    assert (error.line, error.column) == at(text, "a:")
    assert error.message.startswith("menu `a` skips digit 3 (has 1, 2, 4)")


def test_prompt_missing_in_an_offered_language() -> None:
    """A named prompt without an `en` text is reported at its definition."""
    prompts = '  hi: {uk: "Привіт", en: "Hi"}\n  only_uk: {uk: "Лише українською"}\n'
    text = flow_text("a:\n  type: play\n  prompt: [hi, only_uk]\n  next: z\n" + END, prompts)
    error = only(text)
    assert (error.line, error.column) == at(text, '{uk: "Лише')
    assert error.message == "prompt `only_uk` has no en version (the flow offers uk, en)"


def test_inline_prompt_missing_a_language_and_unknown_prompt_name() -> None:
    """Inline prompts are checked too; a name not in `prompts:` is reported at the use."""
    text = flow_text("a:\n  type: play\n  prompt: [{uk: 'Так'}, nosuch]\n  next: z\n" + END)
    errors = errors_of(text)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (*at(text, "{uk: 'Так'}"), "the prompt has no en version (the flow offers uk, en)"),
        (*at(text, "nosuch"), "node `a` plays an unknown prompt `nosuch`"),
    ]


def test_recorded_file_and_fixed_language_prompts_need_no_translation() -> None:
    """A `file` for every language and a fixed-language text count as complete."""
    prompts = '  beep: {file: beep}\n  uk_only: {language: uk, text: "Українською"}\n'
    text = flow_text("a:\n  type: play\n  prompt: [beep, uk_only]\n  next: z\n" + END, prompts)
    assert errors_of(text) == []


def test_queue_and_skill_that_do_not_exist() -> None:
    """Queue and skill names are checked against the context where written."""
    text = flow_text("a:\n  type: queue\n  queue: nosuch\n  skills: [social, flying]\n  fallback: z\n" + END)
    errors = errors_of(text)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (*at(text, "nosuch"), "queue `nosuch` does not exist"),
        (*at(text, "flying"), "skill `flying` does not exist"),
    ]


def test_queue_by_variable_checks_every_value_assigned() -> None:
    """`queue: ${q}` is checked through the literal values `set` nodes give `q`."""
    text = flow_text(
        """\
        a:
          type: menu
          prompt: hi
          choices: {"1": b, "2": c}
          fallback: b
        b:
          type: set
          variables: {q: social}
          next: d
        c:
          type: set
          variables: {q: nosuch}
          next: d
        d:
          type: queue
          queue: "${q}"
          skills: ["${s}"]
          fallback: z
        z:
          type: hangup
        """
    )
    errors = errors_of(text)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (*at(text, "c:\n"), "node `c` sets queue `nosuch`, which does not exist"),
        (*at(text, '"${s}"'), "node `d` uses `${s}`, which nothing sets"),
    ]


def test_queue_needs_a_way_on_for_unhandled_results() -> None:
    """Without `fallback`, every result except answered needs an `on` target."""
    text = flow_text("a:\n  type: queue\n  queue: general\n  on: {no_agents: z}\n" + END)
    error = only(text)
    assert (error.line, error.column) == at(text, "a:")
    assert (
        error.message
        == "queue node `a` needs `fallback` or `on` targets for: closed, callback_requested, timeout"
    )


def test_schedule_that_does_not_exist() -> None:
    """Working-hours and holiday conditions name existing schedules."""
    text = flow_text(
        """\
        a:
          type: branch
          rules:
            - if: {any: [{open: office}, {holiday: nightshift}]}
              then: z
          else: z
        z:
          type: hangup
        """
    )
    error = only(text)
    assert (error.line, error.column) == at(text, "nightshift")
    assert error.message == "schedule `nightshift` does not exist"


def test_goto_unknown_flow_and_unknown_lookup_kind() -> None:
    """Another flow must exist; a lookup must be of a kind the backend answers."""
    text = flow_text(
        """\
        a:
          type: lookup
          kind: weather
          key: "${caller}"
          result: w
          found: b
          not_found: b
        b:
          type: goto
          flow: elsewhere
        """
    )
    errors = errors_of(text)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (*at(text, "a:"), "unknown lookup kind `weather` (known: appeal_status)"),
        (*at(text, "elsewhere"), "flow `elsewhere` does not exist"),
    ]


def test_variables_must_be_set_somewhere() -> None:
    """A template naming a variable nothing sets is an error; builtins and lookup results are fine."""
    text = flow_text(
        """\
        a:
          type: lookup
          kind: appeal_status
          key: "${caller}"
          result: st
          found: b
          not_found: z
        b:
          type: say
          kind: date
          value: "${st.due_date}"
          next: c
        c:
          type: say
          kind: digits
          value: "${nobody}"
          next: z
        z:
          type: hangup
        """
    )
    error = only(text)
    assert (error.line, error.column) == at(text, '"${nobody}"')
    assert error.message == "node `c` uses `${nobody}`, which nothing sets"


def test_language_choice_not_offered_by_the_flow() -> None:
    """A language menu may only offer the flow's languages."""
    text = flow_text(
        """\
        a:
          type: language
          prompt: hi
          choices: {"1": uk, "2": ru}
          next: z
        z:
          type: hangup
        """
    )
    error = only(text)
    assert (error.line, error.column) == at(text, "ru}")
    assert error.message == "language `ru` is not offered by the flow"


def test_all_graph_errors_are_reported_together() -> None:
    """Several independent problems in one file all come back in one run."""
    text = flow_text(
        """\
        a:
          type: menu
          prompt: [hi, missing]
          choices: {"1": z, "3": z}
          fallback: nowhere
        orphan:
          type: queue
          queue: nosuch
          fallback: z
        z:
          type: hangup
        """
    )
    messages = sorted(e.message for e in errors_of(text))
    assert len(messages) == 5
    assert any("unknown node `nowhere`" in m for m in messages)
    assert any("unknown prompt `missing`" in m for m in messages)
    assert any("skips digit 2" in m for m in messages)
    assert any("`orphan` can never be reached" in m for m in messages)
    assert any("queue `nosuch` does not exist" in m for m in messages)


def test_goto_within_the_same_flow_is_an_edge_of_the_graph() -> None:
    """A goto to a node of its own flow makes that node reachable, and can close a loop."""
    reached = flow_text("a:\n  type: goto\n  flow: f\n  node: b\nb:\n  type: hangup\n")
    assert errors_of(reached) == []
    looping = flow_text("a:\n  type: play\n  prompt: hi\n  next: b\nb:\n  type: goto\n  flow: f\n")
    messages = [e.message for e in errors_of(looping)]
    assert any(m.startswith("loop never waits for the caller: a → b → a") for m in messages)
