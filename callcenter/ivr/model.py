"""The flow model: what a loaded, validated IVR flow is made of.

A ``Flow`` is immutable. Every node and prompt keeps the ``Loc`` (1-based line and column) of the
YAML text it came from, so validation can point at it. ``Flow.source_text`` and ``Flow.digest``
make a loaded flow storable as a version: the text is the flow, the digest names it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from callcenter.errors import ValidationError

__all__ = [
    "INPUT_PRESETS",
    "QUEUE_RESULTS",
    "SUPPORTED_LANGUAGES",
    "BranchNode",
    "Condition",
    "Flow",
    "FlowError",
    "FlowInvalid",
    "GotoNode",
    "HangupNode",
    "InputNode",
    "LanguageNode",
    "Loc",
    "LookupNode",
    "MenuNode",
    "Node",
    "PlayNode",
    "PromptRef",
    "PromptSpec",
    "QueueNode",
    "RecordNode",
    "SayNode",
    "SetNode",
    "Target",
    "TransferNode",
]

#: Languages a flow may offer; each has a speech-synthesizer voice (see ``callcenter.prompts``).
SUPPORTED_LANGUAGES = ("uk", "ru", "en")

#: How the ACD can hand a caller back to the flow (see ``commands.QueueResult``).
QUEUE_RESULTS = ("answered", "no_agents", "closed", "callback_requested", "timeout")

#: Named digit patterns for ``input`` nodes. A Ukrainian number is dialled as 0XXXXXXXXX or
#: 380XXXXXXXXX; appeal numbers are the digits of a registration number (5 to 10 of them).
INPUT_PRESETS: Mapping[str, str] = {
    "phone": r"(?:0\d{9}|380\d{9})",
    "appeal_number": r"\d{5,10}",
    "digits": r"\d+",
}


@dataclass(frozen=True, order=True)
class Loc:
    """A place in a flow file: 1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True)
class FlowError:
    """One problem in a flow file, rendered ``file:line:column: message``."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class FlowInvalid(ValidationError):
    """A flow file has errors; ``errors`` holds every one of them, in file order."""

    def __init__(self, errors: list[FlowError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column, e.message))
        super().__init__("\n".join(str(e) for e in self.errors), field=None)


@dataclass(frozen=True)
class Target:
    """A reference to another node, with where the reference is written."""

    node: str
    loc: Loc


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt sounds like in each language.

    ``texts`` and ``files`` map a language to synthesized text or a recorded sound file;
    ``file`` is a recording for every language (a beep, music); ``fixed_language`` marks a
    prompt always spoken in one language (the parts of a language-choice menu).
    """

    loc: Loc
    name: str | None = None
    texts: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    file: str | None = None
    fixed_language: str | None = None

    def languages(self) -> frozenset[str]:
        """The languages this prompt can be played in (all of them when it is language-free)."""
        if self.file is not None or self.fixed_language is not None:
            return frozenset(SUPPORTED_LANGUAGES)
        return frozenset(self.texts) | frozenset(self.files)


@dataclass(frozen=True)
class PromptRef:
    """A use of a prompt in a node: a name from the ``prompts:`` table or an inline spec."""

    loc: Loc
    name: str | None = None
    inline: PromptSpec | None = None


@dataclass(frozen=True)
class Condition:
    """One test of a ``branch`` node.

    ``kind`` is one of: open, holiday, language, caller_prefix, caller_anonymous, variable,
    dates, weekdays, time, all, any, not. ``args`` holds its operands as parsed strings
    (dates as ISO text, times as HH:MM); ``children`` the sub-conditions of all/any/not.
    """

    kind: str
    loc: Loc
    args: Mapping[str, object] = field(default_factory=dict)
    children: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Node:
    """Base of every node: its id and where it is defined."""

    id: str
    loc: Loc
    #: The node waits for the caller (a key press, speech, an agent): a loop through it is fine.
    waits: ClassVar[bool] = False
    #: The node can end the call or leave the flow.
    exits: ClassVar[bool] = False

    def targets(self) -> Iterator[Target]:
        """Every node this one can continue to."""
        return iter(())

    def prompt_refs(self) -> Iterator[PromptRef]:
        """Every prompt this node can play."""
        return iter(())


@dataclass(frozen=True)
class PlayNode(Node):
    """Play prompts; when interruptible, a key press skips the rest and is kept for the next node."""

    prompts: tuple[PromptRef, ...] = ()
    interruptible: bool = True
    next: Target | None = None

    def targets(self) -> Iterator[Target]:
        if self.next is not None:
            yield self.next

    def prompt_refs(self) -> Iterator[PromptRef]:
        yield from self.prompts


@dataclass(frozen=True)
class MenuNode(Node):
    """Play a prompt, wait for one key and go where it says; retries then ``fallback``."""

    waits: ClassVar[bool] = True
    prompts: tuple[PromptRef, ...] = ()
    choices: Mapping[str, Target] = field(default_factory=dict)
    timeout_s: float = 5.0
    retries: int = 3
    timeout_prompt: PromptRef | None = None
    invalid_prompt: PromptRef | None = None
    fallback: Target | None = None

    def targets(self) -> Iterator[Target]:
        yield from self.choices.values()
        if self.fallback is not None:
            yield self.fallback

    def prompt_refs(self) -> Iterator[PromptRef]:
        yield from self.prompts
        for ref in (self.timeout_prompt, self.invalid_prompt):
            if ref is not None:
                yield ref


@dataclass(frozen=True)
class InputNode(Node):
    """Collect digits matching a pattern into a variable, optionally reading them back."""

    waits: ClassVar[bool] = True
    prompts: tuple[PromptRef, ...] = ()
    variable: str = ""
    pattern: str = r"\d+"
    max_digits: int = 20
    timeout_s: float = 10.0
    retries: int = 3
    invalid_prompt: PromptRef | None = None
    timeout_prompt: PromptRef | None = None
    confirm_prompt: PromptRef | None = None
    confirm_question: PromptRef | None = None
    next: Target | None = None
    fallback: Target | None = None

    def targets(self) -> Iterator[Target]:
        for target in (self.next, self.fallback):
            if target is not None:
                yield target

    def prompt_refs(self) -> Iterator[PromptRef]:
        yield from self.prompts
        for ref in (self.invalid_prompt, self.timeout_prompt, self.confirm_prompt, self.confirm_question):
            if ref is not None:
                yield ref


@dataclass(frozen=True)
class SayNode(Node):
    """Say a value as digits, a number or a date (``value`` is a template)."""

    kind: str = "digits"
    value: str = ""
    value_loc: Loc | None = None
    next: Target | None = None

    def targets(self) -> Iterator[Target]:
        if self.next is not None:
            yield self.next


@dataclass(frozen=True)
class SetNode(Node):
    """Set call variables (kept by the engine) and channel variables (sent to Asterisk)."""

    variables: Mapping[str, str] = field(default_factory=dict)
    channel: Mapping[str, str] = field(default_factory=dict)
    next: Target | None = None

    def targets(self) -> Iterator[Target]:
        if self.next is not None:
            yield self.next


@dataclass(frozen=True)
class BranchNode(Node):
    """Go to the first rule whose condition holds, else to ``otherwise``."""

    rules: tuple[tuple[Condition, Target], ...] = ()
    otherwise: Target | None = None

    def targets(self) -> Iterator[Target]:
        for _, target in self.rules:
            yield target
        if self.otherwise is not None:
            yield self.otherwise


@dataclass(frozen=True)
class LanguageNode(Node):
    """Switch the call's language: to ``fixed``, or by asking the caller to press a key."""

    prompts: tuple[PromptRef, ...] = ()
    choices: Mapping[str, str] = field(default_factory=dict)
    choice_locs: Mapping[str, Loc] = field(default_factory=dict)
    fixed: str | None = None
    timeout_s: float = 5.0
    retries: int = 2
    default: str | None = None
    next: Target | None = None

    @property
    def asks(self) -> bool:
        """The node waits for a key press (it is not a fixed switch)."""
        return self.fixed is None

    def targets(self) -> Iterator[Target]:
        if self.next is not None:
            yield self.next

    def prompt_refs(self) -> Iterator[PromptRef]:
        yield from self.prompts


@dataclass(frozen=True)
class LookupNode(Node):
    """Ask the backend for data (e.g. an appeal's status) and store it as ``<result>.<field>``."""

    kind: str = ""
    key: str = ""
    key_loc: Loc | None = None
    result: str = ""
    found: Target | None = None
    not_found: Target | None = None

    def targets(self) -> Iterator[Target]:
        for target in (self.found, self.not_found):
            if target is not None:
                yield target


@dataclass(frozen=True)
class RecordNode(Node):
    """Record a voice message; it is attached to the call's appeal."""

    waits: ClassVar[bool] = True
    prompts: tuple[PromptRef, ...] = ()
    max_seconds: int = 120
    silence_seconds: int | None = 5
    beep: bool = True
    variable: str | None = None
    next: Target | None = None

    def targets(self) -> Iterator[Target]:
        if self.next is not None:
            yield self.next

    def prompt_refs(self) -> Iterator[PromptRef]:
        yield from self.prompts


@dataclass(frozen=True)
class QueueNode(Node):
    """Hand the caller to the ACD; continue by the result (answered ends the call by default)."""

    waits: ClassVar[bool] = True
    exits: ClassVar[bool] = True
    queue: str = ""
    queue_loc: Loc | None = None
    priority: int = 0
    skills: tuple[tuple[str, Loc], ...] = ()
    on: Mapping[str, Target] = field(default_factory=dict)
    fallback: Target | None = None

    def targets(self) -> Iterator[Target]:
        yield from self.on.values()
        if self.fallback is not None:
            yield self.fallback


@dataclass(frozen=True)
class TransferNode(Node):
    """Dial an outside number; an answered transfer ends the flow, anything else goes to ``failed``."""

    exits: ClassVar[bool] = True
    number: str = ""
    timeout_s: int = 60
    failed: Target | None = None

    def targets(self) -> Iterator[Target]:
        if self.failed is not None:
            yield self.failed


@dataclass(frozen=True)
class GotoNode(Node):
    """Continue in another flow (at its start or at a named node)."""

    exits: ClassVar[bool] = True
    flow: str = ""
    flow_loc: Loc | None = None
    node: str | None = None


@dataclass(frozen=True)
class HangupNode(Node):
    """End the call; ``reason`` is kept for analytics."""

    exits: ClassVar[bool] = True
    reason: str = "completed"


@dataclass(frozen=True, eq=False)
class Flow:
    """A loaded, validated flow. Equal and hashed by name and content digest."""

    name: str
    filename: str
    source_text: str
    languages: tuple[str, ...]
    default_language: str
    start: str
    nodes: Mapping[str, Node]
    prompts: Mapping[str, PromptSpec]
    description: str = ""
    max_steps: int = 500
    start_loc: Loc = Loc(1, 1)

    @property
    def digest(self) -> str:
        """SHA-256 of the source text: the version's identity."""
        return hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()

    def resolve_prompt(self, ref: PromptRef) -> PromptSpec:
        """The spec a reference points at (a validated flow has every named prompt)."""
        if ref.inline is not None:
            return ref.inline
        assert ref.name is not None
        return self.prompts[ref.name]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Flow):
            return NotImplemented
        return (self.name, self.digest) == (other.name, other.digest)

    def __hash__(self) -> int:
        return hash((self.name, self.digest))
