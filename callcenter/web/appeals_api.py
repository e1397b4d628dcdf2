"""The appeals REST API: search, read, register, move through the lifecycle, overdue, callbacks.

Every route is described in ``openapi.yaml`` next to this module (served at
``/api/openapi.yaml``), and a test walks that file against the running app, so the two cannot
drift apart. The rules themselves live in the pure core (``callcenter.appeals``) and the
repository (``callcenter.storage.appeals``); this module only turns HTTP into their calls and
their answers and errors into JSON. A bad input is a ``ValidationError`` naming the field, so
the error middleware answers 400 with ``details.field``; a refused lifecycle move is 409.

Who may do what (the route declares the widest set; the handler narrows it per action):

* agents (and up) search, read, register, and record a consultation;
* supervisors (and up) send, extend, return, refuse, close, and handle the callback list;
* an authority's representative sees only the appeals sent to its authority and records what
  the authority does (take in work, not in competence, answer, resume); supervisors may record
  those on its behalf.

Wiring: ``setup(app, repository)`` stores the repository under ``APPEAL_REPOSITORY`` (and an
optional clock under ``APPEALS_CLOCK``) and adds ``routes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any
from uuid import UUID

from aiohttp import web

from callcenter.appeals.calls import call_outcome
from callcenter.appeals.errors import IllegalTransition, RegistrationError
from callcenter.appeals.events import jsonable
from callcenter.appeals.lifecycle import (
    Action,
    Close,
    Consult,
    Extend,
    NotInCompetence,
    RefuseConsideration,
    Resume,
    ReturnForRework,
    ReturnToApplicant,
    SendToAuthority,
    SubmitAnswer,
    TakeInWork,
    allowed_actions,
    forwarding_overdue,
    is_overdue,
)
from callcenter.appeals.model import Appeal, CallbackState, Status
from callcenter.appeals.registration import RegistrationForm
from callcenter.errors import CallcenterError, StorageError, ValidationError
from callcenter.storage.appeals import AppealQuery, AppealRepository, CallbackTask
from callcenter.storage.users import Role, User
from callcenter.web.auth import current_user, public, requires, signed_in
from callcenter.web.errors import error_response, register_error

__all__ = [
    "APPEALS_CLOCK",
    "APPEAL_REPOSITORY",
    "AUTHORITY_ACTIONS",
    "SUPERVISOR_ACTIONS",
    "AppealNotFound",
    "appeal_json",
    "routes",
    "setup",
    "summary_json",
]

APPEAL_REPOSITORY: web.AppKey[AppealRepository] = web.AppKey("appeal_repository", AppealRepository)
#: The wall clock for registrations and overdue checks (tests pin it).
APPEALS_CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("appeals_clock")

#: Actions a supervisor (or an admin) takes on the call centre's side.
SUPERVISOR_ACTIONS = frozenset(
    {"send", "extend", "return_to_applicant", "refuse", "close", "return_for_rework"}
)
#: Actions that record what the authority did: its representative or a supervisor.
AUTHORITY_ACTIONS = frozenset({"take_in_work", "not_in_competence", "submit_answer", "resume"})
_MAX_LIMIT = 1000

routes = web.RouteTableDef()


class AppealNotFound(CallcenterError):
    """No appeal record with that id (or none this user may see)."""


register_error(AppealNotFound, 404, "not_found")
register_error(IllegalTransition, 409, "illegal_transition")


def setup(
    app: web.Application, repository: AppealRepository, *, now: Callable[[], datetime] | None = None
) -> None:
    """Store the repository (and the clock) on ``app`` and add the appeals routes."""
    app[APPEAL_REPOSITORY] = repository
    app[APPEALS_CLOCK] = now or (lambda: datetime.now(UTC))
    app.add_routes(routes)


# -- JSON views ---------------------------------------------------------------------------------


def appeal_json(appeal: Appeal, now: datetime) -> dict[str, Any]:
    """The whole record as the API shows it, with what the page needs computed alongside."""
    body: dict[str, Any] = jsonable(appeal)
    body.update(
        effective_due=jsonable(appeal.effective_due),
        overdue=is_overdue(appeal, now),
        forwarding_overdue=forwarding_overdue(appeal, now),
        call_outcome=call_outcome(appeal.call).value,
        allowed_actions=allowed_actions(appeal.status),
    )
    return body


def summary_json(appeal: Appeal, now: datetime) -> dict[str, Any]:
    """The short form used in lists and on the desk's card of earlier appeals."""
    person = appeal.applicant
    return {
        "id": str(appeal.id),
        "number": appeal.number,
        "status": appeal.status.value,
        "kind": jsonable(appeal.kind),
        "arrived_at": appeal.call.arrived_at.isoformat(),
        "registered_at": jsonable(appeal.registered_at),
        "caller": appeal.call.caller,
        "applicant_name": person.full_name if person else None,
        "topic_code": appeal.topic_code,
        "authority": appeal.authority,
        "due": jsonable(appeal.due),
        "effective_due": jsonable(appeal.effective_due),
        "overdue": is_overdue(appeal, now),
        "priority": appeal.priority,
        "call_outcome": call_outcome(appeal.call).value,
        "callback": appeal.callback.value,
    }


def _callback_json(task: CallbackTask) -> dict[str, Any]:
    return {
        "appeal_id": str(task.appeal_id),
        "linkedid": task.linkedid,
        "caller": task.caller,
        "arrived_at": task.arrived_at.isoformat(),
        "outcome": task.outcome.value,
        "queue": task.queue,
        "waited_s": task.waited.total_seconds() if task.waited is not None else None,
        "reached_later": task.reached_later,
    }


# -- input --------------------------------------------------------------------------------------


def _appeal_id(request: web.Request, name: str = "id") -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise ValidationError(f"{name}: not an appeal id (a UUID)", field=name) from None


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return body


def _text(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(f"{name}: required", field=name)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name}: must be a string", field=name)
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{name}: must be true or false", field=name)
    return value


def _day(body: Mapping[str, Any], name: str, *, required: bool = False) -> date | None:
    text = _text(body, name, required=required)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name}: {text!r} is not a date (YYYY-MM-DD)", field=name) from None


def _codes(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{name}: must be a list of codes", field=name)
    return tuple(value)


def _registration_form(body: Mapping[str, Any]) -> RegistrationForm:
    known = {
        "kind", "surname", "given_name", "patronymic", "residence", "essence", "topic_code",
        "phone", "email", "sex", "categories", "social_status", "subject", "receipt_form",
        "anonymous", "requires_study", "complained_about", "requested_due",
    }  # fmt: skip
    unknown = sorted(set(body) - known)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}", field=unknown[0])
    return RegistrationForm(
        kind=_text(body, "kind"),
        surname=_text(body, "surname"),
        given_name=_text(body, "given_name"),
        patronymic=_text(body, "patronymic"),
        residence=_text(body, "residence"),
        essence=_text(body, "essence"),
        topic_code=_text(body, "topic_code"),
        phone=_text(body, "phone"),
        email=_text(body, "email"),
        sex=_text(body, "sex"),
        categories=_codes(body, "categories"),
        social_status=_text(body, "social_status"),
        subject=_text(body, "subject") or "5.1",
        receipt_form=_text(body, "receipt_form") or "1.1.1",
        anonymous=_flag(body, "anonymous"),
        requires_study=_flag(body, "requires_study"),
        complained_about=_text(body, "complained_about"),
        requested_due=_day(body, "requested_due"),
    )


_ACTION_FIELDS = frozenset(
    {"note", "topic_code", "authority", "new_due", "notice", "reason", "text", "result_code"}
)


def _action(name: str, body: Mapping[str, Any]) -> Action:
    unknown = sorted(set(body) - _ACTION_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}", field=unknown[0])

    def text(field: str) -> str:
        return _text(body, field, required=True) or ""

    match name:
        case "consult":
            return Consult(note=_text(body, "note") or "", topic_code=_text(body, "topic_code") or None)
        case "send":
            return SendToAuthority(text("authority"))
        case "take_in_work":
            return TakeInWork()
        case "extend":
            new_due = _day(body, "new_due", required=True)
            assert new_due is not None  # required=True raised otherwise
            return Extend(new_due, text("notice"))
        case "not_in_competence":
            return NotInCompetence(text("reason"))
        case "submit_answer":
            return SubmitAnswer(text("text"))
        case "return_for_rework":
            return ReturnForRework(text("reason"))
        case "resume":
            return Resume()
        case "close":
            return Close(text("result_code"))
        case "return_to_applicant":
            return ReturnToApplicant(text("reason"))
        case "refuse":
            return RefuseConsideration(text("reason"))
    raise ValidationError(f"action: no action {name!r}", field="action")


def _query(request: web.Request, user: User) -> AppealQuery | None:
    """The search filters of the request; None when the user may see nothing at all."""
    q = request.query

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = q.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError(f"{name}: not a whole number", field=name) from None
        if not low <= value <= high:
            raise ValidationError(f"{name}: must be between {low} and {high}", field=name)
        return value

    def boolean(name: str) -> bool | None:
        raw = q.get(name)
        if raw is None or raw == "":
            return None
        if raw not in ("true", "false"):
            raise ValidationError(f"{name}: must be true or false", field=name)
        return raw == "true"

    status = None
    if q.get("status"):
        try:
            status = Status(q["status"])
        except ValueError:
            raise ValidationError(f"status: no status {q['status']!r}", field="status") from None
    query = AppealQuery(
        number=q.get("number") or None,
        phone=q.get("phone") or None,
        name=q.get("name") or None,
        status=status,
        topic_code=q.get("topic") or None,
        authority=q.get("authority") or None,
        overdue=boolean("overdue"),
        registered_only=bool(boolean("registered")),
        limit=number("limit", 100, 1, _MAX_LIMIT),
        offset=number("offset", 0, 0, 10_000_000),
    )
    if user.has_role(Role.AGENT):
        return query
    # An authority's representative searches only what was sent to its authority (and one not
    # attached to any authority sees nothing).
    return replace(query, authority=user.authority_id) if user.authority_id else None


# -- helpers ------------------------------------------------------------------------------------


def _visible(user: User, appeal: Appeal) -> bool:
    if user.has_role(Role.AGENT):
        return True
    return (
        bool(user.authority_id)
        and (appeal.authority or "").casefold() == (user.authority_id or "").casefold()
    )


async def _load(request: web.Request, appeal_id: UUID, user: User) -> Appeal:
    try:
        appeal = await request.app[APPEAL_REPOSITORY].get(appeal_id)
    except StorageError:
        # The repository raises StorageError only for a missing row (connection failures come
        # through as the driver's own errors), so this is a plain "not found".
        raise AppealNotFound(f"no appeal {appeal_id}") from None
    if not _visible(user, appeal):
        raise AppealNotFound(f"no appeal {appeal_id}")
    return appeal


def _may(user: User, action: str, appeal: Appeal) -> bool:
    if action in SUPERVISOR_ACTIONS:
        return user.has_role(Role.SUPERVISOR)
    if action in AUTHORITY_ACTIONS:
        return user.has_role(Role.SUPERVISOR) or (user.role is Role.AUTHORITY and _visible(user, appeal))
    return user.has_role(Role.AGENT)  # consult


def _now(request: web.Request) -> datetime:
    return request.app[APPEALS_CLOCK]()


# -- routes -------------------------------------------------------------------------------------


@routes.get("/api/openapi.yaml")
@public
async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 description of the appeals API."""
    text = (resources.files("callcenter.web") / "openapi.yaml").read_text(encoding="utf-8")
    return web.Response(text=text, content_type="application/yaml", headers={"Cache-Control": "no-cache"})


@routes.get("/api/appeals")
@requires(Role.AGENT, Role.AUTHORITY)
async def search_appeals(request: web.Request) -> web.Response:
    """Records matching every filter given (number, phone, name, status, topic, authority, overdue)."""
    query = _query(request, current_user(request))
    now = _now(request)
    if query is None:
        return web.json_response({"items": [], "limit": 0, "offset": 0})
    found = await request.app[APPEAL_REPOSITORY].search(query, now=now)
    return web.json_response(
        {"items": [summary_json(a, now) for a in found], "limit": query.limit, "offset": query.offset}
    )


@routes.get("/api/appeals/overdue")
@requires(Role.AGENT, Role.AUTHORITY)
async def overdue_appeals(request: web.Request) -> web.Response:
    """Appeals past their consideration term (``?term=forwarding``: past the 5-day forwarding term)."""
    user, now = current_user(request), _now(request)
    term = request.query.get("term", "consideration")
    repository = request.app[APPEAL_REPOSITORY]
    if term == "consideration":
        found = await repository.overdue(now)
    elif term == "forwarding":
        found = await repository.forwarding_overdue(now)
    else:
        raise ValidationError("term: consideration or forwarding", field="term")
    return web.json_response({"items": [summary_json(a, now) for a in found if _visible(user, a)]})


@routes.get("/api/appeals/{id}")
@requires(Role.AGENT, Role.AUTHORITY)
async def get_appeal(request: web.Request) -> web.Response:
    """One record, whole."""
    user = current_user(request)
    appeal = await _load(request, _appeal_id(request), user)
    return web.json_response(appeal_json(appeal, _now(request)))


@routes.post("/api/appeals/{id}/register")
@requires(Role.AGENT)
async def register_appeal(request: web.Request) -> web.Response:
    """Register the call's record as an appeal; answers with its number and deadlines."""
    user = current_user(request)
    appeal_id = _appeal_id(request)
    form = _registration_form(await _body(request))
    await _load(request, appeal_id, user)
    now = _now(request)
    try:
        appeal = await request.app[APPEAL_REPOSITORY].register(appeal_id, form, actor=user.login, at=now)
    except RegistrationError as exc:
        # Every bad field at once, so the form can mark them all.
        return error_response(400, "invalid_input", str(exc), {"field": exc.field, "problems": exc.problems})
    return web.json_response(appeal_json(appeal, now))


@routes.post("/api/appeals/{id}/actions/{action}")
@requires(Role.AGENT, Role.AUTHORITY)
async def appeal_action(request: web.Request) -> web.Response:
    """Apply one lifecycle action (consult, send, take_in_work, extend, …) to a record."""
    user = current_user(request)
    appeal_id = _appeal_id(request)
    name = request.match_info["action"]
    action = _action(name, await _body(request))
    appeal = await _load(request, appeal_id, user)
    if not _may(user, name, appeal):
        return error_response(403, "forbidden", "your role does not allow this action", {"action": name})
    now = _now(request)
    after = await request.app[APPEAL_REPOSITORY].transition(appeal_id, action, actor=user.login, at=now)
    return web.json_response(appeal_json(after, now))


@routes.get("/api/callback-tasks")
@requires(Role.SUPERVISOR)
async def callback_tasks(request: web.Request) -> web.Response:
    """The records of calls to return (ended without an agent), oldest call first.

    Not the ACD's live callback queue (``/api/callbacks`` in ``agents_api``): these are the
    appeal records' follow-up tasks, which stay until a supervisor resolves them.
    """
    tasks = await request.app[APPEAL_REPOSITORY].callback_tasks()
    return web.json_response({"items": [_callback_json(t) for t in tasks]})


@routes.post("/api/callback-tasks/{appeal_id}")
@requires(Role.SUPERVISOR)
async def resolve_callback(request: web.Request) -> web.Response:
    """Mark a pending callback done or cancelled, with an optional note."""
    user = current_user(request)
    appeal_id = _appeal_id(request, "appeal_id")
    body = await _body(request)
    state_text = _text(body, "state", required=True)
    if state_text not in (CallbackState.DONE.value, CallbackState.CANCELLED.value):
        raise ValidationError("state: done or cancelled", field="state")
    await _load(request, appeal_id, user)
    now = _now(request)
    after = await request.app[APPEAL_REPOSITORY].resolve_callback(
        appeal_id, CallbackState(state_text), actor=user.login, at=now, note=_text(body, "note") or ""
    )
    return web.json_response(appeal_json(after, now))


def _entries_json(repository: AppealRepository, list_name: str) -> list[dict[str, Any]]:
    return [
        {"code": e.code, "name": e.name, "priority": e.priority, "head_review": e.head_review}
        for e in repository.classifier.entries(list_name)
    ]


@routes.get("/api/classifier")
@signed_in
async def classifier_lists(request: web.Request) -> web.Response:
    """Every classifier list (CMU resolution 858), for the form's pickers."""
    repository = request.app[APPEAL_REPOSITORY]
    lists = repository.classifier.lists
    return web.json_response({"lists": {name: _entries_json(repository, name) for name in lists}})


@routes.get("/api/classifier/{list}")
@signed_in
async def classifier_list(request: web.Request) -> web.Response:
    """One classifier list."""
    repository = request.app[APPEAL_REPOSITORY]
    name = request.match_info["list"]
    if name not in repository.classifier.lists:
        raise web.HTTPNotFound(reason="No such classifier list")
    return web.json_response({"list": name, "entries": _entries_json(repository, name)})
