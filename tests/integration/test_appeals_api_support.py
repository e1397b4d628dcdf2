"""Helpers for the appeals API tests: the app with the appeals routes, and a JSON Schema checker.

No tests here. The checker covers the subset of JSON Schema that ``openapi.yaml`` uses (type,
enum, format, properties, required, additionalProperties, items, minimum, maximum, ``$ref``) and
refuses any other keyword, so the document cannot start relying on a rule nobody checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any
from uuid import UUID

import yaml
from aiohttp import web

from callcenter.appeals.calls import CallEnded, EnteredQueue
from callcenter.bus import EventBus
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.users import Role
from callcenter.web import appeals_api, desk
from tests.integration.test_auth_support import add_user, make_app

#: Monday 2 March 2026, 12:00 in Kyiv.
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
AUTHORITY = "oda-kyiv"


@dataclass
class AppealsClock:
    """The appeals' wall clock, moved by the test (the auth clock stays real)."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class AppealsApp:
    """The app under test and what the test reaches into."""

    app: web.Application
    repository: AppealRepository
    clock: AppealsClock
    bus: EventBus = field(default_factory=EventBus)


def make_appeals_app(pool: Any) -> AppealsApp:
    """The real app (``create_web_app``) with the appeals API and the desk wired as the lead will."""
    app = make_app(pool)
    clock = AppealsClock()
    repository = AppealRepository(pool)
    bus = EventBus()
    appeals_api.setup(app, repository, now=clock)
    desk.setup(app, bus)
    return AppealsApp(app, repository, clock, bus)


async def add_staff(pool: Any) -> None:
    """One user per role, named ``u-<role>``, the authority one belonging to ``AUTHORITY``."""
    await pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    for role in Role:
        await add_user(
            pool, f"u-{role.value}", role, authority_id=AUTHORITY if role is Role.AUTHORITY else None
        )
    await add_user(pool, "u-other-authority", Role.AUTHORITY, authority_id="oda-lviv")


async def open_call(
    repository: AppealRepository, linkedid: str, caller: str | None, at: datetime, *, abandoned: bool = False
) -> UUID:
    """Open a call's record as the call pipeline does; ``abandoned`` puts it on the callback list."""
    appeal = await repository.open_for_call(linkedid, caller=caller, dnid="0800505600", arrived_at=at)
    if abandoned:
        await repository.apply_call_progress(EnteredQueue(linkedid, "general", at + timedelta(seconds=5)))
        await repository.apply_call_progress(CallEnded(linkedid, at + timedelta(seconds=65)))
    return appeal.id


def registration_body(**overrides: Any) -> dict[str, Any]:
    """A complete, valid registration form (a pensioner's complaint about heating)."""
    body: dict[str, Any] = {
        "kind": "complaint",
        "surname": "Шевченко",
        "given_name": "Марія",
        "patronymic": "Іванівна",
        "residence": "м. Київ, вул. Хрещатик, 1",
        "essence": "Немає опалення в будинку з 20 лютого.",
        "topic_code": "109",
    }
    body.update(overrides)
    return body


# -- the OpenAPI document and the schema checker -------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """``callcenter/web/openapi.yaml`` as data."""
    text = (resources.files("callcenter.web") / "openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


_KEYWORDS = frozenset(
    {
        "type", "enum", "format", "properties", "required", "additionalProperties", "items",
        "minimum", "maximum", "$ref", "description", "default",
    }
)  # fmt: skip


def _type_ok(value: Any, name: str) -> bool:
    match name:
        case "null":
            return value is None
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
    raise ValueError(f"unknown JSON Schema type {name!r}")


def _format_ok(value: str, name: str) -> bool:
    parsers: dict[str, Callable[[str], object]] = {
        "date": date.fromisoformat,
        "date-time": datetime.fromisoformat,
        "uuid": UUID,
    }
    if name not in parsers:
        raise ValueError(f"unchecked format {name!r}")
    try:
        parsers[name](value)
    except ValueError:
        return False
    return name != "date-time" or "T" in value


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (local ``#/...`` pointers only) until a node without one."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def check(document: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``where: what`` lines (empty: it conforms)."""
    schema = resolve(document, schema)
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"{where}: the checker does not support {sorted(unknown)}")
    problems: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(value, n) for n in names):
            return [f"{where}: {value!r} is not of type {names}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "format" in schema and isinstance(value, str) and not _format_ok(value, schema["format"]):
        problems.append(f"{where}: {value!r} is not a {schema['format']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where}: {name} is required")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problems += check(document, properties[name], item, f"{where}.{name}")
            elif extra is False:
                problems.append(f"{where}: {name} is not a documented property")
            elif isinstance(extra, dict):
                problems += check(document, extra, item, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += check(document, schema["items"], item, f"{where}[{i}]")
    return problems
