"""The classifier of citizens' appeals (CMU resolution 858 of 2008) as data files admins extend.

The shipped lists live in ``callcenter/appeals/data/<list>.yaml``. An admin extends a list by
putting a file with the same name in an extra folder: its entries are added to the shipped ones.
An extension may only *add* codes, because records already registered under a shipped code must
keep their meaning in the quarterly reports; redefining a code is an error that names the file
and the code. Every problem is reported with where it is, so a bad file never half-loads.

File shape::

    list: applicant_categories      # must match the file name
    section: "7"                    # every code must start with "7." ("" for topics)
    entries:
      - {code: "7.1", name: "Учасник війни", priority: true}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from callcenter.errors import ValidationError

__all__ = ["LISTS", "Classifier", "Entry", "load_classifier", "parse_list"]

#: Every list the classifier has; a file for anything else is refused.
LISTS = (
    "receipt_forms",
    "signs",
    "kinds",
    "sexes",
    "subjects",
    "applicant_categories",
    "social_statuses",
    "results",
    "topics",
)

_CODE = re.compile(r"^\d+(?:\.\d+)*$")
_ENTRY_KEYS = frozenset({"code", "name", "priority", "head_review"})
# Only applicant categories can carry the benefit and head-review flags.
_FLAGGED_LISTS = frozenset({"applicant_categories"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One classifier value: its code, its Ukrainian name and, for categories, its flags."""

    code: str
    name: str
    priority: bool = False  # a statutory benefit holder: considered first
    head_review: bool = False  # reviewed personally by the first head
    source: str = ""  # the file it came from, for error messages and the admin page


@dataclass(frozen=True, slots=True)
class Classifier:
    """All lists, each a mapping from code to entry in file order."""

    lists: Mapping[str, Mapping[str, Entry]]

    def entries(self, list_name: str) -> list[Entry]:
        """The entries of one list, shipped ones first, then extensions."""
        return list(self._list(list_name).values())

    def get(self, list_name: str, code: str) -> Entry | None:
        """The entry for ``code``, or None when the list has no such code."""
        return self._list(list_name).get(code)

    def require(self, list_name: str, code: str, *, field: str) -> Entry:
        """The entry for ``code``; a ValidationError naming ``field`` when it is unknown."""
        entry = self.get(list_name, code)
        if entry is None:
            raise ValidationError(f"{field}: {code!r} is not a code of the {list_name} list", field=field)
        return entry

    def _list(self, list_name: str) -> Mapping[str, Entry]:
        try:
            return self.lists[list_name]
        except KeyError:
            raise KeyError(f"no classifier list {list_name!r}") from None


def parse_list(list_name: str, text: str, source: str) -> tuple[str, list[Entry]]:
    """Parse and check one list file; return its section and entries, or raise ValidationError."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: not valid YAML: {exc}", field=source) from exc
    if not isinstance(document, dict):
        raise ValidationError(f"{source}: expected a mapping with list, section, entries", field=source)
    unknown = set(document) - {"list", "section", "entries"}
    if unknown:
        raise ValidationError(f"{source}: unknown keys {sorted(unknown)}", field=source)
    if document.get("list") != list_name:
        raise ValidationError(
            f"{source}: 'list' is {document.get('list')!r}, expected {list_name!r} (the file name)",
            field=source,
        )
    section = document.get("section", "")
    if not isinstance(section, str):
        raise ValidationError(f"{source}: 'section' must be a quoted string", field=source)
    raw_entries = document.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise ValidationError(f"{source}: 'entries' must be a non-empty list", field=source)
    entries = [_parse_entry(list_name, section, raw, source, i) for i, raw in enumerate(raw_entries, 1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.code in seen:
            raise ValidationError(
                f"{source}: code {entry.code} appears twice", field=f"{source}:{entry.code}"
            )
        seen.add(entry.code)
    return section, entries


def _parse_entry(list_name: str, section: str, raw: Any, source: str, index: int) -> Entry:
    where = f"{source}: entry {index}"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: expected a mapping with code and name", field=source)
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ValidationError(f"{where}: unknown keys {sorted(unknown)}", field=source)
    code, name = raw.get("code"), raw.get("name")
    # YAML reads an unquoted 7.1 as a float, which would turn 7.10 into 7.1: insist on strings.
    if not isinstance(code, str) or not _CODE.match(code):
        raise ValidationError(
            f'{where}: code {code!r} must be a quoted dotted number like "7.1"', field=source
        )
    if section and not code.startswith(section + "."):
        raise ValidationError(f"{where}: code {code} is outside section {section}", field=f"{source}:{code}")
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{where}: code {code} needs a non-empty name", field=f"{source}:{code}")
    flags = {key: raw.get(key, False) for key in ("priority", "head_review")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{where}: {key} must be true or false", field=f"{source}:{code}")
        if value and list_name not in _FLAGGED_LISTS:
            raise ValidationError(f"{where}: {key} is only meaningful for applicant categories", field=source)
    return Entry(code, name.strip(), flags["priority"], flags["head_review"], source)


def _shipped_texts() -> Iterable[tuple[str, str, str]]:
    folder = resources.files("callcenter.appeals") / "data"
    for list_name in LISTS:
        entry = folder / f"{list_name}.yaml"
        yield list_name, entry.read_text(encoding="utf-8"), f"data/{list_name}.yaml"


def load_classifier(extra_dir: Path | None = None) -> Classifier:
    """Load the shipped lists and merge the admin extensions found in ``extra_dir``."""
    lists: dict[str, dict[str, Entry]] = {}
    sections: dict[str, str] = {}
    for list_name, text, source in _shipped_texts():
        section, entries = parse_list(list_name, text, source)
        sections[list_name] = section
        lists[list_name] = {entry.code: entry for entry in entries}
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise ValidationError(
                f"classifier extension folder {extra_dir} does not exist", field="extra_dir"
            )
        for path in sorted(extra_dir.glob("*.yaml")):
            list_name = path.stem
            if list_name not in lists:
                raise ValidationError(
                    f"{path}: no classifier list {list_name!r}; known lists: {', '.join(LISTS)}",
                    field=str(path),
                )
            section, entries = parse_list(list_name, path.read_text(encoding="utf-8"), str(path))
            if section != sections[list_name]:
                raise ValidationError(
                    f"{path}: section {section!r} differs from the shipped {sections[list_name]!r}",
                    field=str(path),
                )
            for entry in entries:
                if entry.code in lists[list_name]:
                    raise ValidationError(
                        f"{path}: code {entry.code} is already defined in "
                        f"{lists[list_name][entry.code].source}; extensions may only add codes",
                        field=f"{path}:{entry.code}",
                    )
                lists[list_name][entry.code] = entry
    return Classifier(lists)
