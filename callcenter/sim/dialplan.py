"""A small dialplan: ``extensions.conf`` parsing and ``${...}``/``$[...]`` expansion.

Enough of Asterisk's dialplan language for the hotline contexts: ``exten => X,1,App(args)``,
``same => n(label),App(args)``, pattern extensions (``_2XX``), variables, the functions the
backend and the shipped dialplan use (CALLERID, CHANNEL, LEN, IF, EXTEN…) and simple ``$[...]``
comparisons. The same expansion serves AGI ``GET VARIABLE``/``GET FULL VARIABLE`` and AMI Getvar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from callcenter.sim.channels import Channel

__all__ = ["DEFAULT_DIALPLAN", "Dialplan", "Step", "expand", "get_value", "split_app", "split_args"]

#: The dialplan of a plain deployment: calls on the hotline DID go to the backend over FastAGI and
#: fall back to the survival queue; agents' phones are PJSIP endpoints dialled by the backend.
DEFAULT_DIALPLAN = """
[from-pstn]
exten => _X.,1,NoOp(hotline call)
 same => n,Set(CHANNEL(language)=uk)
 same => n,AGI(agi://127.0.0.1:4573/hotline)
 same => n,NoOp(AGISTATUS=${AGISTATUS})
 same => n,GotoIf($["${AGISTATUS}" = "SUCCESS"]?done)
 same => n,Answer()
 same => n,Queue(survival,,,,60)
 same => n(done),Hangup()
[callback]
; an Originate to the agent's phone continues here to ring the citizen back on the trunk
exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,60)
 same => n,Hangup()
"""


@dataclass(frozen=True)
class Step:
    """One priority: its number, optional label, application and raw argument text."""

    priority: int
    label: str | None
    app: str
    data: str


@dataclass
class Dialplan:
    """Contexts of extensions of numbered steps."""

    contexts: dict[str, dict[str, list[Step]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Dialplan:
        """Read the ``extensions.conf`` subset described in the module docstring."""
        plan = cls()
        context: dict[str, list[Step]] | None = None
        current: list[Step] | None = None
        for raw in text.splitlines():
            line = _strip_comment(raw)
            if not line:
                continue
            if line.startswith("["):
                name = line[1 : line.index("]")]
                context = None if name in ("general", "globals") else plan.contexts.setdefault(name, {})
                continue
            if context is None or "=>" not in line:
                continue
            kind, _, rest = (part.strip() for part in line.partition("=>"))
            if kind == "exten":
                exten, prio, app = rest.split(",", 2)
                current = context.setdefault(exten.strip(), [])
            elif kind == "same" and current is not None:
                prio, app = rest.split(",", 1)
            else:
                continue
            prio = prio.strip()
            label = None
            if "(" in prio:
                prio, label = prio[: prio.index("(")], prio[prio.index("(") + 1 : prio.rindex(")")]
            number = len(current) + 1 if prio == "n" else int(prio)
            name, data = split_app(app.strip())
            current.append(Step(number, label, name, data))
        return plan

    def find(self, context: str, exten: str) -> tuple[str, list[Step]] | None:
        """The matching extension (exact first, then patterns) and its steps."""
        steps = self.contexts.get(context)
        if steps is None:
            return None
        if exten in steps:
            return exten, steps[exten]
        for pattern, found in steps.items():
            if pattern.startswith("_") and _pattern_match(pattern[1:], exten):
                return pattern, found
        return None

    def exists(self, context: str, exten: str) -> bool:
        """Whether ``exten@context`` can be dialled."""
        return self.find(context, exten) is not None


def _strip_comment(line: str) -> str:
    out = []
    for i, ch in enumerate(line):
        if ch == ";" and (i == 0 or line[i - 1] != "\\"):
            break
        out.append(ch)
    return "".join(out).strip()


def _pattern_match(pattern: str, exten: str) -> bool:
    regex = ""
    for ch in pattern:
        regex += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(ch, re.escape(ch))
    return re.fullmatch(regex, exten) is not None


def split_app(text: str) -> tuple[str, str]:
    """``App(args)`` into ``("App", "args")``."""
    if "(" not in text:
        return text, ""
    return text[: text.index("(")], text[text.index("(") + 1 : text.rindex(")")]


def split_args(data: str) -> list[str]:
    """Comma-separated application arguments (brackets and quotes respected)."""
    out, depth, cur, quoted = [], 0, "", False
    for ch in data:
        if ch == '"':
            quoted = not quoted
        elif ch in "([{" and not quoted:
            depth += 1
        elif ch in ")]}" and not quoted:
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def get_value(chan: Channel, name: str, globals_: dict[str, str] | None = None) -> str | None:
    """A variable or function value as ``${name}`` would give it; None when unset."""
    if name.endswith(")") and "(" in name:
        func, arg = name[: name.index("(")].upper(), name[name.index("(") + 1 : -1]
        function = _FUNCTIONS.get(func)
        return None if function is None else function(chan, arg)
    builtin = _BUILTINS.get(name)
    if builtin is not None:
        return builtin(chan)
    if name in chan.variables:
        return chan.variables[name]
    if globals_ and name in globals_:
        return globals_[name]
    return None


def _callerid(chan: Channel, arg: str) -> str | None:
    part = arg.lower()
    if part in ("num", "number"):
        return chan.cid_num or None
    if part == "name":
        return chan.cid_name or None
    if part == "all":
        return f'"{chan.cid_name}" <{chan.cid_num}>'
    return None


def _channel_fn(chan: Channel, arg: str) -> str | None:
    return {
        "language": chan.language,
        "name": chan.name,
        "uniqueid": chan.uniqueid,
        "linkedid": chan.linkedid,
        "state": "Up" if chan.state == 6 else "Ring",
    }.get(arg.lower())


def _if(chan: Channel, arg: str) -> str:
    cond, _, rest = arg.partition("?")
    yes, _, no = rest.partition(":")
    return yes if cond.strip() not in ("", "0") else no


_FUNCTIONS: dict[str, Callable[[Channel, str], str | None]] = {
    "CALLERID": _callerid,
    "CHANNEL": _channel_fn,
    "LEN": lambda chan, arg: str(len(arg)),
    "IF": _if,
    "CONNECTEDLINE": lambda chan, arg: chan.conn_num if arg.lower().startswith("num") else chan.conn_name,
}
_BUILTINS: dict[str, Callable[[Channel], str]] = {
    "CHANNEL": lambda chan: chan.name,
    "UNIQUEID": lambda chan: chan.uniqueid,
    "EXTEN": lambda chan: chan.exten,
    "CONTEXT": lambda chan: chan.context,
    "PRIORITY": lambda chan: str(chan.priority),
    "LANGUAGE": lambda chan: chan.language,
}


def expand(text: str, chan: Channel, globals_: dict[str, str] | None = None) -> str:
    """Substitute ``${...}`` and evaluate ``$[...]``, innermost first."""
    while True:
        start = max(text.rfind("${"), text.rfind("$["))
        if start < 0:
            return text
        opener = text[start + 1]
        closer = "}" if opener == "{" else "]"
        depth, end = 0, -1
        for i in range(start + 1, len(text)):
            if text[i] == opener:
                depth += 1
            elif text[i] == closer:
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end < 0:
            return text
        inner = text[start + 2 : end]
        if opener == "{":
            value = get_value(chan, inner, globals_) or ""
        else:
            value = _evaluate(inner)
        text = text[:start] + value + text[end + 1 :]


_OPS = ("!=", ">=", "<=", "=", ">", "<", "&", "|")


def _evaluate(expr: str) -> str:
    for op in _OPS:
        if op in expr:
            left, right = (part.strip().strip('"') for part in expr.split(op, 1))
            return "1" if _compare(left, right, op) else "0"
    return expr.strip().strip('"')


def _compare(left: str, right: str, op: str) -> bool:
    try:
        a: float | str = float(left)
        b: float | str = float(right)
    except ValueError:
        a, b = left, right
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "&":
        return left not in ("", "0") and right not in ("", "0")
    if op == "|":
        return left not in ("", "0") or right not in ("", "0")
    if isinstance(a, float) and isinstance(b, float):
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
    return {">": str(a) > str(b), "<": str(a) < str(b), ">=": str(a) >= str(b), "<=": str(a) <= str(b)}[op]
