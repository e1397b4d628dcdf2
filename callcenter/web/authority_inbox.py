"""The authority's inbox: the page and API where an authority's staff handle the appeals sent to it.

An authority user (role ``authority``, attached to one ``authority_id``) sees ONLY the appeals
whose ``authority`` is that id: any other id answers 404, exactly like an id that does not
exist, so the inbox does not even confirm that other appeals exist. Everything they do goes
through the appeal lifecycle (``AppealRepository.transition``), so the audit trail, the
statuses and the deadlines follow as they do for the centre's staff:

* take in work (``TakeInWork``), answer (``SubmitAnswer``), extend the term with the notice to
  the applicant (``Extend``: once, up to 45 days in total, decided by the body's head), say the
  matter is not within its competence (``NotInCompetence``), resume work after a rework request;
* the deadline reminders the ``services.reminders`` job raised, to mark read;
* its own overdue and due-soon lists.

Routes (``authority`` role only; supervisors use the appeals API):

* ``GET  /authority`` the page; ``GET /static/authority/{name}`` its script and stylesheet
* ``GET  /api/authority/inbox[?status=…]`` the authority, its appeals, unread reminders, counts
* ``GET  /api/authority/appeals/{id}`` one appeal
* ``POST /api/authority/appeals/{id}/{action}`` with action ``take``, ``answer`` {text},
  ``extend`` {new_due, notice}, ``not-in-competence`` {reason}, ``resume``
* ``GET  /api/authority/deadlines`` its appeals overdue or due within 3 days
* ``POST /api/authority/notifications/{id}/read``

Wiring: ``setup(app)`` after ``appeals_api.setup`` and ``authorities_api.setup`` (it uses their
repository, store and clock).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from callcenter.appeals.lifecycle import Action, Extend, NotInCompetence, Resume, SubmitAnswer, TakeInWork
from callcenter.appeals.model import Appeal, Status
from callcenter.errors import StorageError, ValidationError
from callcenter.storage.appeals import AppealQuery
from callcenter.storage.authorities import AuthorityNotification
from callcenter.storage.users import Role, User
from callcenter.web.appeals_api import (
    APPEAL_REPOSITORY,
    APPEALS_CLOCK,
    AppealNotFound,
    appeal_json,
    summary_json,
)
from callcenter.web.auth import current_user, public, requires
from callcenter.web.authorities_api import AUTHORITY_STORE, DUE_SOON_DAYS, authority_json, deadline_json
from callcenter.web.static_files import asset_response
from callcenter.web.static_files import read_static as _read

__all__ = ["INBOX_ACTIONS", "notification_json", "routes", "setup"]

_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
}
_STATIC = {"authority.css": "text/css", "authority.js": "text/javascript"}
#: The inbox's action names (URL-friendly) → the body fields each takes.
INBOX_ACTIONS: dict[str, frozenset[str]] = {
    "take": frozenset(),
    "answer": frozenset({"text"}),
    "extend": frozenset({"new_due", "notice"}),
    "not-in-competence": frozenset({"reason"}),
    "resume": frozenset(),
}
_INBOX_LIMIT = 500

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    """Add the inbox routes (the appeals API and the authorities API must be set up first)."""
    for key in (APPEAL_REPOSITORY, APPEALS_CLOCK, AUTHORITY_STORE):
        if key not in app:
            raise RuntimeError(
                f"authority_inbox.setup needs {key!r}: set up appeals_api and authorities_api first"
            )
    app.add_routes(routes)


def notification_json(item: AuthorityNotification) -> dict[str, Any]:
    """A reminder as the inbox shows it."""
    return {
        "id": item.id,
        "appeal_id": str(item.appeal_id),
        "number": item.number,
        "kind": item.kind,
        "term": item.term.isoformat(),
        "created_at": item.created_at.isoformat(),
        "read": item.read_at is not None,
    }


def _authority_of(user: User) -> str:
    # The users table guarantees an authority user has an authority_id; a role change that
    # left it empty must see nothing rather than everything.
    if not user.authority_id:
        raise web.HTTPForbidden(text="this account is not attached to an authority")
    return user.authority_id


def _appeal_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["id"])
    except ValueError:
        raise ValidationError("id: not an appeal id (a UUID)", field="id") from None


async def _own_appeal(request: web.Request, authority: str) -> Appeal:
    appeal_id = _appeal_id(request)
    try:
        appeal = await request.app[APPEAL_REPOSITORY].get(appeal_id)
    except StorageError:
        raise AppealNotFound(f"no appeal {appeal_id}") from None
    if (appeal.authority or "").casefold() != authority.casefold():
        raise AppealNotFound(f"no appeal {appeal_id}")
    return appeal


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


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name}: required", field=name)
    return value


def _action(name: str, body: dict[str, Any]) -> Action:
    fields = INBOX_ACTIONS.get(name)
    if fields is None:
        raise web.HTTPNotFound(text=f"no action {name!r}")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}", field=unknown[0])
    match name:
        case "take":
            return TakeInWork()
        case "answer":
            return SubmitAnswer(_text(body, "text"))
        case "extend":
            raw = _text(body, "new_due")
            try:
                new_due = date.fromisoformat(raw)
            except ValueError:
                raise ValidationError(
                    f"new_due: {raw!r} is not a date (YYYY-MM-DD)", field="new_due"
                ) from None
            return Extend(new_due, _text(body, "notice"))
        case "not-in-competence":
            return NotInCompetence(_text(body, "reason"))
    return Resume()


# -- the page -----------------------------------------------------------------------------------


@routes.get("/authority")
@requires(Role.AUTHORITY)
async def authority_page(request: web.Request) -> web.Response:
    """The authority's inbox page (Ukrainian)."""
    _authority_of(current_user(request))
    return web.Response(text=_read("authority.html"), content_type="text/html", headers=_PAGE_HEADERS)


@routes.get("/static/authority/{name}")
@public
async def authority_asset(request: web.Request) -> web.Response:
    """The inbox page's stylesheet and script."""
    return asset_response(request.match_info["name"], _STATIC)


# -- the API ------------------------------------------------------------------------------------


@routes.get("/api/authority/inbox")
@requires(Role.AUTHORITY)
async def inbox(request: web.Request) -> web.Response:
    """The authority, the appeals sent to it (newest first), its unread reminders and counts."""
    user = current_user(request)
    authority = _authority_of(user)
    status = None
    if request.query.get("status"):
        try:
            status = Status(request.query["status"])
        except ValueError:
            raise ValidationError(f"status: no status {request.query['status']!r}", field="status") from None
    now = request.app[APPEALS_CLOCK]()
    found = await request.app[APPEAL_REPOSITORY].search(
        AppealQuery(authority=authority, status=status, limit=_INBOX_LIMIT), now=now
    )
    store = request.app[AUTHORITY_STORE]
    body_of = await store.get(authority)
    unread = await store.notifications(authority, unread_only=True)
    items = [summary_json(a, now) for a in found]
    for item in items:
        item.pop("caller", None)  # the call's number is the centre's business, not the authority's
    return web.json_response(
        {
            "authority": authority_json(body_of) if body_of else {"id": authority, "name": authority},
            "user": {"login": user.login, "display_name": user.display_name},
            "items": items,
            "notifications": [notification_json(n) for n in unread],
            "counts": {
                "total": len(items),
                "overdue": sum(1 for i in items if i["overdue"]),
                "waiting": sum(1 for a in found if a.status is Status.SENT_TO_AUTHORITY),
            },
        }
    )


def _for_authority(appeal: Appeal, now: datetime) -> dict[str, Any]:
    body = appeal_json(appeal, now)
    # What the authority needs to answer is the applicant's card; the call's own data stays home.
    for name in ("call", "callback", "callback_note", "callback_by", "callback_at", "linkedid"):
        body.pop(name, None)
    return body


@routes.get("/api/authority/appeals/{id}")
@requires(Role.AUTHORITY)
async def inbox_appeal(request: web.Request) -> web.Response:
    """One appeal sent to the user's authority (404 for any other)."""
    appeal = await _own_appeal(request, _authority_of(current_user(request)))
    return web.json_response(_for_authority(appeal, request.app[APPEALS_CLOCK]()))


@routes.post("/api/authority/appeals/{id}/{action}")
@requires(Role.AUTHORITY)
async def inbox_action(request: web.Request) -> web.Response:
    """Take in work, answer, extend, say not in competence, or resume, through the lifecycle."""
    user = current_user(request)
    authority = _authority_of(user)
    action = _action(request.match_info["action"], await _body(request))
    appeal = await _own_appeal(request, authority)
    now = request.app[APPEALS_CLOCK]()
    after = await request.app[APPEAL_REPOSITORY].transition(appeal.id, action, actor=user.login, at=now)
    return web.json_response(_for_authority(after, now))


@routes.get("/api/authority/deadlines")
@requires(Role.AUTHORITY)
async def inbox_deadlines(request: web.Request) -> web.Response:
    """The authority's appeals past their term or due within 3 days, the earliest term first."""
    authority = _authority_of(current_user(request))
    now = request.app[APPEALS_CLOCK]()
    rows = await request.app[AUTHORITY_STORE].deadline_rows(
        now + timedelta(days=DUE_SOON_DAYS), authority_id=authority
    )
    return web.json_response({"due_soon_days": DUE_SOON_DAYS, "items": [deadline_json(r, now) for r in rows]})


@routes.post("/api/authority/notifications/{id}/read")
@requires(Role.AUTHORITY)
async def read_notification(request: web.Request) -> web.Response:
    """Mark one of the authority's reminders read."""
    authority = _authority_of(current_user(request))
    try:
        ident = int(request.match_info["id"])
    except ValueError:
        raise ValidationError("id: not a reminder id", field="id") from None
    now = request.app[APPEALS_CLOCK]()
    if not await request.app[AUTHORITY_STORE].mark_read(authority, ident, at=now):
        raise web.HTTPNotFound(text="no such reminder")
    return web.json_response({"id": ident, "read": True})
