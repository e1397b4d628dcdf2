"""The admin's IVR flow editor: REST under ``/api/admin/flows`` and the page at ``/admin/flows``.

Everything here is for admins. Reading (list, a version, history, diff) and checking a draft
(validate, test run) change nothing; saving a draft, publishing and rolling back do, and those
are written to the audit trail with the admin as the actor (publish and rollback inside the
transaction that stores the version, ``callcenter.storage.flows``). A test run is audited too,
since it runs a text nobody published; validation is not, because the page calls it while the
admin types and the trail would drown in it.

An invalid text is refused with 422 ``flow_invalid`` and ``details.errors`` holding every error
as ``{file, line, column, message}``, so the page marks each at its line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from string import Template
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.errors import ValidationError
from callcenter.ivr.commands import QueueStatus
from callcenter.ivr.model import QUEUE_RESULTS, FlowError, FlowInvalid
from callcenter.ivr.testing import FixedSchedules
from callcenter.services.flows import FlowService
from callcenter.services.flows_preview import draft_graph, flow_graph, preview_run
from callcenter.storage import flows as store
from callcenter.storage.audit import record_audit
from callcenter.storage.users import Role
from callcenter.web.auth import current_session, current_user, requires
from callcenter.web.auth_pages import PAGE_HEADERS, language_of
from callcenter.web.errors import error_response, register_error
from callcenter.web.keys import DB_POOL, SETTINGS
from callcenter.web.static_files import read_static as _read

__all__ = ["FLOW_SERVICE", "FlowServiceSlot", "flow_service", "routes", "setup"]

KYIV = ZoneInfo("Europe/Kyiv")


@dataclass
class FlowServiceSlot:
    """Where the running FlowService sits: filled at setup, or when the application starts."""

    service: FlowService | None = None


#: The slot of the running FlowService (``flow_service(app)`` reads it). A slot rather than the
#: service itself, because a started application's state must not be replaced.
FLOW_SERVICE: web.AppKey[FlowServiceSlot] = web.AppKey("flow_service", FlowServiceSlot)

routes = web.RouteTableDef()

register_error(store.FlowVersionNotFound, 404, "flow_version_not_found")

#: Page assets served under /static/flows/ (nothing else is).
_ASSETS = {"flows.css": "text/css", "flows.js": "text/javascript"}
_MAX_KEYS = 200


def setup(app: web.Application, service: FlowService | None = None) -> None:
    """Add the editor's routes; without ``service``, one is built from the settings and run with the app.

    Calling it again (a test handing in its own service) only replaces the service.
    """
    if FLOW_SERVICE in app:
        app[FLOW_SERVICE].service = service or app[FLOW_SERVICE].service
        return
    slot = FlowServiceSlot(service)
    app[FLOW_SERVICE] = slot
    app.add_routes(routes)

    async def run_service(app: web.Application) -> AsyncIterator[None]:
        if slot.service is not None:
            yield  # handed in by the caller, who starts and stops it
            return
        from callcenter.prompts import PromptSynthesizer

        settings = app[SETTINGS]
        started = FlowService.from_settings(
            settings, app[DB_POOL], synthesizer=PromptSynthesizer(settings.paths.sounds_dir)
        )
        await started.start()
        slot.service = started
        try:
            yield
        finally:
            slot.service = None
            await started.stop()

    app.cleanup_ctx.append(run_service)


def flow_service(app: web.Application) -> FlowService:
    """The running FlowService of an application set up with ``setup``."""
    service = app[FLOW_SERVICE].service
    if service is None:
        raise web.HTTPServiceUnavailable(text="the flow service is not running")
    return service


# -- helpers -------------------------------------------------------------------------------------
def _service(request: web.Request) -> FlowService:
    return flow_service(request.app)


def _name(request: web.Request) -> str:
    return store.check_name(request.match_info["name"])


#: Version numbers are PostgreSQL ``integer``s; a larger one names no version and must not reach
#: a query, where asyncpg refuses it (DataError, answered 500).
_MAX_VERSION = 2**31 - 1


def _version_number(value: int, what: str) -> int:
    if not -_MAX_VERSION <= value <= _MAX_VERSION:
        raise ValidationError(f"{what} is not a version number", field=what)
    return value


def _int(value: str | None, what: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise ValidationError(f"{what} must be a whole number", field=what) from None
    return _version_number(number, what)


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    try:
        body = await request.json()
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    return body


def _source(body: dict[str, Any], *, required: bool = True) -> str | None:
    source = body.get("source")
    if source is None and not required:
        return None
    if not isinstance(source, str):
        raise ValidationError("source (the flow's YAML text) is required", field="source")
    if len(source) > store.MAX_SOURCE_CHARS:
        raise ValidationError("the flow text is too long", field="source")
    return source


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str):
        raise ValidationError("note must be text", field="note")
    return note


def _error_json(error: FlowError) -> dict[str, Any]:
    return {"file": error.file, "line": error.line, "column": error.column, "message": error.message}


def _invalid(errors: list[FlowError]) -> web.Response:
    return error_response(
        422,
        "flow_invalid",
        f"the flow has {len(errors)} error(s); nothing was changed",
        {"errors": [_error_json(e) for e in errors]},
    )


def _version_json(version: store.FlowVersion, *, full: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": version.name,
        "version": version.version,
        "digest": version.digest,
        "author": version.author,
        "published_at": version.published_at.isoformat(),
        "note": version.note,
        "rollback_of": version.rollback_of,
    }
    if full:
        data.update(source=version.source, diff=version.diff)
    return data


# -- reading -------------------------------------------------------------------------------------
@routes.get("/api/admin/flows")
@requires(Role.ADMIN)
async def list_flows(request: web.Request) -> web.Response:
    """Every flow with its active version."""
    flows = await store.list_flows(request.app[DB_POOL])
    service = _service(request)
    return web.json_response(
        {
            "flows": [
                {
                    "name": f.name,
                    "active_version": f.active_version,
                    "versions": f.versions,
                    "author": f.author,
                    "published_at": f.published_at.isoformat(),
                    "digest": f.digest,
                    "serving": service.version_of(f.name) == f.active_version,
                }
                for f in flows
            ]
        }
    )


@routes.get("/api/admin/flows/{name}")
@requires(Role.ADMIN)
async def get_flow(request: web.Request) -> web.Response:
    """The active version (with its graph) and the signed-in admin's draft, if any."""
    name = _name(request)
    pool = request.app[DB_POOL]
    active = await store.get_version(pool, name)
    draft = await store.get_draft(pool, name, current_user(request).login)
    if active is None and draft is None:
        raise store.FlowVersionNotFound(f"no flow named {name!r}")
    flow = _service(request).get(name)
    return web.json_response(
        {
            "name": name,
            "active": _version_json(active) if active is not None else None,
            "graph": flow_graph(flow) if flow is not None else None,
            "draft": (
                {
                    "source": draft.source,
                    "base_version": draft.base_version,
                    "updated_at": draft.updated_at.isoformat(),
                }
                if draft is not None
                else None
            ),
        }
    )


@routes.get("/api/admin/flows/{name}/versions")
@requires(Role.ADMIN)
async def flow_history(request: web.Request) -> web.Response:
    """The flow's versions, newest first (without their texts)."""
    name = _name(request)
    versions = await store.history(request.app[DB_POOL], name)
    active = await store.get_version(request.app[DB_POOL], name)
    return web.json_response(
        {
            "name": name,
            "active_version": active.version if active is not None else None,
            "versions": [_version_json(v, full=False) for v in versions],
        }
    )


@routes.get("/api/admin/flows/{name}/versions/{version}")
@requires(Role.ADMIN)
async def flow_version(request: web.Request) -> web.Response:
    """One version with its text and its diff against the one before."""
    name = _name(request)
    number = _int(request.match_info["version"], "version")
    version = await store.get_version(request.app[DB_POOL], name, number)
    if version is None:
        raise store.FlowVersionNotFound(f"flow {name!r} has no version {number}")
    return web.json_response(_version_json(version))


@routes.get("/api/admin/flows/{name}/diff")
@requires(Role.ADMIN)
async def flow_diff(request: web.Request) -> web.Response:
    """Unified diff between versions ``from`` and ``to`` (default: the active one)."""
    name = _name(request)
    pool = request.app[DB_POOL]
    first = _int(request.query.get("from"), "from")
    to_text = request.query.get("to")
    old = await store.get_version(pool, name, first)
    new = await store.get_version(pool, name, _int(to_text, "to") if to_text else None)
    if old is None or new is None:
        raise store.FlowVersionNotFound(f"flow {name!r} has no such version")
    diff = store.unified_diff(old.source, new.source, name, old.version, new.version)
    return web.json_response({"name": name, "from": old.version, "to": new.version, "diff": diff})


# -- checking ------------------------------------------------------------------------------------
@routes.post("/api/admin/flows/{name}/validate")
@requires(Role.ADMIN)
async def validate_draft(request: web.Request) -> web.Response:
    """Check a draft: ``{"source"}`` → ``{"valid", "errors": [...], "graph"}``; nothing is stored."""
    name = _name(request)
    source = _source(await _body(request)) or ""
    flow, errors = _service(request).check(name, source)
    graph = flow_graph(flow) if flow is not None else draft_graph(source, name)
    return web.json_response(
        {"valid": flow is not None, "errors": [_error_json(e) for e in errors], "graph": graph}
    )


def _keys(body: dict[str, Any]) -> list[str | None]:
    keys = body.get("keys", [])
    if not isinstance(keys, list) or len(keys) > _MAX_KEYS:
        raise ValidationError(f"keys must be a list of at most {_MAX_KEYS} entries", field="keys")
    if not all(k is None or isinstance(k, str) for k in keys):
        raise ValidationError('each key is text ("1", "!1", "1234567") or null (silence)', field="keys")
    return cast("list[str | None]", keys)


def _names(body: dict[str, Any], key: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    values = body.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValidationError(f"{key} must be a list of text", field=key)
    if allowed is not None and any(v not in allowed for v in values):
        raise ValidationError(f"{key} must be among: {', '.join(allowed)}", field=key)
    return cast("list[str]", values)


def _lookups(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    found: dict[tuple[str, str], dict[str, str]] = {}
    for item in body.get("lookups", []) or []:
        if not isinstance(item, dict) or not isinstance(item.get("values"), dict):
            raise ValidationError("lookups: a list of {kind, key, values}", field="lookups")
        found[(str(item.get("kind", "")), str(item.get("key", "")))] = {
            str(k): str(v) for k, v in item["values"].items()
        }
    return found


def _moment(body: dict[str, Any]) -> dt.datetime:
    at = body.get("at")
    if at is None:
        return dt.datetime.now(KYIV)
    try:
        moment = dt.datetime.fromisoformat(str(at))
    except ValueError:
        raise ValidationError("at must be an ISO date and time", field="at") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=KYIV)


@routes.post("/api/admin/flows/{name}/test-run")
@requires(Role.ADMIN)
async def run_draft(request: web.Request) -> web.Response:
    """Run a draft (or the active version) for a simulated caller pressing ``keys``.

    Body: ``source`` (omit for the active version), ``keys``, and optionally ``at`` (the call's
    time, else now), ``open_schedules`` (else the real working hours at ``at``), ``lookups``,
    ``queue_results``, ``transfer_results``, ``caller``, ``language``.
    """
    name = _name(request)
    body = await _body(request)
    service = _service(request)
    source = _source(body, required=False)
    if source is None:
        flow = service.get(name)
        if flow is None:
            raise store.FlowVersionNotFound(f"no active flow named {name!r}")
    else:
        flow, errors = service.check(name, source)
        if flow is None:
            return _invalid(errors)
    keys = _keys(body)
    schedules: Any = service.setup.schedules
    if "open_schedules" in body:
        schedules = FixedSchedules(open=frozenset(_names(body, "open_schedules")))
    caller, language = body.get("caller"), body.get("language")
    result = preview_run(
        flow,
        keys,
        schedules=schedules,
        flows=service.flows,
        now=_moment(body),
        caller=caller if isinstance(caller, str) else None,
        language=language if isinstance(language, str) else None,
        lookups=_lookups(body),
        queue_results=cast("list[QueueStatus]", _names(body, "queue_results", QUEUE_RESULTS)),
        transfer_results=_names(body, "transfer_results"),
    )
    await record_audit(
        request.app[DB_POOL],
        current_user(request).login,
        "flow.test_run",
        name,
        {"digest": flow.digest, "keys": len(keys), "draft": source is not None},
    )
    return web.json_response(result.to_json())


# -- changing ------------------------------------------------------------------------------------
@routes.put("/api/admin/flows/{name}/draft")
@requires(Role.ADMIN)
async def save_draft(request: web.Request) -> web.Response:
    """Keep the admin's draft: ``{"source", "base_version"?}``."""
    name = _name(request)
    body = await _body(request)
    source = _source(body) or ""
    base = body.get("base_version")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool)):
        raise ValidationError("base_version must be a version number", field="base_version")
    if base is not None:
        _version_number(base, "base_version")
    login = current_user(request).login
    draft = await store.save_draft(request.app[DB_POOL], name, login, source, base)
    await record_audit(
        request.app[DB_POOL], login, "flow.draft_save", name, {"digest": store.source_digest(source)}
    )
    return web.json_response({"name": name, "updated_at": draft.updated_at.isoformat()})


@routes.delete("/api/admin/flows/{name}/draft")
@requires(Role.ADMIN)
async def drop_draft(request: web.Request) -> web.Response:
    """Throw the admin's draft away."""
    name = _name(request)
    login = current_user(request).login
    deleted = await store.delete_draft(request.app[DB_POOL], name, login)
    if deleted:
        await record_audit(request.app[DB_POOL], login, "flow.draft_delete", name, {})
    return web.json_response({"name": name, "deleted": deleted})


@routes.post("/api/admin/flows/{name}/publish")
@requires(Role.ADMIN)
async def publish(request: web.Request) -> web.Response:
    """Publish ``{"source", "note"?}`` as the next version; 422 with every error if it is invalid."""
    name = _name(request)
    body = await _body(request)
    source = _source(body) or ""
    login = current_user(request).login
    try:
        version = await _service(request).publish(name, source, author=login, note=_note(body))
    except FlowInvalid as exc:
        return _invalid(exc.errors)
    with contextlib.suppress(Exception):  # the draft is a convenience; the version is what counts
        await store.delete_draft(request.app[DB_POOL], name, login)
    return web.json_response(_version_json(version), status=201)


@routes.post("/api/admin/flows/{name}/rollback")
@requires(Role.ADMIN)
async def rollback(request: web.Request) -> web.Response:
    """Make a copy of ``{"version"}`` the new active version (``note`` optional)."""
    name = _name(request)
    body = await _body(request)
    number = body.get("version")
    if not isinstance(number, int) or isinstance(number, bool):
        raise ValidationError("version (the number to roll back to) is required", field="version")
    _version_number(number, "version")
    try:
        version = await _service(request).rollback(
            name, number, author=current_user(request).login, note=_note(body)
        )
    except FlowInvalid as exc:
        return _invalid(exc.errors)
    return web.json_response(_version_json(version), status=201)


# -- the page ------------------------------------------------------------------------------------
_TEXT: dict[str, dict[str, str]] = {
    "uk": {
        "title": "Редактор IVR — гаряча лінія",
        "heading": "Сценарії IVR",
        "flow": "Сценарій",
        "editor": "Текст сценарію (YAML)",
        "errors": "Помилки",
        "no_errors": "Помилок немає.",
        "diagram": "Схема",
        "test_run": "Пробний дзвінок",
        "keys": "Натискання клавіш (через пробіл; - тиша, !1 під час підказки)",
        "run": "Запустити",
        "publish": "Опублікувати",
        "note": "Примітка до версії",
        "history": "Історія версій",
        "rollback": "Повернути",
        "diff": "Зміни",
        "version": "Версія",
        "author": "Автор",
        "published": "Опубліковано",
        "published_ok": "Опубліковано версію {version}.",
        "publish_failed": "Не опубліковано: у сценарії є помилки.",
        "rolled_back": "Версію {from} повернуто як версію {version}.",
        "other_lang": "English",
        "other_lang_code": "en",
    },
    "en": {
        "title": "IVR editor — hotline",
        "heading": "IVR flows",
        "flow": "Flow",
        "editor": "Flow text (YAML)",
        "errors": "Errors",
        "no_errors": "No errors.",
        "diagram": "Diagram",
        "test_run": "Test call",
        "keys": "Key presses (space-separated; - is silence, !1 during a prompt)",
        "run": "Run",
        "publish": "Publish",
        "note": "Version note",
        "history": "Version history",
        "rollback": "Roll back",
        "diff": "Changes",
        "version": "Version",
        "author": "Author",
        "published": "Published",
        "published_ok": "Published version {version}.",
        "publish_failed": "Not published: the flow has errors.",
        "rolled_back": "Version {from} restored as version {version}.",
        "other_lang": "Українською",
        "other_lang_code": "uk",
    },
}


@routes.get("/admin/flows")
@requires(Role.ADMIN)
async def editor_page(request: web.Request) -> web.Response:
    """The flow editor (Ukrainian; ``?lang=en`` for English)."""
    lang = language_of(request)
    values = {k: html.escape(v) for k, v in _TEXT[lang].items()}
    values["csrf_token"] = html.escape(current_session(request).csrf_token)
    body = Template(_read("flows.html")).substitute(lang=lang, **values)
    return web.Response(text=body, content_type="text/html", headers=PAGE_HEADERS)


@routes.get("/static/flows/{file}")
@requires(Role.ADMIN)
async def editor_asset(request: web.Request) -> web.Response:
    """The editor's stylesheet and script."""
    name = request.match_info["file"]
    content_type = _ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(text=_read(name), content_type=content_type, headers={"Cache-Control": "no-cache"})
