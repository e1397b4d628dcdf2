"""Flow files → ``Flow``: the schema half of validation.

``parse_flow`` reads the YAML node tree and builds the model, reporting every schema error
(wrong type, missing or unknown key, bad pattern, duplicate key) with its location and going on.
The graph half (targets, reachability, loops, queues and schedules that exist) is in
``callcenter.ivr.validate``; ``load_flow`` and ``check_flow`` run both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from callcenter.ivr.fields import VARIABLE, FieldReader
from callcenter.ivr.model import (
    INPUT_PRESETS,
    QUEUE_RESULTS,
    BranchNode,
    Condition,
    Flow,
    FlowError,
    GotoNode,
    HangupNode,
    InputNode,
    LanguageNode,
    Loc,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    PromptRef,
    PromptSpec,
    QueueNode,
    RecordNode,
    SayNode,
    SetNode,
    Target,
    TransferNode,
)
from callcenter.ivr.yamlsrc import Entry, Source, compose, loc_of

__all__ = ["DTMF_KEYS", "NODE_TYPES", "Parsed", "parse_flow"]

DTMF_KEYS = frozenset("0123456789*#")
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_TOP_KEYS = ("description", "languages", "default_language", "start", "max_steps", "prompts", "nodes")

NODE_KEYS: dict[str, tuple[str, ...]] = {
    "play": ("prompt", "interruptible", "next"),
    "menu": ("prompt", "choices", "timeout", "retries", "timeout_prompt", "invalid_prompt", "fallback"),
    "input": (
        "prompt", "variable", "pattern", "max_digits", "timeout", "retries",
        "invalid_prompt", "timeout_prompt", "confirm", "next", "fallback",
    ),
    "say": ("kind", "value", "next"),
    "set": ("variables", "channel", "next"),
    "branch": ("rules", "else"),
    "language": ("prompt", "choices", "set", "timeout", "retries", "default", "next"),
    "lookup": ("kind", "key", "result", "found", "not_found"),
    "record": ("prompt", "max_seconds", "silence_seconds", "beep", "variable", "next"),
    "queue": ("queue", "priority", "skills", "on", "fallback"),
    "transfer": ("number", "timeout", "failed"),
    "goto": ("flow", "node"),
    "hangup": ("reason",),
}  # fmt: skip
NODE_TYPES = tuple(NODE_KEYS)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "play": ("prompt", "next"),
    "menu": ("prompt", "choices", "fallback"),
    "input": ("prompt", "variable", "next", "fallback"),
    "say": ("kind", "value", "next"),
    "set": ("next",),
    "branch": ("rules", "else"),
    "language": ("next",),
    "lookup": ("kind", "key", "result", "found", "not_found"),
    "record": ("next",),
    "queue": ("queue",),
    "transfer": ("number", "failed"),
    "goto": ("flow",),
    "hangup": (),
}


class _Parser(FieldReader):
    """Builds a flow from a composed YAML tree, recording errors in ``src``."""

    def __init__(self, src: Source) -> None:
        super().__init__(src)
        #: Every node id written in the file, including nodes too broken to build.
        self.declared: set[str] = set()

    # -- nodes ---------------------------------------------------------------------------------
    def node(self, node_id: str, key_node: yaml.Node, body: yaml.Node) -> Node | None:
        what = f"node `{node_id}`"
        if not _ID.match(node_id):
            self.src.error(
                key_node, f"node id `{node_id}` must start with a letter (letters, digits, _ and -)"
            )
        entries = self.src.mapping(body, what)
        if entries is None:
            return None
        if "type" not in entries:
            self.src.error(body, f"{what} has no `type` (one of: {', '.join(NODE_TYPES)})")
            return None
        kind = self.src.text(entries["type"].value, f"`type` of {what}")
        if kind is None:
            return None
        if kind not in NODE_KEYS:
            self.src.error(
                entries["type"].value, f"unknown node type `{kind}` (one of: {', '.join(NODE_TYPES)})"
            )
            return None
        what = f"{kind} node `{node_id}`"
        self.src.only_keys(entries, ("type", *NODE_KEYS[kind]), what)
        missing = [key for key in _REQUIRED[kind] if key not in entries]
        for key in missing:
            self.src.error(body, f"{what} needs `{key}`")
        builder = getattr(self, f"build_{kind}")
        # A node with missing fields is still built (its absent targets are None) so that the
        # graph checks do not add "unknown node" noise for every reference to it.
        result: Node = builder(node_id, loc_of(key_node), {k: e.value for k, e in entries.items()}, what)
        return result

    def opt(
        self, fields: dict[str, yaml.Node], key: str, read: Callable[[yaml.Node, str], object], what: str
    ) -> object:
        return read(fields[key], f"`{key}` of {what}") if key in fields else None

    def build_play(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        prompts = self.prompt_list(f["prompt"], f"`prompt` of {what}") if "prompt" in f else ()
        interruptible = self.opt(f, "interruptible", self.src.boolean, what)
        return PlayNode(
            nid,
            loc,
            prompts=prompts,
            interruptible=interruptible is not False,
            next=self.next_of(f, "next", what),
        )

    def next_of(self, f: dict[str, yaml.Node], key: str, what: str) -> Target | None:
        return self.target(f[key], f"`{key}` of {what}") if key in f else None

    def prompt_of(self, f: dict[str, yaml.Node], key: str, what: str) -> PromptRef | None:
        return self.prompt_ref(f[key], f"`{key}` of {what}") if key in f else None

    def int_of(self, f: dict[str, yaml.Node], key: str, what: str, default: int, lo: int, hi: int) -> int:
        if key not in f:
            return default
        value = self.src.integer(f[key], f"`{key}` of {what}", minimum=lo, maximum=hi)
        return default if value is None else value

    def seconds_of(self, f: dict[str, yaml.Node], key: str, what: str, default: float) -> float:
        value = self.src.seconds(f[key], f"`{key}` of {what}") if key in f else None
        return default if value is None else value

    def digit_choices(self, node: yaml.Node, what: str) -> dict[str, Entry]:
        entries = self.src.mapping(node, what) or {}
        for entry in entries.values():
            if entry.key not in DTMF_KEYS:
                self.src.error(entry.key_node, f"`{entry.key}` in {what} is not a phone key (0-9, * or #)")
        if isinstance(node, yaml.MappingNode) and not entries:
            self.src.error(node, f"{what} has no choices")
        return {k: e for k, e in entries.items() if k in DTMF_KEYS}

    def build_menu(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        choices: dict[str, Target] = {}
        if "choices" in f:
            for key, entry in self.digit_choices(f["choices"], f"`choices` of {what}").items():
                if (target := self.target(entry.value, f"choice `{key}` of {what}")) is not None:
                    choices[key] = target
        return MenuNode(
            nid,
            loc,
            prompts=self.prompt_list(f["prompt"], f"`prompt` of {what}") if "prompt" in f else (),
            choices=choices,
            timeout_s=self.seconds_of(f, "timeout", what, 5.0),
            retries=self.int_of(f, "retries", what, 3, 1, 10),
            timeout_prompt=self.prompt_of(f, "timeout_prompt", what),
            invalid_prompt=self.prompt_of(f, "invalid_prompt", what),
            fallback=self.next_of(f, "fallback", what),
        )

    def build_input(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        pattern = INPUT_PRESETS["digits"]
        if "pattern" in f and (text := self.src.text(f["pattern"], f"`pattern` of {what}")) is not None:
            pattern = INPUT_PRESETS.get(text, text)
            self.regex_ok(f["pattern"], pattern)
        confirm_prompt = confirm_question = None
        if "confirm" in f and (confirm := self.src.mapping(f["confirm"], f"`confirm` of {what}")) is not None:
            self.src.only_keys(confirm, ("prompt", "question"), f"`confirm` of {what}")
            for key in ("prompt", "question"):
                if key not in confirm:
                    self.src.error(f["confirm"], f"`confirm` of {what} needs `{key}`")
            if "prompt" in confirm:
                confirm_prompt = self.prompt_ref(confirm["prompt"].value, f"`confirm.prompt` of {what}")
            if "question" in confirm:
                confirm_question = self.prompt_ref(confirm["question"].value, f"`confirm.question` of {what}")
        variable = self.opt(f, "variable", self.variable, what)
        return InputNode(
            nid,
            loc,
            prompts=self.prompt_list(f["prompt"], f"`prompt` of {what}") if "prompt" in f else (),
            variable=variable if isinstance(variable, str) else "",
            pattern=pattern,
            max_digits=self.int_of(f, "max_digits", what, 20, 1, 40),
            timeout_s=self.seconds_of(f, "timeout", what, 10.0),
            retries=self.int_of(f, "retries", what, 3, 1, 10),
            invalid_prompt=self.prompt_of(f, "invalid_prompt", what),
            timeout_prompt=self.prompt_of(f, "timeout_prompt", what),
            confirm_prompt=confirm_prompt,
            confirm_question=confirm_question,
            next=self.next_of(f, "next", what),
            fallback=self.next_of(f, "fallback", what),
        )

    def build_say(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        kind = self.opt(f, "kind", self.src.text, what)
        if isinstance(kind, str) and kind not in ("digits", "number", "date"):
            self.src.error(f["kind"], f"`kind` of {what} must be digits, number or date")
        value = self.opt(f, "value", self.src.text, what)
        return SayNode(
            nid,
            loc,
            kind=kind if isinstance(kind, str) else "digits",
            value=value if isinstance(value, str) else "",
            value_loc=loc_of(f["value"]) if "value" in f else None,
            next=self.next_of(f, "next", what),
        )

    def build_set(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        def var_key(entry: Entry) -> bool:
            if not VARIABLE.match(entry.key):
                self.src.error(entry.key_node, f"`{entry.key}` is not a variable name (letters, digits, _)")
                return False
            return True

        def chan_key(entry: Entry) -> bool:
            if not re.match(r"[A-Za-z_][A-Za-z0-9_()]*\Z", entry.key):
                self.src.error(entry.key_node, f"`{entry.key}` is not a channel variable name")
                return False
            return True

        variables = (
            self.string_map(f["variables"], f"`variables` of {what}", var_key) if "variables" in f else {}
        )
        channel = self.string_map(f["channel"], f"`channel` of {what}", chan_key) if "channel" in f else {}
        if "variables" not in f and "channel" not in f:
            self.src.error(loc, f"{what} needs `variables` or `channel`")
        return SetNode(nid, loc, variables=variables, channel=channel, next=self.next_of(f, "next", what))

    def build_branch(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        rules: list[tuple[Condition, Target]] = []
        for item in (self.src.sequence(f["rules"], f"`rules` of {what}") or []) if "rules" in f else []:
            entries = self.src.mapping(item, f"a rule of {what}")
            if entries is None:
                continue
            self.src.only_keys(entries, ("if", "then"), f"a rule of {what}")
            if "if" not in entries or "then" not in entries:
                self.src.error(item, f"a rule of {what} needs `if` and `then`")
                continue
            condition = self.condition(entries["if"].value)
            target = self.target(entries["then"].value, f"`then` of {what}")
            if condition is not None and target is not None:
                rules.append((condition, target))
        return BranchNode(nid, loc, rules=tuple(rules), otherwise=self.next_of(f, "else", what))

    def build_language(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        choices: dict[str, str] = {}
        choice_locs: dict[str, Loc] = {}
        if "choices" in f:
            for key, entry in self.digit_choices(f["choices"], f"`choices` of {what}").items():
                if (lang := self.language(entry.value, f"choice `{key}` of {what}")) is not None:
                    choices[key] = lang
                    choice_locs[key] = loc_of(entry.value)
        fixed = self.opt(f, "set", self.language, what)
        if ("set" in f) == ("choices" in f):
            self.src.error(loc, f"{what} needs either `set` (a fixed language) or `choices` (ask the caller)")
        if "choices" in f and "prompt" not in f:
            self.src.error(loc, f"{what} asks the caller, so it needs `prompt`")
        default = self.opt(f, "default", self.language, what)
        return LanguageNode(
            nid,
            loc,
            prompts=self.prompt_list(f["prompt"], f"`prompt` of {what}") if "prompt" in f else (),
            choices=choices,
            choice_locs=choice_locs,
            fixed=fixed if isinstance(fixed, str) else None,
            timeout_s=self.seconds_of(f, "timeout", what, 5.0),
            retries=self.int_of(f, "retries", what, 2, 1, 10),
            default=default if isinstance(default, str) else None,
            next=self.next_of(f, "next", what),
        )

    def build_lookup(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        kind = self.opt(f, "kind", self.src.text, what)
        key = self.opt(f, "key", self.src.text, what)
        result = self.opt(f, "result", self.variable, what)
        return LookupNode(
            nid,
            loc,
            kind=kind if isinstance(kind, str) else "",
            key=key if isinstance(key, str) else "",
            key_loc=loc_of(f["key"]) if "key" in f else None,
            result=result if isinstance(result, str) else "",
            found=self.next_of(f, "found", what),
            not_found=self.next_of(f, "not_found", what),
        )

    def build_record(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        beep = self.opt(f, "beep", self.src.boolean, what)
        variable = self.opt(f, "variable", self.variable, what)
        silence = self.int_of(f, "silence_seconds", what, 5, 0, 60)
        return RecordNode(
            nid,
            loc,
            prompts=self.prompt_list(f["prompt"], f"`prompt` of {what}") if "prompt" in f else (),
            max_seconds=self.int_of(f, "max_seconds", what, 120, 1, 600),
            silence_seconds=silence or None,
            beep=beep is not False,
            variable=variable if isinstance(variable, str) else None,
            next=self.next_of(f, "next", what),
        )

    def build_queue(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        queue = self.opt(f, "queue", self.src.text, what)
        skills: list[tuple[str, Loc]] = []
        if "skills" in f:
            for item in self.src.sequence(f["skills"], f"`skills` of {what}") or []:
                if (skill := self.src.text(item, f"a skill of {what}")) is not None:
                    skills.append((skill, loc_of(item)))
        on: dict[str, Target] = {}
        if "on" in f:
            for key, entry in (self.src.mapping(f["on"], f"`on` of {what}") or {}).items():
                if key not in QUEUE_RESULTS:
                    self.src.error(
                        entry.key_node, f"unknown queue result `{key}` (one of: {', '.join(QUEUE_RESULTS)})"
                    )
                elif (target := self.target(entry.value, f"`on.{key}` of {what}")) is not None:
                    on[key] = target
        fallback = self.next_of(f, "fallback", what)
        unhandled = [r for r in QUEUE_RESULTS if r != "answered" and r not in on]
        if fallback is None and unhandled and "fallback" not in f:
            self.src.error(loc, f"{what} needs `fallback` or `on` targets for: {', '.join(unhandled)}")
        return QueueNode(
            nid,
            loc,
            queue=queue if isinstance(queue, str) else "",
            queue_loc=loc_of(f["queue"]) if "queue" in f else None,
            priority=self.int_of(f, "priority", what, 0, 0, 9),
            skills=tuple(skills),
            on=on,
            fallback=fallback,
        )

    def build_transfer(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        number = self.opt(f, "number", self.src.text, what)
        if isinstance(number, str) and not re.fullmatch(r"\+?\d{3,15}", number):
            self.src.error(f["number"], f"`number` of {what} must be a phone number (digits, optional +)")
        return TransferNode(
            nid,
            loc,
            number=number if isinstance(number, str) else "",
            timeout_s=self.int_of(f, "timeout", what, 60, 5, 300),
            failed=self.next_of(f, "failed", what),
        )

    def build_goto(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        flow = self.opt(f, "flow", self.src.text, what)
        node = self.opt(f, "node", self.src.text, what)
        return GotoNode(
            nid,
            loc,
            flow=flow if isinstance(flow, str) else "",
            flow_loc=loc_of(f["flow"]) if "flow" in f else None,
            node=node if isinstance(node, str) else None,
        )

    def build_hangup(self, nid: str, loc: Loc, f: dict[str, yaml.Node], what: str) -> Node:
        reason = self.opt(f, "reason", self.src.text, what)
        return HangupNode(nid, loc, reason=reason if isinstance(reason, str) else "completed")

    # -- the whole file ------------------------------------------------------------------------
    def flow(self, root: yaml.Node, name: str, text: str) -> Flow | None:
        top = self.src.mapping(root, "the flow")
        if top is None:
            return None
        self.src.only_keys(top, _TOP_KEYS, "the flow")
        for key in ("languages", "start", "nodes"):
            if key not in top:
                self.src.error(root, f"the flow needs `{key}`")
        languages: list[str] = []
        if "languages" in top:
            for item in self.src.sequence(top["languages"].value, "`languages`") or []:
                if (lang := self.language(item, "`languages`")) is not None:
                    if lang in languages:
                        self.src.error(item, f"language `{lang}` is listed twice")
                    else:
                        languages.append(lang)
            if isinstance(top["languages"].value, yaml.SequenceNode) and not top["languages"].value.value:
                self.src.error(top["languages"].value, "`languages` must list at least one language")
        default = languages[0] if languages else "uk"
        if "default_language" in top:
            value = self.language(top["default_language"].value, "`default_language`")
            if value is not None and languages and value not in languages:
                self.src.error(
                    top["default_language"].value, f"`default_language` {value} is not in `languages`"
                )
            default = value or default
        description = ""
        if "description" in top:
            description = self.src.text(top["description"].value, "`description`", allow_empty=True) or ""
        start = self.src.text(top["start"].value, "`start`") if "start" in top else None
        max_steps = 500
        if "max_steps" in top:
            max_steps = (
                self.src.integer(top["max_steps"].value, "`max_steps`", minimum=10, maximum=10000) or 500
            )
        prompts: dict[str, PromptSpec] = {}
        if "prompts" in top:
            for key, entry in (self.src.mapping(top["prompts"].value, "`prompts`") or {}).items():
                if (spec := self.prompt_spec(entry.value, f"prompt `{key}`", key)) is not None:
                    prompts[key] = spec
        nodes: dict[str, Node] = {}
        if "nodes" in top:
            node_entries = self.src.mapping(top["nodes"].value, "`nodes`")
            if node_entries == {}:
                self.src.error(top["nodes"].value, "`nodes` is empty")
            for key, entry in (node_entries or {}).items():
                self.declared.add(key)
                if (built := self.node(key, entry.key_node, entry.value)) is not None:
                    nodes[key] = built
        if start is None or not languages:
            return None
        return Flow(
            name=name,
            filename=self.src.filename,
            source_text=text,
            languages=tuple(languages),
            default_language=default,
            start=start,
            nodes=nodes,
            prompts=prompts,
            description=description,
            max_steps=max_steps,
            start_loc=loc_of(top["start"].value),
        )


@dataclass(frozen=True)
class Parsed:
    """What parsing produced: the flow (if the file had its skeleton), errors, declared node ids."""

    flow: Flow | None
    errors: list[FlowError]
    declared: frozenset[str]


def parse_flow(text: str, filename: str, name: str) -> Parsed:
    """Build a flow from YAML text, collecting every schema error.

    A flow may come back together with errors (a broken field is left at its default): callers
    must treat any error as "invalid". Graph checks are ``validate.check_graph``'s job.
    """
    src = Source(filename)
    root = compose(src, text)
    if root is None:
        return Parsed(None, src.errors, frozenset())
    parser = _Parser(src)
    flow = parser.flow(root, name, text)
    return Parsed(flow, src.errors, frozenset(parser.declared))
