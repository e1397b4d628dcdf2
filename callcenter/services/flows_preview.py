"""What the flow editor shows besides errors: a test run with simulated key presses, and the graph.

``preview_run`` drives the engine with a ``ScriptedCaller`` (``callcenter.ivr.testing``) and returns
the engine's command list as JSON-ready dicts. Unlike ``drive`` it does not fail when the keys
run out: the run stops where the flow waits for the caller, which is what an admin trying a
flow step by step wants to see. ``flow_graph`` lists the nodes and labelled edges the page draws
as SVG; ``draft_graph`` does it for a text whose references may still be broken (a missing
target is an edge to a node marked ``missing``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.ivr.commands import Command, QueueStatus, Result
from callcenter.ivr.conditions import ScheduleOracle
from callcenter.ivr.engine import CallInfo, FlowEnvironment, FlowRun
from callcenter.ivr.loader import parse_flow
from callcenter.ivr.model import (
    BranchNode,
    Flow,
    GotoNode,
    InputNode,
    LookupNode,
    MenuNode,
    Node,
    QueueNode,
    TransferNode,
)
from callcenter.ivr.testing import ScriptedCaller, ScriptError

__all__ = ["PreviewRun", "command_json", "draft_graph", "flow_graph", "preview_run"]

#: A test run stops after this many commands (a flow that loops on silence would go on long).
MAX_TEST_COMMANDS = 500


@dataclass(frozen=True)
class PreviewRun:
    """The commands a flow gave for the script, and how it ended (None: it waits for a key)."""

    commands: list[dict[str, Any]]
    outcome: dict[str, Any] | None
    waiting: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The answer of the test-run endpoint."""
        return {"commands": self.commands, "outcome": self.outcome, "waiting": self.waiting}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def command_json(command: Command) -> dict[str, Any]:
    """A command as ``{"type": "Play", ...fields}`` (tuples as lists, as JSON has them)."""
    fields: dict[str, Any] = _plain(dataclasses.asdict(command))
    return {"type": type(command).__name__, **fields}


def preview_run(
    flow: Flow,
    keys: Sequence[str | None],
    *,
    schedules: ScheduleOracle,
    flows: Mapping[str, Flow],
    now: dt.datetime,
    caller: str | None = None,
    language: str | None = None,
    lookups: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    queue_results: Sequence[QueueStatus] = (),
    transfer_results: Sequence[str] = (),
) -> PreviewRun:
    """Run ``flow`` for a simulated call whose caller presses ``keys`` (``ScriptedCaller`` syntax)."""
    script = ScriptedCaller(
        keys=list(keys),
        lookups=dict(lookups or {}),
        queue_results=list(queue_results),
        transfer_results=list(transfer_results),
    )
    call = CallInfo(uniqueid="test-run", caller=caller, now=now, language=language)
    # The draft itself answers a goto to its own name; other flows are the active ones.
    run = FlowRun(flow, call, FlowEnvironment(schedules=schedules, flows={**flows, flow.name: flow}))
    commands: list[dict[str, Any]] = []
    steps = run.commands()
    try:
        command = next(steps)
        while True:
            commands.append(command_json(command))
            if len(commands) >= MAX_TEST_COMMANDS:
                steps.close()
                return PreviewRun(commands, None, f"stopped after {MAX_TEST_COMMANDS} commands")
            try:
                result: Result = script(command)
            except ScriptError as exc:
                steps.close()
                return PreviewRun(commands, None, str(exc))
            command = steps.send(result)
    except StopIteration as stop:
        outcome = stop.value
        return PreviewRun(
            commands,
            {"reason": outcome.reason, "detail": outcome.detail, "path": outcome.path.to_dict()},
        )


def _edges(node: Node) -> Iterator[tuple[str, str]]:
    """(target node, label) of every way out of a node."""
    if isinstance(node, MenuNode):
        for digit, target in node.choices.items():
            yield target.node, digit
        if node.fallback is not None:
            yield node.fallback.node, "fallback"
    elif isinstance(node, InputNode):
        if node.next is not None:
            yield node.next.node, ""
        if node.fallback is not None:
            yield node.fallback.node, "fallback"
    elif isinstance(node, BranchNode):
        for number, (_, target) in enumerate(node.rules, start=1):
            yield target.node, f"if {number}"
        if node.otherwise is not None:
            yield node.otherwise.node, "else"
    elif isinstance(node, LookupNode):
        if node.found is not None:
            yield node.found.node, "found"
        if node.not_found is not None:
            yield node.not_found.node, "not found"
    elif isinstance(node, QueueNode):
        for result, target in node.on.items():
            yield target.node, result
        if node.fallback is not None:
            yield node.fallback.node, "fallback"
    elif isinstance(node, TransferNode):
        if node.failed is not None:
            yield node.failed.node, "failed"
    else:
        for target in node.targets():
            yield target.node, ""


def _detail(node: Node) -> str:
    if isinstance(node, QueueNode):
        return node.queue
    if isinstance(node, GotoNode):
        return node.flow + (f":{node.node}" if node.node else "")
    if isinstance(node, TransferNode):
        return node.number
    return ""


def flow_graph(flow: Flow) -> dict[str, Any]:
    """Nodes (id, type, line, detail) and edges (from, to, label) of a flow, for the diagram."""
    nodes = [
        {
            "id": node.id,
            "type": type(node).__name__.removesuffix("Node").lower(),
            "line": node.loc.line,
            "detail": _detail(node),
            "missing": False,
        }
        for node in flow.nodes.values()
    ]
    edges: list[dict[str, str]] = []
    missing: dict[str, None] = {}
    for node in flow.nodes.values():
        for target, label in _edges(node):
            edges.append({"from": node.id, "to": target, "label": label})
            if target not in flow.nodes:
                missing[target] = None
    nodes += [{"id": m, "type": "missing", "line": 0, "detail": "", "missing": True} for m in missing]
    return {"name": flow.name, "start": flow.start, "nodes": nodes, "edges": edges}


def draft_graph(source: str, name: str) -> dict[str, Any] | None:
    """The graph of a draft that parses (even with reference errors); None when it does not."""
    parsed = parse_flow(source, f"{name}.yaml", name)
    return flow_graph(parsed.flow) if parsed.flow is not None else None
