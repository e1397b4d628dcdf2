"""Reading YAML node trees with every problem reported as ``file:line:column: message``.

PyYAML's ``compose`` keeps each node's position; building values from the nodes ourselves
(instead of ``safe_load``) lets a validator point at the exact key or value that is wrong, the
way the admins' editors and CI logs expect. Nothing here reads files: the adapter passes text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["Doc"]

T = TypeVar("T")


class Doc:
    """One YAML document and the list its problems are appended to."""

    def __init__(self, path: str, text: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        self.root: Node | None = None
        try:
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
            problems.append(f"{where}: invalid YAML: {exc.problem or exc.context}")
        except yaml.YAMLError as exc:
            problems.append(f"{path}: invalid YAML: {exc}")

    def where(self, node: Node | None) -> str:
        """``file:line:column`` of a node (1-based), or just the file."""
        if node is None:
            return self.path
        return f"{self.path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    def error(self, node: Node | None, message: str) -> None:
        """Record a problem at ``node``."""
        self.problems.append(f"{self.where(node)}: {message}")

    def mapping(self, node: Node | None, what: str, allowed: frozenset[str] | None = None) -> dict[str, Node]:
        """A mapping's entries by key; reports non-mappings, duplicate and unknown keys."""
        if node is None:
            return {}
        if not isinstance(node, MappingNode):
            self.error(node, f"{what} must be a mapping")
            return {}
        out: dict[str, Node] = {}
        for key_node, value in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, f"{what}: keys must be plain names")
                continue
            key = str(key_node.value)
            if key in out:
                self.error(key_node, f"{what}: duplicate key {key!r}")
            elif allowed is not None and key not in allowed:
                self.error(key_node, f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
            else:
                out[key] = value
        return out

    def sequence(self, node: Node | None, what: str) -> list[Node]:
        """A sequence's items (an absent node is an empty list)."""
        if node is None:
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, f"{what} must be a list")
            return []
        return list(node.value)

    def value(self, node: Node) -> object:
        """The plain Python value of a scalar node (YAML 1.1 safe types), or None if not scalar."""
        if not isinstance(node, ScalarNode):
            return None
        return SafeConstructor().construct_object(node, deep=True)

    def _typed(
        self, node: Node | None, what: str, check: Callable[[object], T | None], kind: str
    ) -> T | None:
        if node is None:
            return None
        result = check(self.value(node))
        if result is None:
            self.error(node, f"{what} must be {kind}")
        return result

    def string(self, node: Node | None, what: str) -> str | None:
        """A non-empty string value."""
        return self._typed(node, what, lambda v: v if isinstance(v, str) and v else None, "a string")

    def number(self, node: Node | None, what: str, *, minimum: float = 0.0) -> float | None:
        """A number ≥ ``minimum``."""

        def check(v: object) -> float | None:
            ok = isinstance(v, int | float) and not isinstance(v, bool) and v >= minimum
            return float(v) if ok else None  # type: ignore[arg-type]

        return self._typed(node, what, check, f"a number ≥ {minimum:g}")

    def integer(
        self, node: Node | None, what: str, *, minimum: int = 0, maximum: int | None = None
    ) -> int | None:
        """An integer within bounds."""

        def check(v: object) -> int | None:
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                return None
            return v if maximum is None or v <= maximum else None

        bound = f"from {minimum} to {maximum}" if maximum is not None else f"≥ {minimum}"
        return self._typed(node, what, check, f"an integer {bound}")

    def boolean(self, node: Node | None, what: str) -> bool | None:
        """true or false."""
        return self._typed(node, what, lambda v: v if isinstance(v, bool) else None, "true or false")

    def day(self, node: Node | None, what: str) -> date | None:
        """A calendar date written as YYYY-MM-DD."""
        return self._typed(node, what, lambda v: v if type(v) is date else None, "a date YYYY-MM-DD")
