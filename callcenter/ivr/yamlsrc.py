"""Reading YAML with positions: typed accessors over ``yaml.compose`` nodes that collect errors.

``yaml.compose`` keeps a mark (0-based line and column) on every node and key; constructing
Python objects would throw them away, so the loader reads the node tree through ``Source``,
which reports each problem once, with its 1-based location, and carries on to find the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from callcenter.ivr.model import FlowError, Loc

__all__ = ["Entry", "Source", "compose"]

_TRUE = frozenset({"true", "yes", "on"})
_FALSE = frozenset({"false", "no", "off"})


def loc_of(node: yaml.Node) -> Loc:
    """The 1-based location where a YAML node starts."""
    mark = node.start_mark
    return Loc(mark.line + 1, mark.column + 1)


@dataclass(frozen=True)
class Entry:
    """One key of a mapping: its text, the key node and the value node."""

    key: str
    key_node: yaml.Node
    value: yaml.Node

    @property
    def key_loc(self) -> Loc:
        """Where the key is written."""
        return loc_of(self.key_node)


class Source:
    """A flow file being read: its name and the errors found so far."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[FlowError] = []

    def error(self, where: yaml.Node | Loc, message: str) -> None:
        """Record a problem at a node or location."""
        loc = where if isinstance(where, Loc) else loc_of(where)
        self.errors.append(FlowError(self.filename, loc.line, loc.column, message))

    def mapping(self, node: yaml.Node, what: str) -> dict[str, Entry] | None:
        """The entries of a mapping, reporting duplicate and non-text keys; ``None`` if not a mapping."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping")
            return None
        entries: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"a key in {what} must be plain text")
                continue
            key = str(key_node.value)
            if key == "<<":
                self.error(key_node, "merge keys (<<) are not supported in flows")
                continue
            if key in entries:
                first = entries[key].key_loc
                self.error(key_node, f"duplicate key `{key}` in {what} (first at line {first.line})")
                continue
            entries[key] = Entry(key, key_node, value_node)
        return entries

    def only_keys(
        self, entries: dict[str, Entry], allowed: Iterator[str] | tuple[str, ...], what: str
    ) -> None:
        """Report every key not in ``allowed``."""
        allowed_set = set(allowed)
        for entry in entries.values():
            if entry.key not in allowed_set:
                expected = ", ".join(sorted(allowed_set))
                self.error(
                    entry.key_node, f"unknown key `{entry.key}` in {what} (expected one of: {expected})"
                )

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node] | None:
        """The items of a list, or ``None`` (reported) if the node is not a list."""
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list")
            return None
        return list(node.value)

    def text(self, node: yaml.Node, what: str, *, allow_empty: bool = False) -> str | None:
        """A scalar as text (numbers keep their written form, e.g. a phone number's leading 0)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
            self.error(node, f"{what} must be text")
            return None
        value = str(node.value)
        if not value and not allow_empty:
            self.error(node, f"{what} must not be empty")
            return None
        return value

    def integer(
        self, node: yaml.Node, what: str, *, minimum: int = 0, maximum: int | None = None
    ) -> int | None:
        """A whole number within bounds."""
        if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith(":int"):
            self.error(node, f"{what} must be a whole number")
            return None
        value = int(str(node.value).replace("_", ""))
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            self.error(node, f"{what} must be at least {minimum}{upper}")
            return None
        return value

    def seconds(self, node: yaml.Node, what: str) -> float | None:
        """A positive number of seconds (whole or fractional)."""
        if not isinstance(node, yaml.ScalarNode) or not (
            node.tag.endswith(":int") or node.tag.endswith(":float")
        ):
            self.error(node, f"{what} must be a number of seconds")
            return None
        value = float(str(node.value).replace("_", ""))
        if not 0 < value <= 3600:
            self.error(node, f"{what} must be more than 0 and at most 3600 seconds")
            return None
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        """true/false (yes/no and on/off as YAML 1.1 allows)."""
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
            word = str(node.value).lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        self.error(node, f"{what} must be true or false")
        return None


def compose(source: Source, text: str) -> yaml.Node | None:
    """Parse YAML text into a node tree; a syntax error is recorded and gives ``None``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Loc(mark.line + 1, mark.column + 1) if mark is not None else Loc(1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        source.error(where, f"YAML syntax error: {problem}")
        return None
    except yaml.YAMLError as exc:
        source.error(Loc(1, 1), f"YAML error: {exc}")
        return None
    if node is None:
        source.error(Loc(1, 1), "the flow file is empty")
    return node
