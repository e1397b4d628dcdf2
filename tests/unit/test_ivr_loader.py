"""Schema errors of flow files: each one reported as file:line:column, all of them at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from callcenter.ivr import FlowInvalid, FlowLibrary, ValidationContext, check_flow, load_flow, validate_files
from callcenter.ivr.model import FlowError, MenuNode, PlayNode

CONTEXT = ValidationContext(
    queues=frozenset({"general"}),
    schedules=frozenset({"office"}),
    skills=frozenset({"general", "social"}),
    flows=frozenset({"other"}),
)

BASE = """\
languages: [uk, en]
start: hello
prompts:
  hi: {uk: "Вітаємо", en: "Hello"}
nodes:
  hello:
    type: play
    prompt: hi
    next: bye
  bye:
    type: hangup
"""


def at(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of needle."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def errors_of(text: str) -> list[FlowError]:
    flow, errors = check_flow(textwrap.dedent(text), "f.yaml", CONTEXT)
    assert (flow is None) == bool(errors)
    return errors


def one_error(text: str) -> FlowError:
    errors = errors_of(text)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def test_minimal_flow_loads_with_its_nodes_and_prompts() -> None:
    """A valid file builds a flow named after the file, with typed nodes and its prompts."""
    flow, errors = check_flow(BASE, "ivr_flows/greet.yaml", CONTEXT)
    assert errors == []
    assert flow is not None
    assert flow.name == "greet"
    assert flow.languages == ("uk", "en")
    assert flow.default_language == "uk"
    assert isinstance(flow.nodes["hello"], PlayNode)
    assert flow.prompts["hi"].texts == {"uk": "Вітаємо", "en": "Hello"}
    assert flow.nodes["hello"].loc.line == 6


def test_flow_identity_is_its_name_and_source_digest() -> None:
    """Two loads of the same text are equal and hash alike; a changed text is a new version."""
    first, _ = check_flow(BASE, "a/greet.yaml", CONTEXT)
    second, _ = check_flow(BASE, "b/greet.yaml", CONTEXT)
    changed, _ = check_flow(BASE.replace("Hello", "Hi"), "a/greet.yaml", CONTEXT)
    assert first is not None and second is not None and changed is not None
    assert first == second and hash(first) == hash(second)
    assert changed != first
    assert len(first.digest) == 64 and first.source_text == BASE


def test_error_renders_as_file_line_column_message() -> None:
    """FlowError prints in the compiler format editors understand."""
    assert str(FlowError("ivr_flows/x.yaml", 3, 7, "bad")) == "ivr_flows/x.yaml:3:7: bad"


def test_yaml_syntax_error_is_located() -> None:
    """Broken YAML is reported at the place the parser stopped."""
    text = BASE + "  broken: [1, 2\n"
    error = one_error(text)
    assert error.message.startswith("YAML syntax error")
    assert error.line >= 12


def test_empty_file_is_an_error() -> None:
    """An empty file is reported at 1:1."""
    error = one_error("")
    assert (error.line, error.column, error.message) == (1, 1, "the flow file is empty")


def test_duplicate_node_id_is_reported_at_the_second_definition() -> None:
    """A node defined twice is an error at the second key, naming the first line."""
    text = BASE + "  bye:\n    type: hangup\n"
    error = one_error(text)
    assert (error.line, error.column) == at(text, "bye:", 1)
    assert "duplicate key `bye`" in error.message and "line 10" in error.message


def test_duplicate_menu_digit_written_as_number_and_text() -> None:
    """`1` and `"1"` are the same key press: a menu with both is a duplicate digit."""
    text = BASE.replace(
        "    prompt: hi\n    next: bye\n",
        '    prompt: hi\n    next: m\n  m:\n    type: menu\n    prompt: hi\n    choices:\n      1: bye\n      "1": hello\n    fallback: bye\n',
    )
    error = one_error(text)
    assert (error.line, error.column) == at(text, '"1": hello')
    assert "duplicate key `1`" in error.message


def test_unknown_node_type_is_reported_at_the_type_value() -> None:
    """A misspelt type names the valid ones."""
    text = BASE.replace("type: hangup", "type: hangpu")
    error = one_error(text)
    assert (error.line, error.column) == at(text, "hangpu")
    assert "unknown node type `hangpu`" in error.message and "hangup" in error.message


def test_missing_required_key_is_reported_at_the_node() -> None:
    """A play node without `next` is reported where its body starts."""
    text = BASE.replace("    next: bye\n", "")
    errors = errors_of(text)
    messages = [e.message for e in errors]
    assert "play node `hello` needs `next`" in messages
    missing = errors[messages.index("play node `hello` needs `next`")]
    assert (missing.line, missing.column) == at(text, "type: play")


def test_unknown_key_is_reported_at_the_key() -> None:
    """A key a node type does not take is an error at that key."""
    text = BASE.replace("    next: bye\n", "    next: bye\n    nxet: bye\n")
    error = one_error(text)
    assert (error.line, error.column) == at(text, "nxet")
    assert "unknown key `nxet` in play node `hello`" in error.message


def test_wrong_value_type_is_reported_at_the_value() -> None:
    """A timeout that is not a number of seconds is located at its value."""
    text = BASE.replace(
        "    next: bye\n  bye:",
        "    next: m\n  m:\n    type: menu\n    prompt: hi\n    choices: {'1': bye}\n    timeout: soon\n"
        "    fallback: bye\n  bye:",
    )
    error = one_error(text)
    assert (error.line, error.column) == at(text, "soon")
    assert error.message == "`timeout` of menu node `m` must be a number of seconds"


def test_invalid_input_pattern_is_reported() -> None:
    """A regular expression that does not compile is an error at the pattern."""
    text = BASE.replace(
        "    next: bye\n  bye:",
        "    next: i\n  i:\n    type: input\n    prompt: hi\n    variable: n\n    pattern: '[0-9'\n"
        "    next: bye\n    fallback: bye\n  bye:",
    )
    error = one_error(text)
    assert (error.line, error.column) == at(text, "'[0-9'")
    assert error.message.startswith("invalid pattern `[0-9`")


def test_prompt_with_an_unsupported_language() -> None:
    """A prompt key that is not uk, ru or en is reported at the key."""
    text = BASE.replace('en: "Hello"}', 'en: "Hello", de: "Hallo"}')
    error = one_error(text)
    assert (error.line, error.column) == at(text, "de:")
    assert "unknown language `de`" in error.message


def test_non_key_menu_choice_is_reported() -> None:
    """A menu choice that is not a phone key (0-9, *, #) is reported at the key."""
    text = BASE.replace(
        "    next: bye\n  bye:",
        "    next: m\n  m:\n    type: menu\n    prompt: hi\n    choices: {'1': bye, '12': bye}\n"
        "    fallback: bye\n  bye:",
    )
    error = one_error(text)
    assert (error.line, error.column) == at(text, "'12'")
    assert "is not a phone key" in error.message


def test_bad_condition_and_date_range() -> None:
    """Unknown condition kinds and reversed date ranges are reported where written."""
    text = BASE.replace(
        "    next: bye\n  bye:",
        "    next: b\n  b:\n    type: branch\n    rules:\n      - if: {sunny: true}\n        then: bye\n"
        "      - if: {dates: {from: 2026-12-31, to: 2026-01-01}}\n        then: bye\n    else: bye\n  bye:",
    )
    errors = errors_of(text)
    assert [(e.line, e.column) for e in errors] == [at(text, "sunny"), at(text, "{from: 2026")]
    assert "unknown condition `sunny`" in errors[0].message
    assert "ends (2026-01-01) before it starts (2026-12-31)" in errors[1].message


def test_every_error_of_a_file_is_reported_at_once_in_file_order() -> None:
    """Schema and graph errors come together, sorted by line."""
    text = BASE.replace("type: hangup", "type: hangpu").replace("next: bye", "next: nowhere")
    text += "  extra:\n    type: play\n    prompt: hi\n    interruptible: maybe\n    next: bye\n"
    errors = errors_of(text)
    lines = [e.line for e in errors]
    assert lines == sorted(lines)
    messages = " | ".join(e.message for e in errors)
    assert "goes to an unknown node `nowhere`" in messages
    assert "unknown node type `hangpu`" in messages
    assert "must be true or false" in messages
    assert "can never be reached" in messages


def test_load_flow_raises_with_all_errors(tmp_path: Path) -> None:
    """load_flow refuses an invalid file and carries every error."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        BASE.replace("next: bye", "next: nowhere").replace("type: hangup", "type: x"), encoding="utf-8"
    )
    with pytest.raises(FlowInvalid) as caught:
        load_flow(path, CONTEXT)
    assert [e.line for e in caught.value.errors] == [9, 11]
    assert str(caught.value).splitlines()[0].startswith(f"{path}:")


def test_validate_files_checks_files_together(tmp_path: Path) -> None:
    """A goto to a flow given in the same run is known; errors of all files are returned."""
    main = tmp_path / "main.yaml"
    main.write_text(BASE.replace("type: hangup", "type: goto\n    flow: second"), encoding="utf-8")
    second = tmp_path / "second.yaml"
    second.write_text(BASE.replace("next: bye", "next: gone"), encoding="utf-8")
    errors = validate_files([main, second], CONTEXT)
    assert [str(e) for e in errors] == [
        f"{second}:9:11: node `hello` goes to an unknown node `gone`",
        f"{second}:10:3: node `bye` can never be reached from `hello`",
    ]


def test_library_keeps_serving_the_previous_version_when_a_reload_is_invalid(tmp_path: Path) -> None:
    """An invalid new version is not activated: the previous one stays."""
    library = FlowLibrary(CONTEXT)
    (tmp_path / "greet.yaml").write_text(BASE, encoding="utf-8")
    assert library.load_dir(tmp_path) == []
    good = library.get("greet")
    assert good is not None
    (tmp_path / "greet.yaml").write_text(BASE.replace("next: bye", "next: nowhere"), encoding="utf-8")
    errors = library.load_dir(tmp_path)
    assert [e.message for e in errors] == [
        "node `hello` goes to an unknown node `nowhere`",
        "node `bye` can never be reached from `hello`",
    ]
    assert library.get("greet") is good
    (tmp_path / "greet.yaml").write_text(BASE.replace("Hello", "Hi"), encoding="utf-8")
    assert library.load_dir(tmp_path) == []
    new = library.get("greet")
    assert new is not None and new != good and library.flows["greet"] is new


def test_menu_fields_are_read() -> None:
    """Menu timeout, retries, prompts and fallback reach the model."""
    text = BASE.replace(
        "    next: bye\n  bye:",
        "    next: m\n  m:\n    type: menu\n    prompt: [hi, {uk: 'Так', en: 'Yes'}]\n    choices: {'1': bye, '*': hello}\n"
        "    timeout: 2.5\n    retries: 2\n    invalid_prompt: hi\n    fallback: bye\n  bye:",
    )
    flow, errors = check_flow(text, "f.yaml", CONTEXT)
    assert errors == [] and flow is not None
    menu = flow.nodes["m"]
    assert isinstance(menu, MenuNode)
    assert (menu.timeout_s, menu.retries) == (2.5, 2)
    assert set(menu.choices) == {"1", "*"}
    assert menu.prompts[1].inline is not None and menu.prompts[1].inline.texts["uk"] == "Так"
