"""Turning a change of a frozen record into an ``AppealEvent`` with a JSON-friendly diff."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from callcenter.appeals.model import Appeal, AppealEvent

__all__ = ["diff", "jsonable", "make_event"]


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: ISO dates, string UUIDs and enum values, lists for tuples."""
    if value is None or (isinstance(value, bool | int | float | str) and not isinstance(value, enum.Enum)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, tuple | list):
        return [jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot express {type(value).__name__} in JSON")


def diff(before: Appeal, after: Appeal) -> dict[str, tuple[Any, Any]]:
    """Every top-level field that differs, as ``(before, after)`` JSON-friendly pairs."""
    changes: dict[str, tuple[Any, Any]] = {}
    for f in dataclasses.fields(Appeal):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old != new:
            changes[f.name] = (jsonable(old), jsonable(new))
    return changes


def make_event(
    name: str,
    before: Appeal,
    after: Appeal,
    *,
    actor: str,
    at: datetime,
    details: Mapping[str, Any] | None = None,
) -> AppealEvent:
    """The event describing the change from ``before`` to ``after``."""
    return AppealEvent(name, after.id, actor, at, diff(before, after), dict(details or {}))
