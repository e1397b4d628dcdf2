"""The editor's test run (engine commands for simulated key presses) and the flow graph."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.ivr.commands import Play, Prompt
from callcenter.ivr.model import Flow
from callcenter.ivr.testing import FixedSchedules
from callcenter.ivr.validate import ValidationContext, check_flow
from callcenter.services.flows_preview import PreviewRun, command_json, draft_graph, flow_graph, preview_run

CONTEXT = ValidationContext(frozenset({"general"}), frozenset({"office"}), frozenset())
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Kyiv"))
TINY = """\
languages: [uk]
start: greet
nodes:
  greet:
    type: play
    prompt: {uk: "Вітаємо."}
    next: menu
  menu:
    type: menu
    prompt: {uk: "Оператор — 1, довідка — 2."}
    choices: {"1": operator, "2": info}
    fallback: bye
  info:
    type: play
    prompt: {uk: "Довідка."}
    next: bye
  operator:
    type: queue
    queue: general
    fallback: bye
  bye:
    type: hangup
"""


def tiny() -> Flow:
    flow, errors = check_flow(TINY, "tiny.yaml", CONTEXT)
    assert flow is not None, errors
    return flow


def run(keys: list[str | None], **kwargs: Any) -> PreviewRun:
    return preview_run(tiny(), keys, schedules=FixedSchedules(), flows={}, now=NOW, **kwargs)


def test_run_follows_the_keys_to_the_end() -> None:
    """Pressing 2 plays the information prompt and hangs up; the outcome and path are returned."""
    result = run(["2"])
    media = [c for c in result.commands if c["type"] != "SetVariable"]
    assert [c["type"] for c in media] == ["Play", "Play", "WaitDigit", "Play", "Hangup"]
    assert media[3]["prompts"][0]["text"] == "Довідка."
    assert result.outcome is not None and result.outcome["reason"] == "hangup"
    assert result.outcome["path"]["steps"][1]["digits"] == ["2"]
    assert result.waiting is None


def test_run_stops_where_the_flow_waits_when_keys_run_out() -> None:
    """With no key left the run stops at the wait and says so instead of failing."""
    result = run([])
    assert [c["type"] for c in result.commands if c["type"] != "SetVariable"] == ["Play", "Play", "WaitDigit"]
    assert result.outcome is None
    assert result.waiting is not None and "WaitDigit" in result.waiting


def test_run_uses_the_scripted_queue_result() -> None:
    """Key 1 reaches the queue command, answered from the given queue results."""
    result = run(["1"], queue_results=["answered"])
    queue = [c for c in result.commands if c["type"] == "Queue"]
    assert queue and queue[0]["queue"] == "general"
    assert result.outcome is not None and result.outcome["reason"] == "answered"
    assert result.to_json()["outcome"] == result.outcome


def test_command_json_names_the_command_type() -> None:
    """A command becomes its fields plus its type name, nested prompts included."""
    data = command_json(Play((Prompt("uk", text="Так"),), interruptible=True, escape_digits="12"))
    assert data == {
        "type": "Play",
        "prompts": [{"language": "uk", "file": None, "text": "Так"}],
        "interruptible": True,
        "escape_digits": "12",
    }


def test_graph_has_labelled_edges_and_the_start() -> None:
    """Menu digits, fallback and queue fallback are labelled edges; start and node lines are given."""
    graph = flow_graph(tiny())
    assert graph["start"] == "greet"
    edges = {(e["from"], e["to"], e["label"]) for e in graph["edges"]}
    assert ("menu", "operator", "1") in edges
    assert ("menu", "info", "2") in edges
    assert ("menu", "bye", "fallback") in edges
    assert ("greet", "menu", "") in edges
    lines = {n["id"]: n["line"] for n in graph["nodes"]}
    assert lines["greet"] == 4 and lines["bye"] == 21
    assert {n["id"]: n["detail"] for n in graph["nodes"]}["operator"] == "general"


def test_draft_graph_shows_a_missing_target() -> None:
    """A draft whose node points at an unknown node still gets a graph, with that node marked missing."""
    graph = draft_graph(TINY.replace("next: bye", "next: byee"), "tiny")
    assert graph is not None
    missing = [n for n in graph["nodes"] if n["missing"]]
    assert [n["id"] for n in missing] == ["byee"]


def test_draft_graph_of_broken_yaml_is_none() -> None:
    """Text that is not a flow at all has no graph."""
    assert draft_graph("nodes: [unclosed", "tiny") is None
