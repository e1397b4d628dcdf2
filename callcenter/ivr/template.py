"""``${name}`` templates in flow values: finding the variables they use and filling them in."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["VARIABLE_NAME", "is_template", "render", "variables_in"]

#: A call variable name; dots separate a lookup's result from its fields (``status.state``).
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def variables_in(template: str) -> list[str]:
    """The names a template refers to, in order (malformed ones included, for validation)."""
    return [match.group(1).strip() for match in _PLACEHOLDER.finditer(template)]


def is_template(value: str) -> bool:
    """The value refers to at least one variable."""
    return _PLACEHOLDER.search(value) is not None


def render(template: str, variables: Mapping[str, str]) -> str:
    """Fill in a template; an unset variable becomes the empty string."""
    return _PLACEHOLDER.sub(lambda match: variables.get(match.group(1).strip(), ""), template)
