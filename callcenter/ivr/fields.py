"""Reading the parts of a flow file that are not nodes: prompts, targets, names and conditions.

``FieldReader`` is the base of the loader's parser: each method reads one kind of value from a
``yaml.compose`` node, records any problem in the ``Source`` with its location, and returns the
value (or None) so that parsing goes on and every error of a file is found in one pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import yaml

from callcenter.ivr.model import SUPPORTED_LANGUAGES, Condition, Loc, PromptRef, PromptSpec, Target
from callcenter.ivr.yamlsrc import Entry, Source, loc_of

__all__ = ["VARIABLE", "FieldReader"]

#: A call-variable name as written in `variable:` and `variables:` keys.
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\Z")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FieldReader:
    """Typed readers for the values of a flow file, collecting errors in ``src``."""

    def __init__(self, src: Source) -> None:
        self.src = src

    # -- prompts ----------------------------------------------------------------------------
    def prompt_spec(self, node: yaml.Node, what: str, name: str | None) -> PromptSpec | None:
        entries = self.src.mapping(node, what)
        if entries is None:
            return None
        loc = loc_of(node)
        special = {"file", "text", "language"}
        langs = {k: e for k, e in entries.items() if k not in special}
        for key, entry in langs.items():
            if key not in SUPPORTED_LANGUAGES:
                self.src.error(
                    entry.key_node,
                    f"unknown language `{key}` in {what} (supported: {', '.join(SUPPORTED_LANGUAGES)})",
                )
        if "language" in entries:
            fixed = self.src.text(entries["language"].value, f"`language` of {what}")
            text = self.src.text(entries["text"].value, f"`text` of {what}") if "text" in entries else None
            if fixed is not None and fixed not in SUPPORTED_LANGUAGES:
                self.src.error(entries["language"].value, f"unknown language `{fixed}` in {what}")
            if "text" not in entries:
                self.src.error(node, f"{what} has `language` but no `text`")
            if langs or "file" in entries:
                self.src.error(node, f"{what} with a fixed `language` takes only `text`")
            if fixed is None or text is None:
                return None
            return PromptSpec(loc, name, texts={fixed: text}, fixed_language=fixed)
        if "text" in entries:
            self.src.error(
                entries["text"].key_node, f"`text` in {what} needs `language` (or write uk:, ru:, en:)"
            )
        file = self.src.text(entries["file"].value, f"`file` of {what}") if "file" in entries else None
        if file is not None and langs:
            self.src.error(node, f"{what} has both a `file` for every language and per-language versions")
        if file is None and not langs and "file" not in entries:
            self.src.error(node, f"{what} has no text or file")
        texts: dict[str, str] = {}
        files: dict[str, str] = {}
        for key, entry in langs.items():
            if isinstance(entry.value, yaml.MappingNode):
                sub = self.src.mapping(entry.value, f"`{key}` of {what}") or {}
                self.src.only_keys(sub, ("file", "text"), f"`{key}` of {what}")
                if "file" not in sub and "text" not in sub:
                    self.src.error(entry.value, f"`{key}` of {what} needs `file` or `text`")
                if "file" in sub and (value := self.src.text(sub["file"].value, "`file`")) is not None:
                    files[key] = value
                if "text" in sub and (value := self.src.text(sub["text"].value, "`text`")) is not None:
                    texts[key] = value
            elif (value := self.src.text(entry.value, f"`{key}` of {what}")) is not None:
                texts[key] = value
        return PromptSpec(loc, name, texts=texts, files=files, file=file)

    def prompt_ref(self, node: yaml.Node, what: str) -> PromptRef | None:
        if isinstance(node, yaml.ScalarNode):
            name = self.src.text(node, what)
            return PromptRef(loc_of(node), name=name) if name is not None else None
        spec = self.prompt_spec(node, what, None)
        return PromptRef(loc_of(node), inline=spec) if spec is not None else None

    def prompt_list(self, node: yaml.Node, what: str) -> tuple[PromptRef, ...]:
        items = list(node.value) if isinstance(node, yaml.SequenceNode) else [node]
        if not items:
            self.src.error(node, f"{what} must name at least one prompt")
        refs = (self.prompt_ref(item, what) for item in items)
        return tuple(ref for ref in refs if ref is not None)

    # -- small fields -------------------------------------------------------------------------
    def target(self, node: yaml.Node, what: str) -> Target | None:
        name = self.src.text(node, what)
        return Target(name, loc_of(node)) if name is not None else None

    def variable(self, node: yaml.Node, what: str) -> str | None:
        name = self.src.text(node, what)
        if name is not None and not VARIABLE.match(name):
            self.src.error(node, f"{what} `{name}` is not a variable name (letters, digits, _)")
            return None
        return name

    def language(self, node: yaml.Node, what: str) -> str | None:
        lang = self.src.text(node, what)
        if lang is not None and lang not in SUPPORTED_LANGUAGES:
            self.src.error(
                node, f"unknown language `{lang}` in {what} (supported: {', '.join(SUPPORTED_LANGUAGES)})"
            )
            return None
        return lang

    def string_map(self, node: yaml.Node, what: str, check_key: Callable[[Entry], bool]) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, entry in (self.src.mapping(node, what) or {}).items():
            value = self.src.text(entry.value, f"`{key}` in {what}", allow_empty=True)
            if check_key(entry) and value is not None:
                result[key] = value
        return result

    # -- conditions ----------------------------------------------------------------------------
    def condition(self, node: yaml.Node) -> Condition | None:
        entries = self.src.mapping(node, "a condition")
        if entries is None:
            return None
        loc = loc_of(node)
        if "variable" in entries:
            return self.variable_condition(entries, loc)
        if len(entries) != 1:
            self.src.error(node, "a condition must have exactly one test (use all:/any: to combine)")
            return None
        (entry,) = entries.values()
        kind, value = entry.key, entry.value
        if kind in ("all", "any"):
            items = self.src.sequence(value, f"`{kind}`") or []
            if not items:
                self.src.error(value, f"`{kind}` needs at least one condition")
            children = tuple(c for c in (self.condition(item) for item in items) if c is not None)
            return Condition(kind, loc, children=children)
        if kind == "not":
            child = self.condition(value)
            return Condition(kind, loc, children=(child,)) if child is not None else None
        if kind in ("open", "holiday"):
            schedule = self.src.text(value, f"`{kind}` (a schedule name)")
            return Condition(kind, loc, {"schedule": schedule, "loc": loc_of(value)}) if schedule else None
        if kind in ("language", "caller_prefix"):
            items = list(value.value) if isinstance(value, yaml.SequenceNode) else [value]
            texts = [self.src.text(item, f"`{kind}`") for item in items]
            if kind == "language":
                for item, text in zip(items, texts, strict=True):
                    if text is not None and text not in SUPPORTED_LANGUAGES:
                        self.src.error(item, f"unknown language `{text}` in condition")
            if kind == "caller_prefix":
                for item, text in zip(items, texts, strict=True):
                    if text is not None and not text.isdigit():
                        self.src.error(item, f"caller prefix `{text}` must be digits")
            return Condition(kind, loc, {"values": tuple(t for t in texts if t)})
        if kind == "caller_anonymous":
            flag = self.src.boolean(value, "`caller_anonymous`")
            return Condition(kind, loc, {"value": flag}) if flag is not None else None
        if kind == "dates":
            return self.range_condition(kind, value, self.date_text)
        if kind == "time":
            return self.range_condition(kind, value, self.time_text)
        if kind == "weekdays":
            days = [
                self.src.text(item, "a weekday") for item in (self.src.sequence(value, "`weekdays`") or [])
            ]
            for item, day in zip(value.value, days, strict=False):
                if day is not None and day.lower() not in _WEEKDAYS:
                    self.src.error(item, f"unknown weekday `{day}` (use {', '.join(_WEEKDAYS)})")
            return Condition(kind, loc, {"values": tuple(d.lower() for d in days if d)})
        known = "all, any, not, open, holiday, language, caller_prefix, caller_anonymous, variable, dates, time, weekdays"
        self.src.error(entry.key_node, f"unknown condition `{kind}` (expected one of: {known})")
        return None

    def variable_condition(self, entries: dict[str, Entry], loc: Loc) -> Condition | None:
        self.src.only_keys(entries, ("variable", "equals", "in", "matches", "set"), "a variable condition")
        name = self.src.text(entries["variable"].value, "`variable`")
        tests = [k for k in ("equals", "in", "matches", "set") if k in entries]
        if len(tests) != 1:
            self.src.error(loc, "a variable condition needs exactly one of equals, in, matches, set")
            return None
        test = tests[0]
        value = entries[test].value
        arg: object
        if test == "equals":
            arg = self.src.text(value, "`equals`", allow_empty=True)
        elif test == "in":
            arg = tuple(
                self.src.text(item, "an `in` value") or "" for item in self.src.sequence(value, "`in`") or []
            )
        elif test == "matches":
            arg = self.src.text(value, "`matches`")
            if isinstance(arg, str) and not self.regex_ok(value, arg):
                return None
        else:
            arg = self.src.boolean(value, "`set`")
        if name is None or arg is None:
            return None
        return Condition("variable", loc, {"name": name, "test": test, "arg": arg, "name_loc": loc})

    def date_text(self, node: yaml.Node, what: str) -> str | None:
        text = self.src.text(node, what)
        try:
            return dt.date.fromisoformat(text).isoformat() if text else None
        except ValueError:
            self.src.error(node, f"{what} must be a date written YYYY-MM-DD")
            return None

    def time_text(self, node: yaml.Node, what: str) -> str | None:
        text = self.src.text(node, what)
        if text is not None and not _TIME.match(text):
            self.src.error(node, f'{what} must be a time written "HH:MM" (quoted)')
            return None
        return text

    def range_condition(
        self, kind: str, node: yaml.Node, read: Callable[[yaml.Node, str], str | None]
    ) -> Condition | None:
        entries = self.src.mapping(node, f"`{kind}`")
        if entries is None:
            return None
        self.src.only_keys(entries, ("from", "to"), f"`{kind}`")
        for key in ("from", "to"):
            if key not in entries:
                self.src.error(node, f"`{kind}` needs `{key}`")
        low = read(entries["from"].value, f"`{kind}.from`") if "from" in entries else None
        high = read(entries["to"].value, f"`{kind}.to`") if "to" in entries else None
        if low is None or high is None:
            return None
        if kind == "dates" and low > high:
            self.src.error(node, f"`dates` range ends ({high}) before it starts ({low})")
            return None
        return Condition(kind, loc_of(node), {"from": low, "to": high})

    def regex_ok(self, node: yaml.Node, pattern: str) -> bool:
        try:
            re.compile(pattern)
        except re.error as exc:
            self.src.error(node, f"invalid pattern `{pattern}`: {exc}")
            return False
        return True
