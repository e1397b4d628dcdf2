"""Graph and reference checks of a parsed flow, and the entry points that run every check.

What is checked here (the schema is checked by ``loader``): the start node and every target
exist; every node can be reached; no loop runs without waiting for the caller; every node can
still reach an exit; menu digits run 1, 2, 3… without gaps; every prompt exists in every
language the flow offers; queues, skills, schedules, lookups and other flows exist in the
``ValidationContext``; every ``${variable}`` is set somewhere. All problems are reported at once.

Nothing here reads the deployment's configuration: the caller passes what exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.ivr.loader import Parsed, parse_flow
from callcenter.ivr.model import (
    BranchNode,
    Condition,
    Flow,
    FlowError,
    FlowInvalid,
    GotoNode,
    InputNode,
    LanguageNode,
    Loc,
    LookupNode,
    MenuNode,
    Node,
    PromptSpec,
    QueueNode,
    RecordNode,
    SayNode,
    SetNode,
)
from callcenter.ivr.template import VARIABLE_NAME, is_template, variables_in

__all__ = [
    "BUILTIN_VARIABLES",
    "ValidationContext",
    "check_flow",
    "check_graph",
    "load_flow",
    "validate_files",
]

#: Variables every call has (see ``engine.CallInfo``); ``query.*`` holds the AGI route's query.
BUILTIN_VARIABLES = frozenset({"caller", "dnid", "uniqueid", "language", "channel_language"})
_BUILTIN_PREFIXES = ("query.",)


@dataclass(frozen=True)
class ValidationContext:
    """What exists outside the flow: queues, skills, schedules, other flows, lookup kinds."""

    queues: frozenset[str]
    schedules: frozenset[str]
    skills: frozenset[str]
    flows: frozenset[str] = frozenset()
    lookups: frozenset[str] = field(default_factory=lambda: frozenset({"appeal_status"}))


def _waits(node: Node) -> bool:
    if isinstance(node, LanguageNode):
        return node.asks
    return node.waits


class _Checker:
    def __init__(self, flow: Flow, context: ValidationContext, declared: frozenset[str]) -> None:
        self.flow = flow
        self.context = context
        self.declared = declared | frozenset(flow.nodes)
        self.errors: list[FlowError] = []

    def error(self, loc: Loc, message: str) -> None:
        self.errors.append(FlowError(self.flow.filename, loc.line, loc.column, message))

    def self_goto(self, node: Node) -> str | None:
        """The node a goto into this same flow continues at (it does not leave the flow)."""
        if isinstance(node, GotoNode) and node.flow == self.flow.name:
            return node.node or self.flow.start
        return None

    def edges(self, node: Node) -> Iterator[str]:
        for target in node.targets():
            if target.node in self.flow.nodes:
                yield target.node
        inner = self.self_goto(node)
        if inner is not None and inner in self.flow.nodes:
            yield inner

    def run(self) -> list[FlowError]:
        flow = self.flow
        if flow.start not in self.declared:
            self.error(flow.start_loc, f"`start` names an unknown node `{flow.start}`")
        for node in flow.nodes.values():
            for target in node.targets():
                if target.node not in self.declared:
                    self.error(target.loc, f"node `{node.id}` goes to an unknown node `{target.node}`")
        self.check_reachable()
        self.check_loops()
        self.check_exits()
        self.check_prompts()
        for node in flow.nodes.values():
            self.check_node(node)
        self.check_variables()
        return self.errors

    def reachable(self) -> set[str]:
        seen: set[str] = set()
        stack = [self.flow.start] if self.flow.start in self.flow.nodes else []
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self.edges(self.flow.nodes[current]))
        return seen

    def check_reachable(self) -> None:
        if self.flow.start not in self.flow.nodes:
            return
        seen = self.reachable()
        for node in self.flow.nodes.values():
            if node.id not in seen:
                self.error(node.loc, f"node `{node.id}` can never be reached from `{self.flow.start}`")

    def check_loops(self) -> None:
        """Report each cycle made only of nodes that neither wait for the caller nor end the call."""
        idle = {nid: node for nid, node in self.flow.nodes.items() if not _waits(node)}
        graph = {nid: [t for t in self.edges(node) if t in idle] for nid, node in idle.items()}
        for component in _strongly_connected(graph):
            looping = len(component) > 1 or component[0] in graph[component[0]]
            if looping:
                ordered = sorted(component, key=lambda nid: self.flow.nodes[nid].loc)
                cycle = " → ".join([*ordered, ordered[0]])
                self.error(
                    self.flow.nodes[ordered[0]].loc,
                    f"loop never waits for the caller: {cycle} (add a menu, input or hangup)",
                )

    def check_exits(self) -> None:
        """Report reachable nodes from which no hangup, queue, transfer or goto can be reached."""
        if self.flow.start not in self.flow.nodes:
            return
        reverse: dict[str, set[str]] = {nid: set() for nid in self.flow.nodes}
        for nid, node in self.flow.nodes.items():
            for target in self.edges(node):
                reverse[target].add(nid)
        # A node with a broken reference counts as able to exit: the broken reference is already
        # reported, and a second error about the same typo would only be noise.
        can_exit = {
            nid
            for nid, node in self.flow.nodes.items()
            if (node.exits and self.self_goto(node) is None)
            or any(t.node not in self.flow.nodes for t in node.targets())
        }
        stack = list(can_exit)
        while stack:
            for previous in reverse[stack.pop()]:
                if previous not in can_exit:
                    can_exit.add(previous)
                    stack.append(previous)
        trapped = sorted(
            (nid for nid in self.reachable() if nid not in can_exit), key=lambda nid: self.flow.nodes[nid].loc
        )
        if trapped:
            self.error(
                self.flow.nodes[trapped[0]].loc,
                f"the call can never end from {', '.join(f'`{n}`' for n in trapped)}: "
                "no path leads to a hangup, queue, transfer or goto",
            )

    def check_prompts(self) -> None:
        offered = set(self.flow.languages)
        specs: list[PromptSpec] = list(self.flow.prompts.values())
        for node in self.flow.nodes.values():
            for ref in node.prompt_refs():
                if ref.inline is not None:
                    specs.append(ref.inline)
                elif ref.name is not None and ref.name not in self.flow.prompts:
                    self.error(ref.loc, f"node `{node.id}` plays an unknown prompt `{ref.name}`")
        for spec in specs:
            missing = [lang for lang in self.flow.languages if lang not in spec.languages()]
            if missing:
                label = f"prompt `{spec.name}`" if spec.name else "the prompt"
                self.error(
                    spec.loc,
                    f"{label} has no {', '.join(missing)} version (the flow offers {', '.join(self.flow.languages)})",
                )
            if spec.fixed_language is not None and spec.fixed_language not in offered:
                self.error(
                    spec.loc, f"prompt is spoken in `{spec.fixed_language}`, which the flow does not offer"
                )

    def check_digits(self, node: Node, digits: Iterable[str]) -> None:
        numbered = sorted(int(d) for d in digits if d in "123456789")
        if numbered:
            gaps = [d for d in range(1, numbered[-1] + 1) if d not in numbered]
            if gaps:
                self.error(
                    node.loc,
                    f"menu `{node.id}` skips digit {', '.join(map(str, gaps))} "
                    f"(has {', '.join(map(str, numbered))}); number the choices 1, 2, 3… without gaps",
                )

    def check_node(self, node: Node) -> None:
        context = self.context
        if isinstance(node, MenuNode):
            self.check_digits(node, node.choices)
        elif isinstance(node, LanguageNode):
            self.check_digits(node, node.choices)
            for digit, lang in node.choices.items():
                if lang not in self.flow.languages:
                    self.error(node.choice_locs[digit], f"language `{lang}` is not offered by the flow")
            for other in (node.fixed, node.default):
                if other is not None and other not in self.flow.languages:
                    self.error(node.loc, f"language `{other}` is not offered by the flow")
        elif isinstance(node, QueueNode):
            self.check_name(node.queue, node.queue_loc or node.loc, "queue", context.queues)
            for skill, loc in node.skills:
                self.check_name(skill, loc, "skill", context.skills)
        elif isinstance(node, BranchNode):
            for condition, _ in node.rules:
                self.check_condition(condition)
        elif isinstance(node, GotoNode):
            if node.flow == self.flow.name:
                if node.node is not None and node.node not in self.flow.nodes:
                    self.error(node.loc, f"goto names an unknown node `{node.node}`")
            elif node.flow and node.flow not in context.flows:
                self.error(node.flow_loc or node.loc, f"flow `{node.flow}` does not exist")
        elif isinstance(node, LookupNode) and node.kind and node.kind not in context.lookups:
            known = ", ".join(sorted(context.lookups)) or "none"
            self.error(node.loc, f"unknown lookup kind `{node.kind}` (known: {known})")

    def check_name(self, value: str, loc: Loc, what: str, known: frozenset[str]) -> None:
        """A queue or skill must exist; for a ``${var}`` every literal the flow assigns to it must.

        (A variable nothing sets is reported by ``check_variables``.)
        """
        if not value:
            return
        if not is_template(value):
            if value not in known:
                self.error(loc, f"{what} `{value}` does not exist")
            return
        names = variables_in(value)
        assigned = [
            (node, node.variables[name])
            for node in self.flow.nodes.values()
            if isinstance(node, SetNode)
            for name in names
            if name in node.variables
        ]
        for node, literal in assigned:
            if not is_template(literal) and literal and literal not in known:
                self.error(node.loc, f"node `{node.id}` sets {what} `{literal}`, which does not exist")

    def check_condition(self, condition: Condition) -> None:
        if condition.kind in ("open", "holiday"):
            schedule = condition.args["schedule"]
            loc = condition.args["loc"]
            if isinstance(schedule, str) and isinstance(loc, Loc) and schedule not in self.context.schedules:
                self.error(loc, f"schedule `{schedule}` does not exist")
        elif condition.kind == "language":
            values = condition.args["values"]
            for lang in values if isinstance(values, tuple) else ():
                if lang not in self.flow.languages:
                    self.error(condition.loc, f"language `{lang}` is not offered by the flow")
        for child in condition.children:
            self.check_condition(child)

    def set_variables(self) -> set[str]:
        names = set(BUILTIN_VARIABLES)
        for node in self.flow.nodes.values():
            if isinstance(node, SetNode):
                names.update(node.variables)
            elif isinstance(node, InputNode) and node.variable:
                names.add(node.variable)
            elif isinstance(node, RecordNode) and node.variable:
                names.add(node.variable)
        return names

    def check_variables(self) -> None:
        known = self.set_variables()
        prefixes = _BUILTIN_PREFIXES + tuple(
            f"{node.result}."
            for node in self.flow.nodes.values()
            if isinstance(node, LookupNode) and node.result
        )

        def check(template: str, loc: Loc, node: Node) -> None:
            for name in variables_in(template):
                if not VARIABLE_NAME.fullmatch(name):
                    self.error(loc, f"`${{{name}}}` in node `{node.id}` is not a variable name")
                elif name not in known and not name.startswith(prefixes):
                    self.error(loc, f"node `{node.id}` uses `${{{name}}}`, which nothing sets")

        for node in self.flow.nodes.values():
            for value, loc in _templates(node):
                check(value, loc, node)
            if isinstance(node, BranchNode):
                for condition, _ in node.rules:
                    for name, loc in _condition_variables(condition):
                        check(f"${{{name}}}", loc, node)


def _templates(node: Node) -> Iterator[tuple[str, Loc]]:
    if isinstance(node, SayNode):
        yield node.value, node.value_loc or node.loc
    elif isinstance(node, SetNode):
        for value in (*node.variables.values(), *node.channel.values()):
            yield value, node.loc
    elif isinstance(node, LookupNode):
        yield node.key, node.key_loc or node.loc
    elif isinstance(node, QueueNode):
        yield node.queue, node.queue_loc or node.loc
        yield from node.skills


def _condition_variables(condition: Condition) -> Iterator[tuple[str, Loc]]:
    # `set: true/false` asks whether a variable exists, so it may name one that is never set.
    if condition.kind == "variable" and condition.args["test"] != "set":
        yield str(condition.args["name"]), condition.loc
    for child in condition.children:
        yield from _condition_variables(child)


def _strongly_connected(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a long chain of nodes cannot exhaust the stack."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_i = work.pop()
            if child_i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph[node]
            if child_i < len(children):
                work.append((node, child_i + 1))
                child = children[child_i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def check_graph(
    flow: Flow, context: ValidationContext, declared: frozenset[str] = frozenset()
) -> list[FlowError]:
    """The graph and reference errors of a parsed flow."""
    return _Checker(flow, context, declared).run()


def check_flow(
    text: str, filename: str, context: ValidationContext, name: str | None = None
) -> tuple[Flow | None, list[FlowError]]:
    """Parse and check a flow's text; the flow is ``None`` whenever there is any error.

    ``name`` defaults to the file's stem: ``ivr_flows/hotline.yaml`` is the route ``hotline``.
    """
    flow_name = name if name is not None else Path(filename).stem
    parsed: Parsed = parse_flow(text, filename, flow_name)
    errors = list(parsed.errors)
    if parsed.flow is not None:
        errors += check_graph(parsed.flow, context, parsed.declared)
    errors.sort(key=lambda e: (e.file, e.line, e.column, e.message))
    return (parsed.flow if not errors else None), errors


def load_flow(path: Path, context: ValidationContext) -> Flow:
    """Read and check one flow file; raise ``FlowInvalid`` listing every error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowInvalid([FlowError(str(path), 1, 1, f"cannot read the flow file: {exc}")]) from exc
    flow, errors = check_flow(text, str(path), context)
    if flow is None:
        raise FlowInvalid(errors)
    return flow


def validate_files(paths: Iterable[Path], context: ValidationContext) -> list[FlowError]:
    """Check flow files together (a ``goto`` may name any of them); every error, in file order."""
    path_list = list(paths)
    together = ValidationContext(
        queues=context.queues,
        schedules=context.schedules,
        skills=context.skills,
        flows=context.flows | {p.stem for p in path_list},
        lookups=context.lookups,
    )
    errors: list[FlowError] = []
    for path in path_list:
        try:
            load_flow(path, together)
        except FlowInvalid as exc:
            errors.extend(exc.errors)
    return errors
