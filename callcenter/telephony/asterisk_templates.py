"""The tiny template language of ``asterisk-conf/*.conf.tmpl``.

Asterisk's own syntax is full of ``$``, ``${...}`` and ``[...]``, so neither ``string.Template``
nor ``str.format`` can fill it without escaping half the dialplan. The templates use two forms
that never occur in Asterisk configuration:

* ``{{name}}``: the value of ``name`` (text or a number);
* ``{{#name}}…{{/name}}``: the block once per item of the list ``name`` (each item a mapping
  whose keys are visible inside the block, over the outer values). An empty list drops the
  block, which is how optional parts (a standby backend, trunk registration) are written. A
  newline right after either tag is dropped with it, so blocks can stand on lines of their own.

Every problem (an unknown name, a list where text was expected, a block never closed) is
collected and raised as one ``ConfigError``: a half-rendered file is never returned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from callcenter.errors import ConfigError

__all__ = ["TemplateValue", "render_template"]

#: Text, a number, or a list of mappings for a block.
TemplateValue: TypeAlias = "str | int | Sequence[Mapping[str, TemplateValue]]"

_BLOCK = re.compile(r"\{\{#(\w+)\}\}\n?(.*?)\{\{/\1\}\}\n?", re.DOTALL)
_FIELD = re.compile(r"\{\{(\w+)\}\}")
_LEFTOVER = re.compile(r"\{\{([#/]?)([^}]*)\}\}")


def render_template(text: str, values: Mapping[str, TemplateValue], *, source: str = "template") -> str:
    """Fill ``text`` with ``values``; ``ConfigError`` naming ``source`` lists every problem."""
    problems: list[str] = []
    out = _render(text, values, source, problems)
    for match in _LEFTOVER.finditer(out):
        if match.group(1):
            problems.append(f"{source}: unclosed block tag {match.group(0)}")
        elif not _FIELD.fullmatch(match.group(0)):  # a well-formed unknown name is reported already
            problems.append(f"{source}: malformed tag {match.group(0)}")
    if problems:
        raise ConfigError(sorted(set(problems)))
    return out


def _render(text: str, values: Mapping[str, TemplateValue], source: str, problems: list[str]) -> str:
    def block(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)
        items = values.get(name)
        if items is None:
            problems.append(f"{source}: unknown block {{{{#{name}}}}}")
            return ""
        if isinstance(items, str | int):
            problems.append(f"{source}: {{{{#{name}}}}} needs a list, the value is {items!r}")
            return ""
        return "".join(_render(body, {**values, **item}, source, problems) for item in items)

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        value = values.get(name)
        if value is None:
            problems.append(f"{source}: unknown placeholder {{{{{name}}}}}")
            return match.group(0)
        if not isinstance(value, str | int):
            problems.append(f"{source}: {{{{{name}}}}} is a list; use it as a block")
            return match.group(0)
        return str(value)

    return _FIELD.sub(field, _BLOCK.sub(block, text))
