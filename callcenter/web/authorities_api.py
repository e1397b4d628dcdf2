"""The authorities API: the list (every signed-in user, for pickers), admin edits, and monitoring.

* ``GET  /api/authorities``              the active authorities (``?all=true``: admins see inactive too)
* ``POST /api/authorities``              admin: add one (audited)
* ``PUT  /api/authorities/{id}``         admin: replace its fields; the id never changes (audited);
                                         ``active: false`` retires it (appeals keep pointing at it)
* ``GET  /api/authorities/monitoring``   supervisors: per authority, appeals overdue and due soon
  (the "monitoring of timely consideration" the regulations require)
* ``GET  /api/authorities/{id}/overdue`` supervisors: that authority's overdue appeals

The list lives in the ``authorities`` table, seeded from ``callcenter/appeals/data/authorities.yaml``
by ``seed_shipped`` (new ids only, so an admin's edits stay).

Wiring: ``setup(app, pool, now=…)`` and, once the database is up, ``await seed_shipped(store)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from callcenter.appeals.authorities import Authority, parse_authority, shipped_authorities
from callcenter.errors import CallcenterError, StorageError, ValidationError
from callcenter.storage.authorities import AuthorityStore, DeadlineRow
from callcenter.storage.users import Role
from callcenter.web.auth import current_user, requires, signed_in
from callcenter.web.errors import register_error

__all__ = [
    "AUTHORITIES_CLOCK",
    "AUTHORITY_STORE",
    "DUE_SOON_DAYS",
    "AuthorityNotFound",
    "authority_json",
    "deadline_json",
    "routes",
    "seed_shipped",
    "setup",
]

AUTHORITY_STORE: web.AppKey[AuthorityStore] = web.AppKey("authority_store", AuthorityStore)
AUTHORITIES_CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("authorities_clock")
#: "Due soon" in the monitoring view: the term ends within this many days.
DUE_SOON_DAYS = 3

routes = web.RouteTableDef()


class AuthorityNotFound(CallcenterError):
    """No authority with that id."""


register_error(AuthorityNotFound, 404, "not_found")


def setup(app: web.Application, pool: Any, *, now: Callable[[], datetime] | None = None) -> AuthorityStore:
    """Store an ``AuthorityStore`` (and the clock) on ``app`` and add the routes; returns the store."""
    store = AuthorityStore(pool)
    app[AUTHORITY_STORE] = store
    app[AUTHORITIES_CLOCK] = now or (lambda: datetime.now(UTC))
    app.add_routes(routes)
    return store


async def seed_shipped(store: AuthorityStore) -> int:
    """Add the shipped list's new ids to the table; returns how many were added."""
    return await store.seed(shipped_authorities())


def authority_json(item: Authority) -> dict[str, Any]:
    """An authority as the API shows it."""
    return {
        "id": item.id,
        "name": item.name,
        "short_name": item.short_name,
        "kind": item.kind.value,
        "parent_id": item.parent_id,
        "email": item.email,
        "phone": item.phone,
        "address": item.address,
        "active": item.active,
        "sort_order": item.sort_order,
    }


def deadline_json(row: DeadlineRow, now: datetime) -> dict[str, Any]:
    """One appeal of a deadline view."""
    return {
        "appeal_id": str(row.appeal_id),
        "number": row.number,
        "authority": row.authority,
        "status": row.status,
        "term": row.term.isoformat(),
        "overdue": row.term_ends_at <= now,
        "priority": row.priority,
    }


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return body


#: ``authorities.sort_order`` is a PostgreSQL ``integer``.
_MAX_SORT_ORDER = 2**31 - 1


def _authority(body: dict[str, Any]) -> Authority:
    """The authority the body describes; a sort order past the column's range is bad input
    here rather than a DataError from asyncpg (a 500)."""
    item = parse_authority(body)
    if not -_MAX_SORT_ORDER <= item.sort_order <= _MAX_SORT_ORDER:
        raise ValidationError("sort_order: too large", field="sort_order")
    return item


@routes.get("/api/authorities")
@signed_in
async def list_authorities(request: web.Request) -> web.Response:
    """The authorities in picker order; ``?all=true`` adds the retired ones (admins only)."""
    everything = request.query.get("all") == "true"
    if everything and not current_user(request).has_role(Role.ADMIN):
        raise web.HTTPForbidden(text="only admins list retired authorities")
    items = await request.app[AUTHORITY_STORE].all(include_inactive=everything)
    return web.json_response({"items": [authority_json(a) for a in items]})


@routes.post("/api/authorities")
@requires(Role.ADMIN)
async def create_authority(request: web.Request) -> web.Response:
    """Add an authority."""
    item = _authority(await _body(request))
    await request.app[AUTHORITY_STORE].create(item, actor=current_user(request).login)
    return web.json_response(authority_json(item), status=201)


@routes.put("/api/authorities/{id}")
@requires(Role.ADMIN)
async def update_authority(request: web.Request) -> web.Response:
    """Replace an authority's fields (its id stays; ``active: false`` retires it)."""
    ident = request.match_info["id"]
    body = await _body(request)
    if body.setdefault("id", ident) != ident:
        raise ValidationError("id: an authority's id cannot change", field="id")
    item = _authority(body)
    try:
        await request.app[AUTHORITY_STORE].update(item, actor=current_user(request).login)
    except StorageError:
        raise AuthorityNotFound(f"no authority {ident}") from None
    return web.json_response(authority_json(item))


@routes.get("/api/authorities/monitoring")
@requires(Role.SUPERVISOR)
async def monitoring(request: web.Request) -> web.Response:
    """Per authority: appeals past their term and appeals whose term ends within 3 days."""
    store = request.app[AUTHORITY_STORE]
    now = request.app[AUTHORITIES_CLOCK]()
    rows = await store.deadline_rows(now + timedelta(days=DUE_SOON_DAYS), limit=100_000)
    names = {a.id: a for a in await store.all(include_inactive=True)}
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = counts.setdefault(row.authority.lower(), {"overdue": 0, "due_soon": 0})
        entry["overdue" if row.term_ends_at <= now else "due_soon"] += 1
    items = [
        {
            "authority": ident,
            "name": names[ident].name if ident in names else None,
            **entry,
        }
        for ident, entry in sorted(
            counts.items(), key=lambda kv: (-kv[1]["overdue"], -kv[1]["due_soon"], kv[0])
        )
    ]
    return web.json_response({"at": now.isoformat(), "due_soon_days": DUE_SOON_DAYS, "items": items})


@routes.get("/api/authorities/{id}/overdue")
@requires(Role.SUPERVISOR)
async def authority_overdue(request: web.Request) -> web.Response:
    """The appeals an authority holds past their term, the longest overdue first."""
    store = request.app[AUTHORITY_STORE]
    ident = request.match_info["id"]
    if await store.get(ident) is None:
        raise AuthorityNotFound(f"no authority {ident}")
    now = request.app[AUTHORITIES_CLOCK]()
    rows = await store.deadline_rows(now + timedelta(microseconds=1), authority_id=ident)
    return web.json_response({"authority": ident, "items": [deadline_json(r, now) for r in rows]})
