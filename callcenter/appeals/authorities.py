"""The authorities appeals are sent to (PURE): the model, its validation, and the YAML loader.

An authority (орган, the executor of Art. 7) is data: a shipped list for an oblast in
``data/authorities.yaml`` seeds the ``authorities`` table, and admins edit the table from then on
(``callcenter.web.authorities_api``). Its ``id`` is what an appeal's ``authority`` field and an
authority user's ``authority_id`` hold, so it is a short, stable slug (``oda-health``) that
never changes once used; the name can change freely.

File format::

    authorities:
      - {id: oda-health, name: "Департамент охорони здоров'я ОДА", kind: oda_department,
         parent: oda, email: "…", phone: "…", address: "…"}

Every problem of a file is reported at once, each naming the entry and the field.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from callcenter.errors import ValidationError

__all__ = [
    "Authority",
    "AuthorityKind",
    "load_authorities",
    "parse_authorities",
    "parse_authority",
    "shipped_authorities",
    "validate_list",
]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELDS = frozenset(
    {"id", "name", "short_name", "kind", "parent", "email", "phone", "address", "active", "sort_order"}
)


class AuthorityKind(enum.StrEnum):
    """What sort of body it is (for grouping on the pickers and in the monitoring report)."""

    OBLAST_ADMINISTRATION = "oblast_administration"  # ОДА/ОВА as a whole (the head's office)
    ODA_DEPARTMENT = "oda_department"  # a department or directorate of the ОДА
    DISTRICT_ADMINISTRATION = "district_administration"  # РДА/РВА
    CITY_COUNCIL = "city_council"  # міська/селищна/сільська рада (local self-government)
    TERRITORIAL_BODY = "territorial_body"  # a central body's regional office (ПФУ, ДПС, …)
    UTILITY = "utility"  # водоканал, теплопостачання, газо- і електропостачання
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Authority:
    """One body appeals can be sent to."""

    id: str
    name: str
    kind: AuthorityKind
    short_name: str = ""
    parent_id: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    active: bool = True
    sort_order: int = 0

    @property
    def label(self) -> str:
        """The short name when there is one, else the full name (for lists and buttons)."""
        return self.short_name or self.name


def _opt_text(raw: Mapping[str, Any], name: str, problems: dict[str, str]) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems[name] = "must be text"
        return None
    return " ".join(value.split()) or None


def parse_authority(raw: Any) -> Authority:
    """One authority from a mapping (a YAML entry or an API body); ValidationError names the field.

    ``parent`` and ``parent_id`` are both accepted for the parent body's id.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError("an authority must be a mapping of fields", field="body")
    data = dict(raw)
    if "parent_id" in data and "parent" not in data:
        data["parent"] = data.pop("parent_id")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    problems: dict[str, str] = {}
    ident = data.get("id")
    if not isinstance(ident, str) or not _ID.match(ident):
        problems["id"] = "2-63 lower-case letters, digits or hyphens, starting with a letter or digit"
    name = _opt_text(data, "name", problems)
    if not name and "name" not in problems:
        problems["name"] = "required"
    kind: AuthorityKind | None = None
    try:
        kind = AuthorityKind(data.get("kind", ""))
    except ValueError:
        problems["kind"] = "one of " + ", ".join(k.value for k in AuthorityKind)
    email = _opt_text(data, "email", problems)
    if email and not _EMAIL.match(email):
        problems["email"] = f"{email!r} is not an e-mail address"
    parent = _opt_text(data, "parent", problems)
    if parent is not None and parent == ident:
        problems["parent"] = "an authority cannot be its own parent"
    active = data.get("active", True)
    if not isinstance(active, bool):
        problems["active"] = "must be true or false"
    order = data.get("sort_order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        problems["sort_order"] = "must be a whole number"
    short_name = _opt_text(data, "short_name", problems) or ""
    phone = _opt_text(data, "phone", problems)
    address = _opt_text(data, "address", problems)
    if problems:
        first = next(iter(problems))
        text = "; ".join(f"{k}: {v}" for k, v in problems.items())
        raise ValidationError(text, field=first)
    assert isinstance(ident, str) and name is not None and kind is not None
    return Authority(
        id=ident,
        name=name,
        kind=kind,
        short_name=short_name,
        parent_id=parent,
        email=email,
        phone=phone,
        address=address,
        active=bool(active),
        sort_order=int(order),
    )


def validate_list(authorities: Iterable[Authority]) -> list[str]:
    """Problems of a whole list: duplicate ids, unknown parents, parent cycles (empty when fine)."""
    items = list(authorities)
    problems: list[str] = []
    by_id: dict[str, Authority] = {}
    for item in items:
        if item.id in by_id:
            problems.append(f"{item.id}: listed twice")
        by_id[item.id] = item
    for item in items:
        if item.parent_id is not None and item.parent_id not in by_id:
            problems.append(f"{item.id}: parent {item.parent_id!r} is not in the list")
    for item in items:
        seen = {item.id}
        parent = item.parent_id
        while parent is not None and parent in by_id:
            if parent in seen:
                problems.append(f"{item.id}: its parents form a cycle")
                break
            seen.add(parent)
            parent = by_id[parent].parent_id
    return problems


def parse_authorities(text: str, source: str = "<authorities>") -> list[Authority]:
    """Every authority of a YAML document; ValidationError listing every problem at once."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source}: not valid YAML: {exc}", field="file") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("authorities"), list):
        raise ValidationError(f"{source}: expected a mapping with an 'authorities' list", field="file")
    found: list[Authority] = []
    problems: list[str] = []
    for index, raw in enumerate(document["authorities"]):
        try:
            # The file's order is the pickers' order unless an entry says otherwise.
            entry = dict(raw) if isinstance(raw, Mapping) else raw
            if isinstance(entry, dict):
                entry.setdefault("sort_order", (index + 1) * 10)
            found.append(parse_authority(entry))
        except ValidationError as exc:
            label = raw.get("id") if isinstance(raw, Mapping) else None
            problems.append(f"{source}: entry {index + 1} ({label or '?'}): {exc}")
    problems.extend(f"{source}: {p}" for p in validate_list(found))
    if problems:
        raise ValidationError("\n".join(problems), field="authorities")
    return found


def shipped_authorities() -> list[Authority]:
    """The list shipped with the package (``callcenter/appeals/data/authorities.yaml``)."""
    text = (resources.files("callcenter.appeals") / "data" / "authorities.yaml").read_text(encoding="utf-8")
    return parse_authorities(text, "authorities.yaml")


def load_authorities(text: str | None = None, source: str = "<authorities>") -> list[Authority]:
    """The authorities of ``text`` (a YAML document), or the shipped list when ``text`` is None."""
    return shipped_authorities() if text is None else parse_authorities(text, source)
