"""Fuzzing the flow loader: any text an admin can publish gives a flow or located errors, never a crash.

``check_flow`` is what the editor, the API and the folder watcher call before a flow is
activated. Whatever the text (random characters, random YAML documents, the shipped hotline
flow with lines deleted, swapped or cut short, a YAML alias bomb), it must return either a valid
flow and no errors or no flow and errors that each name the file, a line within the text and a
column, with a message. Anything else (an exception, a hang) would take the editor or the
watcher down with it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.ivr.model import FlowError
from callcenter.ivr.validate import ValidationContext, check_flow
from callcenter.services.flows import load_flow_setup

REPO_ROOT = Path(__file__).resolve().parents[2]
HOTLINE = (REPO_ROOT / "ivr_flows" / "hotline.yaml").read_text(encoding="utf-8")
_SETUP = load_flow_setup(REPO_ROOT / "queue").context
#: The flows a flow may go to are the shipped ones (the hotline continues to the survey), as the
#: flow service knows them from the folder.
CONTEXT: ValidationContext = replace(
    _SETUP, flows=_SETUP.flows | {p.stem for p in (REPO_ROOT / "ivr_flows").glob("*.yaml")}
)
FILENAME = "ivr_flows/fuzz.yaml"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_clear(text: str) -> None:
    """The loader's verdict on ``text`` is a flow, or errors located inside the text."""
    flow, errors = check_flow(text, FILENAME, CONTEXT, name="fuzz")
    if flow is not None:
        assert errors == []
        return
    assert errors, "no flow and no error"
    lines = text.count("\n") + 2  # an error may point just past the last line (end of file)
    for error in errors:
        assert isinstance(error, FlowError)
        assert error.file == FILENAME
        assert 1 <= error.line <= lines, (error, lines)
        assert error.column >= 1
        assert error.message.strip()
        assert str(error).startswith(f"{FILENAME}:{error.line}:{error.column}: ")


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
keys = st.sampled_from(
    [
        "description",
        "languages",
        "start",
        "prompts",
        "nodes",
        "type",
        "next",
        "prompt",
        "choices",
        "queue",
        "fallback",
        "menu",
        "welcome",
        "uk",
        "text",
        "language",
        "retries",
        "timeout",
        "x",
    ]
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)


@FUZZ
@given(st.text(max_size=400))
def test_random_text_gives_located_errors(text: str) -> None:
    """Random characters are refused with errors that point into the text."""
    assert_clear(text)


@FUZZ
@given(documents)
def test_random_yaml_documents_give_located_errors(document: object) -> None:
    """Random YAML documents built from the flow vocabulary are refused (or accepted) cleanly."""
    assert_clear(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(st.data())
def test_mutated_hotline_flow_gives_a_flow_or_located_errors(data: st.DataObject) -> None:
    """The shipped flow with lines deleted, duplicated, swapped or cut is judged cleanly."""
    lines = HOTLINE.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "swap", "cut", "indent"]))
        if action == "delete" and len(lines) > 1:
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif action == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = "  " + lines[i]
    assert_clear("".join(lines))


def test_the_shipped_flow_itself_is_valid() -> None:
    """The mutation test starts from a flow that validates (so its refusals come from the mutations)."""
    flow, errors = check_flow(HOTLINE, "ivr_flows/hotline.yaml", CONTEXT)
    assert errors == [] and flow is not None


def test_a_yaml_alias_bomb_is_refused_quickly() -> None:
    """Nested aliases that would expand to millions of nodes are refused in well under a second."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "description: bomb\nstart: s\nbomb:\n" + "\n".join(f"  {line}" for line in levels) + "\n"
    started = time.perf_counter()
    assert_clear(text)
    assert time.perf_counter() - started < 2.0
