"""Appeals through the Internet: the citizens' public page, its API, and the status check.

A citizen opens ``/zvernennia`` (Ukrainian, works on a phone, usable with a keyboard and a
screen reader), fills in the same required fields an agent would (ПІБ, residence, e-mail, phone,
essence, kind, topic, categories from the classifier), and gets the registration number and
the term of consideration. Later, the number and the phone show the appeal's status and terms,
and nothing else (no names, no text, no authority).

The appeal goes through the very rules an agent's registration does
(``registration.validate_registration`` and ``AppealRepository.register``: numbering, repeat
sign, deadlines, audit), plus the web's own: an e-mail is required for an electronic appeal
(Art. 5), and a phone, which the status check needs. The record says where it came from: the
``channel`` column is ``web`` and the classifier's receipt form is 1.1 ("post, e-mail"); its
key is ``web:<uuid>`` in place of a call's linkedid, and it has no call (no caller, no DID).

Anti-abuse (``public_appeals_guard``): per-address rate limits, a signed time-stamped challenge
with a proof of work the page's script does while the person types, and a honeypot field.

Routes (all public; the state-changing ones accept only ``application/json``, which a
cross-site form cannot send, and get the CSRF middleware's Origin check):

* ``GET  /zvernennia`` the page; ``GET /static/public/{name}`` its script and stylesheet;
* ``GET  /api/public/form`` the classifier choices and a first challenge;
* ``GET  /api/public/challenge`` a fresh challenge;
* ``POST /api/public/appeals`` submit (201 with the number and the term);
* ``POST /api/public/appeals/status`` the status of one appeal by number and phone (POST, so the
  phone never lands in an access log's query string).

Wiring: ``setup(app, repository, pool)``.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from string import Template
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from callcenter.appeals.calls import open_record
from callcenter.appeals.errors import RegistrationError
from callcenter.appeals.model import KIND_CLASSIFIER_CODES, Kind
from callcenter.appeals.records import to_row
from callcenter.appeals.registration import RegistrationForm, parse_number, validate_registration
from callcenter.appeals.repeats import normalise_phone
from callcenter.errors import ValidationError
from callcenter.logs import get_logger, mask_phone
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.audit import record_audit
from callcenter.web.auth import mask_address, public
from callcenter.web.errors import error_response
from callcenter.web.public_appeals_guard import Challenge, GuardRefused, GuardSettings, PublicGuard
from callcenter.web.static_files import asset_response
from callcenter.web.static_files import read_static as _read

__all__ = [
    "PAGE_LANGUAGES",
    "PUBLIC_APPEALS",
    "PUBLIC_PAGE",
    "RECEIPT_FORM_WEB",
    "WEB_ACTOR",
    "PublicAppeals",
    "routes",
    "setup",
]

log = get_logger(__name__)

PUBLIC_PAGE = "/zvernennia"
#: The page's languages; the first is the default.
PAGE_LANGUAGES = ("uk", "en")
#: The classifier's receipt form for an appeal that came in writing by e-mail or the Internet.
RECEIPT_FORM_WEB = "1.1"
#: The actor of the audit rows a web appeal leaves (no person of ours did it).
WEB_ACTOR = "web"
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_STATIC = {"public.css": "text/css", "public.js": "text/javascript"}
_FIELDS = frozenset(
    {
        "kind", "surname", "given_name", "patronymic", "residence", "email", "phone", "essence",
        "topic_code", "categories", "website", "challenge", "solution",
    }
)  # fmt: skip
_PHONE_DIGITS = (9, 15)


@dataclass
class PublicAppeals:
    """What the public routes need: the repository, its pool, the guard and the clocks."""

    repository: AppealRepository
    pool: Any
    guard: PublicGuard
    #: Wall clock for the appeal's receipt time (tests pin it).
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Seconds for the guard's windows and challenge ages (tests move it).
    seconds: Callable[[], float] = field(default=time.time)
    #: Addresses of our own reverse proxies: behind one, the client is the last hop it adds to
    #: X-Forwarded-For (never the first, which the client can write itself).
    trusted_proxies: frozenset[str] = frozenset()


PUBLIC_APPEALS: web.AppKey[PublicAppeals] = web.AppKey("public_appeals", PublicAppeals)

routes = web.RouteTableDef()


def setup(
    app: web.Application,
    repository: AppealRepository,
    pool: Any,
    *,
    guard: GuardSettings | None = None,
    now: Callable[[], datetime] | None = None,
    seconds: Callable[[], float] | None = None,
    trusted_proxies: frozenset[str] = frozenset(),
) -> PublicAppeals:
    """Store the public form's state on ``app`` and add its routes; returns the state.

    ``trusted_proxies``: the reverse proxies in front of the app (nginx), so the rate limits
    count the citizen's address rather than the proxy's.
    """
    state = PublicAppeals(repository, pool, PublicGuard(guard), trusted_proxies=trusted_proxies)
    if now is not None:
        state.now = now
    if seconds is not None:
        state.seconds = seconds
    app[PUBLIC_APPEALS] = state
    app.add_routes(routes)
    return state


# -- helpers ------------------------------------------------------------------------------------


def _address(request: web.Request) -> str:
    remote = request.remote or "unknown"
    if remote in request.app[PUBLIC_APPEALS].trusted_proxies:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if hops:
            return hops[-1]
    return remote


def _refused(exc: GuardRefused, address: str) -> web.Response:
    log.info("public appeal refused", reason=exc.error_id, address=mask_address(address))
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return error_response(exc.status, exc.error_id, str(exc), headers=headers)


def _challenge_json(challenge: Challenge) -> dict[str, Any]:
    return {"token": challenge.token, "difficulty": challenge.difficulty}


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return body


def _str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: must be a string", field=name)
    return value


def _form(body: Mapping[str, Any]) -> RegistrationForm:
    categories = body.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ValidationError("categories: must be a list of codes", field="categories")
    return RegistrationForm(
        kind=_str(body, "kind") or None,
        surname=_str(body, "surname"),
        given_name=_str(body, "given_name"),
        patronymic=_str(body, "patronymic"),
        residence=_str(body, "residence"),
        essence=_str(body, "essence"),
        topic_code=_str(body, "topic_code") or None,
        phone=_str(body, "phone") or None,
        email=_str(body, "email") or None,
        categories=tuple(categories),
        receipt_form=RECEIPT_FORM_WEB,
    )


def validate_public_form(form: RegistrationForm, repository: AppealRepository) -> None:
    """The agent's rules plus the web's: e-mail (Art. 5, electronic appeals) and phone required.

    RegistrationError lists every bad field at once, in the form's order.
    """
    problems: dict[str, str] = {}
    try:
        validate_registration(form, repository.classifier)
    except RegistrationError as exc:
        problems.update(exc.problems)
    if not (form.email or "").strip() and "email" not in problems:
        problems["email"] = "required: an electronic appeal needs an e-mail address (Art. 5)"
    digits = normalise_phone(form.phone)
    if not digits:
        problems["phone"] = "required: the status check asks for it"
    elif not _PHONE_DIGITS[0] <= len(digits) <= _PHONE_DIGITS[1]:
        problems["phone"] = "not a phone number (9-15 digits)"
    if problems:
        order = [
            "anonymous", "kind", "surname", "given_name", "patronymic", "residence", "email", "phone",
            "essence", "topic_code", "categories",
        ]  # fmt: skip
        ranked = sorted(problems, key=lambda k: order.index(k) if k in order else len(order))
        raise RegistrationError({k: problems[k] for k in ranked})


async def _open_web_record(state: PublicAppeals, at: datetime) -> UUID:
    """Insert the appeal's record (channel 'web', no call) and its audit row, in one transaction."""
    appeal_id = uuid4()
    record = open_record(appeal_id, f"web:{appeal_id}", caller=None, dnid=None, arrived_at=at)
    row = to_row(record)
    # The pure record does not carry the channel (the column came with migration 0070), so it is
    # added here; should the record learn it, this assignment still says 'web'.
    row["channel"] = "web"
    names = list(row)
    sql = (
        f"INSERT INTO appeals ({', '.join(names)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(names) + 1))})"
    )
    async with state.pool.acquire() as conn, conn.transaction():
        await conn.execute(sql, *row.values())
        await record_audit(
            conn,
            WEB_ACTOR,
            "appeal.web_received",
            f"appeal:{appeal_id}",
            {"at": at.isoformat(), "channel": "web"},
        )
    return appeal_id


# -- the page -----------------------------------------------------------------------------------


@cache
def _texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(_read("public.i18n.json"))
    return texts


@routes.get(PUBLIC_PAGE)
@public
async def public_page(request: web.Request) -> web.Response:
    """The citizens' appeal form and status check: Ukrainian, or English with ``?lang=en``.

    No cookie is set: the public page keeps no state in the browser.
    """
    asked = request.query.get("lang", PAGE_LANGUAGES[0])
    lang = asked if asked in PAGE_LANGUAGES else PAGE_LANGUAGES[0]
    text = _texts()[lang]
    other = next(code for code in PAGE_LANGUAGES if code != lang)
    # The script's texts travel as JSON in a non-executable block (allowed by the CSP); "<" is
    # escaped so no text can close the block.
    texts_json = json.dumps(text, ensure_ascii=False).replace("<", "\\u003c")
    body = Template(_read("public.html")).substitute(
        {key: html.escape(value) for key, value in text.items()},
        lang=lang,
        other_lang_code=other,
        switch_href=f"?lang={other}",
        texts_json=texts_json,
    )
    return web.Response(text=body, content_type="text/html", headers=_PAGE_HEADERS)


@routes.get("/static/public/{name}")
@public
async def public_asset(request: web.Request) -> web.Response:
    """The public page's stylesheet and script."""
    return asset_response(request.match_info["name"], _STATIC)


# -- the API ------------------------------------------------------------------------------------


@routes.get("/api/public/form")
@public
async def public_form(request: web.Request) -> web.Response:
    """The form's choices from the classifier (kinds, topics, categories) and a first challenge."""
    state = request.app[PUBLIC_APPEALS]
    try:
        challenge = state.guard.issue(_address(request), state.seconds())
    except GuardRefused as exc:
        return _refused(exc, _address(request))
    classifier = state.repository.classifier
    kind_names = {e.code: e.name for e in classifier.entries("kinds")}
    kinds = [
        {"code": kind.value, "name": kind_names.get(code, kind.value)}
        for kind, code in KIND_CLASSIFIER_CODES.items()
    ]
    topics = [{"code": e.code, "name": e.name} for e in classifier.entries("topics") if "." not in e.code]
    categories = [{"code": e.code, "name": e.name} for e in classifier.entries("applicant_categories")]
    return web.json_response(
        {
            "kinds": kinds,
            "topics": topics,
            "categories": categories,
            "challenge": _challenge_json(challenge),
        },
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/api/public/challenge")
@public
async def public_challenge(request: web.Request) -> web.Response:
    """A fresh challenge (after one expired or was spent)."""
    state = request.app[PUBLIC_APPEALS]
    try:
        challenge = state.guard.issue(_address(request), state.seconds())
    except GuardRefused as exc:
        return _refused(exc, _address(request))
    return web.json_response(_challenge_json(challenge), headers={"Cache-Control": "no-store"})


@routes.post("/api/public/appeals")
@public
async def submit_appeal(request: web.Request) -> web.Response:
    """Register an appeal sent through the public form; 201 with its number and term."""
    state = request.app[PUBLIC_APPEALS]
    address = _address(request)
    body = await _json_body(request)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}", field=unknown[0])
    seconds = state.seconds()
    try:
        state.guard.admit_submission(
            address,
            token=_str(body, "challenge"),
            solution=body.get("solution"),
            honeypot=_str(body, "website"),
            now=seconds,
        )
    except GuardRefused as exc:
        return _refused(exc, address)
    form = _form(body)
    try:
        validate_public_form(form, state.repository)
    except RegistrationError as exc:
        return error_response(400, "invalid_input", str(exc), {"field": exc.field, "problems": exc.problems})
    try:
        state.guard.spend(_str(body, "challenge"), seconds)
    except GuardRefused as exc:
        return _refused(exc, address)
    at = state.now()
    appeal_id = await _open_web_record(state, at)
    try:
        appeal = await state.repository.register(appeal_id, form, actor=WEB_ACTOR, at=at)
    except Exception:
        # Nothing half-made stays behind: the empty record goes with the failed registration.
        await state.pool.execute("DELETE FROM appeals WHERE id = $1 AND status = 'call_open'", appeal_id)
        raise
    log.info(
        "web appeal registered",
        appeal_id=str(appeal.id),
        number=appeal.number,
        phone_masked=mask_phone(form.phone),
        address=mask_address(address),
    )
    return web.json_response(
        {
            "number": appeal.number,
            "status": appeal.status.value,
            "registered_on": appeal.received_on.isoformat() if appeal.received_on else None,
            "due": appeal.due.isoformat() if appeal.due else None,
            "channel": "web",
        },
        status=201,
    )


@routes.post("/api/public/appeals/status")
@public
async def appeal_status(request: web.Request) -> web.Response:
    """The status and terms of one appeal, given its number and the applicant's phone."""
    state = request.app[PUBLIC_APPEALS]
    address = _address(request)
    try:
        state.guard.check_status_rate(address, state.seconds())
    except GuardRefused as exc:
        return _refused(exc, address)
    body = await _json_body(request)
    number = _str(body, "number").strip()
    parse_number(number)  # ValidationError (400, field "number") when it is not one
    digits = normalise_phone(_str(body, "phone"))
    if not digits:
        raise ValidationError("phone: required", field="phone")
    row = await state.pool.fetchrow(
        """SELECT number, status, received_on, due, extended_due, kind FROM appeals
           WHERE number = $1 AND (applicant_phone_digits = $2 OR caller_digits = $2)""",
        number,
        digits,
    )
    if row is None:
        # The same answer whether the number exists or the phone differs: a wrong guess
        # learns nothing.
        return error_response(404, "not_found", "no appeal with this number and phone")
    due = row["extended_due"] or row["due"]
    return web.json_response(
        {
            "number": row["number"],
            "status": row["status"],
            "kind": Kind(row["kind"]).value if row["kind"] else None,
            "registered_on": row["received_on"].isoformat() if row["received_on"] else None,
            "due": due.isoformat() if due else None,
            "extended": row["extended_due"] is not None,
        },
        headers={"Cache-Control": "no-store"},
    )
