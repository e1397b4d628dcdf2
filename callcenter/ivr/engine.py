"""The IVR engine: runs a flow as a generator of commands, with no I/O of its own.

Shaped like httpx's auth flows: ``FlowRun(flow, call, env).commands()`` yields a command (see
``commands``), the driver performs it and ``send``s the result back; the generator returns an
``Outcome`` when the flow ends. The same engine is driven by the FastAGI session, by the
simulator and by tests, which simply feed it results.

``FlowRun.path`` records what the caller did (nodes, digits, variables, language, topic,
recordings, queue results) as it happens, so a caller who hangs up mid-flow still leaves the
partial path for the appeal and for analytics (``FlowRun.caller_hung_up``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from callcenter.ivr.commands import (
    ALL_KEYS,
    CollectDigits,
    Command,
    Digits,
    Hangup,
    KeyPress,
    Lookup,
    LookupResult,
    Play,
    Prompt,
    Queue,
    QueueResult,
    Record,
    Recording,
    Result,
    Say,
    SetVariable,
    Transfer,
    TransferResult,
    WaitDigit,
)
from callcenter.ivr.conditions import KYIV, ConditionState, ScheduleOracle, holds
from callcenter.ivr.model import (
    BranchNode,
    Flow,
    GotoNode,
    HangupNode,
    InputNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    PlayNode,
    PromptRef,
    QueueNode,
    RecordNode,
    SayNode,
    SetNode,
    TransferNode,
)
from callcenter.ivr.template import render

__all__ = [
    "CallInfo",
    "CallPath",
    "EngineError",
    "FlowEnvironment",
    "FlowRun",
    "Outcome",
    "PathStep",
    "run_flow",
]

_R = TypeVar("_R")
_SAY_KINDS: dict[str, Literal["digits", "number", "date"]] = {
    "digits": "digits",
    "number": "number",
    "date": "date",
}
Steps = Generator[Command, Result, "str | Outcome | tuple[Flow, str]"]


class EngineError(RuntimeError):
    """The driver sent a result that does not answer the command (a driver bug)."""


@dataclass(frozen=True)
class CallInfo:
    """The call as the flow sees it. ``now`` is the arrival time (aware); ``variables`` are extras
    such as the route's query (``query.lang``)."""

    uniqueid: str
    caller: str | None
    now: dt.datetime
    dnid: str | None = None
    language: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowEnvironment:
    """What the engine needs from outside: schedules and the flows a ``goto`` can reach."""

    schedules: ScheduleOracle
    flows: Mapping[str, Flow] = field(default_factory=dict)
    max_steps: int | None = None


@dataclass
class PathStep:
    """One node visited: where, and what the caller did there (digits) or what came of it."""

    flow: str
    node: str
    kind: str
    digits: list[str] = field(default_factory=list)
    result: str | None = None


@dataclass
class CallPath:
    """The path taken through the IVR, kept up to date while the call runs."""

    language: str
    steps: list[PathStep] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    topic: str | None = None
    recordings: list[dict[str, Any]] = field(default_factory=list)
    queue_results: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, str]] = field(default_factory=list)
    end: str | None = None

    @property
    def nodes(self) -> list[str]:
        """Node ids in visiting order (``flow:node`` after a goto into another flow)."""
        first = self.steps[0].flow if self.steps else ""
        return [s.node if s.flow == first else f"{s.flow}:{s.node}" for s in self.steps]

    @property
    def digits(self) -> list[str]:
        """Every key or key string the caller entered, in order."""
        return [d for step in self.steps for d in step.digits]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy for the appeal record and analytics."""
        return {
            "language": self.language,
            "topic": self.topic,
            "end": self.end,
            "steps": [
                {"flow": s.flow, "node": s.node, "kind": s.kind, "digits": list(s.digits), "result": s.result}
                for s in self.steps
            ],
            "variables": dict(self.variables),
            "recordings": [dict(r) for r in self.recordings],
            "queue_results": [dict(q) for q in self.queue_results],
            "transfers": [dict(t) for t in self.transfers],
        }


@dataclass(frozen=True)
class Outcome:
    """How the flow ended.

    ``reason``: hangup (a hangup node), answered (an agent took the call), transferred,
    caller_hangup, step_limit or error. When ``hung_up`` is false the engine did not end the
    call: the driver leaves it to the dialplan, whose survival path takes over.
    """

    reason: str
    path: CallPath
    hung_up: bool
    detail: str = ""


class FlowRun:
    """One call's run through a flow."""

    def __init__(self, flow: Flow, call: CallInfo, env: FlowEnvironment) -> None:
        self.flow = flow
        self.call = call
        self.env = env
        language = call.language if call.language in flow.languages else flow.default_language
        self.path = CallPath(language=language)
        self.variables = self.path.variables
        self.variables.update({f"query.{k}": v for k, v in call.variables.items()})
        self.variables.update(
            caller=call.caller or "",
            dnid=call.dnid or "",
            uniqueid=call.uniqueid,
            language=language,
            channel_language=call.language or "",
        )
        self.pending: str | None = None
        self.steps = 0
        self.outcome: Outcome | None = None

    # -- public --------------------------------------------------------------------------------
    def commands(self) -> Generator[Command, Result, Outcome]:
        """The command stream of the call; returns the outcome."""
        flow, node_id = self.flow, self.flow.start
        limit = self.env.max_steps or flow.max_steps
        yield SetVariable("CHANNEL(language)", self.path.language)
        while True:
            self.steps += 1
            if self.steps > limit:
                return self._finish("step_limit", hung_up=False, detail=f"more than {limit} nodes")
            node = flow.nodes[node_id]
            step = PathStep(flow.name, node.id, type(node).__name__.removesuffix("Node").lower())
            self.path.steps.append(step)
            handler = getattr(self, f"_{step.kind}")
            self.flow = flow
            outcome = yield from handler(node, step)
            if isinstance(outcome, Outcome):
                return outcome
            if isinstance(outcome, tuple):
                flow, node_id = outcome
            else:
                node_id = outcome

    def caller_hung_up(self) -> Outcome:
        """Mark the run as ended by the caller (the driver calls this on ChannelHungUp)."""
        if self.outcome is not None and self.outcome.reason != "caller_hangup":
            return self.outcome
        return self._finish("caller_hangup", hung_up=True)

    def failed(self, detail: str) -> Outcome:
        """Mark the run as stopped by a fault outside the flow; the call goes back to the dialplan."""
        return self._finish("error", hung_up=False, detail=detail)

    # -- helpers -------------------------------------------------------------------------------
    def _finish(self, reason: str, *, hung_up: bool, detail: str = "") -> Outcome:
        self.path.end = reason
        self.outcome = Outcome(reason, self.path, hung_up, detail)
        return self.outcome

    def _prompts(self, refs: tuple[PromptRef, ...] | list[PromptRef]) -> tuple[Prompt, ...]:
        result: list[Prompt] = []
        for ref in refs:
            spec = self.flow.resolve_prompt(ref)
            lang = spec.fixed_language or self.path.language
            if spec.fixed_language is None and lang not in spec.languages():
                lang = self.flow.default_language
            file = spec.file or spec.files.get(lang)
            result.append(Prompt(lang, file=file, text=spec.texts.get(lang)))
        return tuple(result)

    def _play(self, node: PlayNode, step: PathStep) -> Steps:
        self.pending = None
        escape = ALL_KEYS if node.interruptible else ""
        press = _expect((yield Play(self._prompts(node.prompts), node.interruptible, escape)), KeyPress)
        if press.digit is not None:
            self.pending = press.digit
            step.digits.append(press.digit)
        assert node.next is not None
        return node.next.node

    def _say_prompt(self, ref: PromptRef | None) -> Generator[Command, Result, None]:
        if ref is not None:
            _expect((yield Play(self._prompts([ref]), False, "")), KeyPress)

    def _ask_key(
        self, refs: tuple[PromptRef, ...], timeout_s: float
    ) -> Generator[Command, Result, str | None]:
        """Play a menu's prompts (a key interrupts them), then wait for a key."""
        digit, self.pending = self.pending, None
        if digit is None:
            digit = _expect((yield Play(self._prompts(refs), True, ALL_KEYS)), KeyPress).digit
        if digit is None:
            digit = _expect((yield WaitDigit(int(timeout_s * 1000))), KeyPress).digit
        return digit

    def _menu(self, node: MenuNode, step: PathStep) -> Steps:
        for _ in range(node.retries):
            digit = yield from self._ask_key(node.prompts, node.timeout_s)
            if digit is None:
                step.digits.append("timeout")
                yield from self._say_prompt(node.timeout_prompt)
                continue
            step.digits.append(digit)
            if digit in node.choices:
                return node.choices[digit].node
            yield from self._say_prompt(node.invalid_prompt)
        step.result = "fallback"
        assert node.fallback is not None
        return node.fallback.node

    def _input(self, node: InputNode, step: PathStep) -> Steps:
        for _ in range(node.retries):
            initial, self.pending = self.pending or "", None
            prompts = () if initial else self._prompts(node.prompts)
            got = _expect(
                (yield CollectDigits(prompts, node.max_digits, int(node.timeout_s * 1000), "#", initial)),
                Digits,
            )
            if not got.digits:
                step.digits.append("timeout")
                yield from self._say_prompt(node.timeout_prompt)
                continue
            step.digits.append(got.digits)
            if re.fullmatch(node.pattern, got.digits) is None:
                yield from self._say_prompt(node.invalid_prompt)
                continue
            if node.confirm_prompt is not None and node.confirm_question is not None:
                yield from self._say_prompt(node.confirm_prompt)
                yield Say("digits", got.digits)
                answer = yield from self._ask_key((node.confirm_question,), node.timeout_s)
                step.digits.append(answer or "timeout")
                if answer != "1":
                    continue
            self.variables[node.variable] = got.digits
            assert node.next is not None
            return node.next.node
        step.result = "fallback"
        assert node.fallback is not None
        return node.fallback.node

    def _say(self, node: SayNode, step: PathStep) -> Steps:
        self.pending = None
        value = render(node.value, self.variables).strip()
        spoken = _say_value(node.kind, value)
        if spoken is None:
            step.result = f"skipped: cannot be said as {node.kind}"
        else:
            yield Say(_SAY_KINDS[node.kind], spoken)
        assert node.next is not None
        return node.next.node

    def _set(self, node: SetNode, step: PathStep) -> Steps:
        for name, template in node.variables.items():
            self.variables[name] = render(template, self.variables)
            if name == "topic":
                self.path.topic = self.variables[name] or None
        for name, template in node.channel.items():
            yield SetVariable(name, render(template, self.variables))
        assert node.next is not None
        return node.next.node

    def _branch(self, node: BranchNode, step: PathStep) -> Steps:
        yield from ()  # a branch sends no command, but every handler is a generator
        state = ConditionState(
            self.call.now, self.path.language, self.call.caller, self.variables, self.env.schedules
        )
        for index, (condition, target) in enumerate(node.rules):
            if holds(condition, state):
                step.result = f"rule {index + 1}"
                return target.node
        step.result = "else"
        assert node.otherwise is not None
        return node.otherwise.node

    def _language(self, node: LanguageNode, step: PathStep) -> Steps:
        chosen = node.fixed
        if chosen is None:
            for _ in range(node.retries):
                digit = yield from self._ask_key(node.prompts, node.timeout_s)
                step.digits.append(digit or "timeout")
                if digit is not None and digit in node.choices:
                    chosen = node.choices[digit]
                    break
            else:
                chosen = node.default or self.flow.default_language
                step.result = "default"
        yield from self._switch_language(chosen)
        assert node.next is not None
        return node.next.node

    def _switch_language(self, language: str) -> Generator[Command, Result, None]:
        self.path.language = self.variables["language"] = language
        yield SetVariable("CHANNEL(language)", language)

    def _lookup(self, node: LookupNode, step: PathStep) -> Steps:
        found = _expect((yield Lookup(node.kind, render(node.key, self.variables))), LookupResult)
        for name, value in found.values.items():
            self.variables[f"{node.result}.{name}"] = value
        step.result = "found" if found.found else "not_found"
        target = node.found if found.found else node.not_found
        assert target is not None
        return target.node

    def _record(self, node: RecordNode, step: PathStep) -> Steps:
        self.pending = None
        if node.prompts:
            _expect((yield Play(self._prompts(node.prompts), False, "")), KeyPress)
        got = _expect((yield Record(node.max_seconds, node.silence_seconds, node.beep)), Recording)
        self.path.recordings.append(
            {"node": node.id, "file": got.file, "duration_ms": got.duration_ms, "purpose": "appeal"}
        )
        step.result = "recorded" if got.file else "empty"
        if node.variable is not None:
            self.variables[node.variable] = got.file or ""
        assert node.next is not None
        return node.next.node

    def _queue(self, node: QueueNode, step: PathStep) -> Steps:
        self.pending = None  # a key pressed before the wait means nothing after it
        skills = tuple(s for s in (render(skill, self.variables) for skill, _ in node.skills) if s)
        queue = render(node.queue, self.variables)
        command = Queue(
            queue, node.priority, skills, self.path.language, self.path.topic, tuple(self.path.nodes)
        )
        got = _expect((yield command), QueueResult)
        self.path.queue_results.append({"queue": queue, "status": got.status, "agent": got.agent})
        step.result = got.status
        if got.status in node.on:
            return node.on[got.status].node
        if got.status == "answered":
            return (yield from self._end("answered", "answered"))
        assert node.fallback is not None
        return node.fallback.node

    def _transfer(self, node: TransferNode, step: PathStep) -> Steps:
        self.pending = None
        got = _expect((yield Transfer(node.number, node.timeout_s)), TransferResult)
        self.path.transfers.append({"number": node.number, "status": got.status})
        step.result = got.status
        if got.status == "ANSWER":
            return (yield from self._end("transferred", "transferred"))
        assert node.failed is not None
        return node.failed.node

    def _goto(self, node: GotoNode, step: PathStep) -> Steps:
        target = self.flow if node.flow == self.flow.name else self.env.flows.get(node.flow)
        if target is None:
            return self._finish("error", hung_up=False, detail=f"flow {node.flow!r} is not loaded")
        start = node.node or target.start
        if start not in target.nodes:
            return self._finish("error", hung_up=False, detail=f"flow {node.flow!r} has no node {start!r}")
        if self.path.language not in target.languages:
            yield from self._switch_language(target.default_language)
        return target, start

    def _hangup(self, node: HangupNode, step: PathStep) -> Steps:
        return (yield from self._end("hangup", node.reason))

    def _end(self, reason: str, detail: str) -> Generator[Command, Result, Outcome]:
        """Decide the outcome first, then hang up: if the caller is already gone (HANGUP then
        fails with a hang-up), ``caller_hung_up`` keeps this outcome rather than replacing it."""
        outcome = self._finish(reason, hung_up=True, detail=detail)
        yield Hangup(detail)
        return outcome


def _expect(result: Result, kind: type[_R]) -> _R:
    if not isinstance(result, kind):
        raise EngineError(f"expected {kind.__name__} from the driver, got {result!r}")
    return result


def _say_value(kind: str, value: str) -> str | None:
    """The value in the form the Say command takes, or None when it cannot be said."""
    if kind == "digits":
        # Separators and a leading + (a caller number in E.164) are not said; nothing else to say is None.
        keys = "".join(ch for ch in value if ch in ALL_KEYS)
        return keys if keys and all(ch in ALL_KEYS or ch in "+-() " for ch in value) else None
    if kind == "number":
        return value if re.fullmatch(r"-?\d{1,15}", value) else None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    # Noon in Kyiv: the date stays the same whatever time zone Asterisk formats it in.
    return str(int(dt.datetime.combine(day, dt.time(12), tzinfo=KYIV).timestamp()))


def run_flow(flow: Flow, call: CallInfo, env: FlowEnvironment) -> FlowRun:
    """Start a run; drive ``run.commands()`` and read ``run.path`` at any point."""
    return FlowRun(flow, call, env)
