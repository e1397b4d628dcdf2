"""Schemathesis against every OpenAPI document of the project, run on the real application.

Each document (``openapi.yaml`` and every ``openapi_<area>.yaml``, merged as
``test_openapi_coverage.area_document`` merges them) is loaded with schemathesis, and for each
operation Hypothesis draws cases from it: valid requests (positive mode) and requests that
break the document (negative mode: wrong types, missing or extra fields, bad path values). Each
case is sent over HTTP to the complete application as ``callcenter serve`` builds it, served
in-process by aiohttp over this module's PostgreSQL schema, signed in with a real session
cookie and the session's CSRF token as a user of the role the operation's ``x-roles`` names
(the first one; public operations are called without a session). Operations whose path names
a record get a third pass of valid cases with the path naming a seeded record (an appeal sent to
an authority, a call waiting for a callback, an open call, a shipped flow, an authority …), so the
generated bodies and queries reach the handlers' own checks instead of an unknown id's 404.

Every answer must pass schemathesis' checks: no 5xx, a status the operation documents, the
documented content type, a body that matches the documented schema; and every error must be
the project's shape ``{"error_id", "message", "details"}`` with a message.

Hypothesis runs derandomized (the same cases every run) with a few examples per operation and
no deadline, and without shrinking, so the file stays bounded; a failure names the operation,
the case (as a curl command) and what was wrong.

A second test sends only the negative cases, with an agent logged in (paused) and a caller
waiting in the ACD, and after each one the application refuses (4xx) compares a snapshot of
every table (a digest of its rows; the tables timers write are left out) and of the
ACD's agents and waiting callers with the one taken before: bad input must change nothing.

The cases are drawn and sent from a worker thread with ``requests`` (schemathesis' own
transport), while the test's event loop serves the application and owns the database pool.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callcenter.storage.users import Role
from tests.integration.test_auth_support import PASSWORD, add_user
from tests.integration.test_openapi_coverage import PUBLIC, all_documents, full_app

#: Cases per operation and pass: small enough that the ~90 operations' ~3,400 requests take about
#: half a minute on two cores. (A run with 150 random, not derandomized, cases per pass found
#: nothing more than the derandomized 100 did.)
EXAMPLES = 20
#: The signed-in user of each role (an agent's login must be an agent of ``queue/agents.yaml``).
LOGINS = {"agent": "op101", "supervisor": "u-supervisor", "admin": "u-admin", "authority": "u-authority"}
AUTHORITY = "oda-health"
#: Operations that end the session they are called with get a fresh session for every case.
SESSION_ENDING = {("POST", "/api/logout"), ("POST", "/api/me/password")}
#: Called last: failed sign-ins count against the address, and the other operations sign in.
LAST = {("POST", "/api/login")}


@schemathesis.check
def error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """A 4xx/5xx JSON answer is ``{"error_id", "message", "details"}`` with a non-empty message."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/json"):
        raise AssertionError(f"error answered as {content_type!r}, not JSON")
    body = json.loads(response.content)
    if not isinstance(body, dict) or set(body) != {"error_id", "message", "details"}:
        raise AssertionError(f"error body is not {{error_id, message, details}}: {body!r}")
    if not isinstance(body["error_id"], str) or not body["error_id"]:
        raise AssertionError(f"error_id is not a name: {body!r}")
    if not isinstance(body["message"], str) or not body["message"].strip():
        raise AssertionError(f"error without a message: {body!r}")
    if not isinstance(body["details"], dict):
        raise AssertionError(f"details is not an object: {body!r}")
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


@dataclass
class Target:
    """The running app's address and a signed-in session per role."""

    base_url: str
    #: The database and the live calls as they are now (``snapshot``), read from the test's loop.
    state: Callable[[], dict[str, Any]] = dict
    #: The application under test (its ACD holds the live calls).
    app: Any = None
    #: Path parameter → a value naming a seeded record, per path template (``real_path_values``).
    records: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, tuple[requests.Session, str]] = field(default_factory=dict)

    def sign_in(self, role: str) -> tuple[requests.Session, str]:
        """A new session of ``role``'s user: the cookies in the session, the CSRF token returned."""
        session = requests.Session()
        response = session.post(
            f"{self.base_url}/api/login", json={"login": LOGINS[role], "password": PASSWORD}, timeout=30
        )
        assert response.status_code == 200, response.text
        return session, str(response.json()["csrf_token"])

    def session(self, role: str) -> tuple[requests.Session, str]:
        if role not in self.sessions:
            self.sessions[role] = self.sign_in(role)
        return self.sessions[role]


async def seed(db_pool: Any) -> None:
    """One user per role, and records for the listing operations to answer with."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await db_pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    for role_name, login in LOGINS.items():
        role = Role(role_name)
        await add_user(db_pool, login, role, authority_id=AUTHORITY if role is Role.AUTHORITY else None)


@pytest.fixture
async def target(db_pool: Any, tmp_path: Path) -> AsyncIterator[Target]:
    """The full application served on a loopback port, with one user per role."""
    await seed(db_pool)
    async with full_app(db_pool, tmp_path) as app:
        records = await seed_records(app)
        server = TestServer(app)
        await server.start_server()
        loop = asyncio.get_running_loop()

        def state() -> dict[str, Any]:
            return asyncio.run_coroutine_threadsafe(snapshot(db_pool, app), loop).result(30)

        try:
            found = Target(str(server.make_url("")).rstrip("/"), state, app, records)
            # Every role signs in before any fuzzing: failed sign-ins (the login operation's
            # cases) count against this address, and would refuse a sign-in made after them.
            await asyncio.to_thread(lambda: [found.session(role) for role in LOGINS])
            yield found
        finally:
            await server.close()


async def seed_records(app: web.Application) -> dict[str, str]:
    """A registered appeal sent to the authority, an abandoned call waiting for a callback and an
    open call's record; their ids by role in the tests (``sent``, ``callback``, ``open``)."""
    from callcenter.appeals.calls import CallEnded, EnteredQueue
    from callcenter.appeals.lifecycle import SendToAuthority
    from callcenter.appeals.registration import RegistrationForm
    from callcenter.web.appeals_api import APPEAL_REPOSITORY

    repository = app[APPEAL_REPOSITORY]
    now = datetime.now(UTC)
    appeal = await repository.open_for_call("S-1", caller="0671234567", dnid="0800505600", arrived_at=now)
    form = RegistrationForm(
        kind="complaint",
        surname="Шевченко",
        given_name="Марія",
        patronymic="Іванівна",
        residence="м. Київ, вул. Хрещатик, 1",
        essence="Немає опалення в будинку.",
        topic_code="109",
    )
    await repository.register(appeal.id, form, actor="op101", at=now)
    await repository.transition(appeal.id, SendToAuthority(AUTHORITY), actor="u-supervisor", at=now)
    callback = await repository.open_for_call("S-2", caller="0501112233", dnid="0800505600", arrived_at=now)
    await repository.apply_call_progress(EnteredQueue("S-2", "general", now + timedelta(seconds=5)))
    await repository.apply_call_progress(CallEnded("S-2", now + timedelta(seconds=65)))
    open_call = await repository.open_for_call("S-3", caller="0931112233", dnid="0800505600", arrived_at=now)
    return {"sent": str(appeal.id), "callback": str(callback.id), "open": str(open_call.id)}


def real_path_values(path: str, records: dict[str, str]) -> dict[str, str]:
    """Path parameters that name seeded records (the others stay generated), so the cases reach
    past the 404 of an unknown id into the handlers' own checks of the bodies and queries."""
    if path == "/api/appeals/{id}/register":
        return {"id": records["open"]}
    if path.startswith(("/api/appeals/{id}", "/api/authority/appeals/{id}", "/api/legal-holds/{id}")):
        return {"id": records["sent"]}
    values = {
        "/api/callback-tasks/{appeal_id}": {"appeal_id": records["callback"]},
        "/api/classifier/{list}": {"list": "topics"},
        "/api/authorities/{id}": {"id": AUTHORITY},
        "/api/authorities/{id}/overdue": {"id": AUTHORITY},
        "/api/admin/retention/{queue}": {"queue": "general"},
        # Another agent than the signed-in one: a supervisor's pause or logout of op101 would
        # change what the agent's own operations answer.
        "/api/agents/{agent_id}/pause": {"agent_id": "op102"},
        "/api/agents/{agent_id}/logout": {"agent_id": "op102"},
    }
    if path.startswith("/api/admin/flows/{name}"):
        return {"name": "example"}
    return values.get(path, {})


def operations(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path, first role of x-roles) for every operation, the ``LAST`` ones at the end."""
    found = [
        (method.upper(), path, (item[method].get("x-roles") or [PUBLIC])[0])
        for path, item in document["paths"].items()
        for method in ("get", "put", "post", "delete", "patch")
        if method in item
    ]
    return sorted(found, key=lambda op: op[:2] in LAST)


def send_case(
    case: schemathesis.Case, target: Target, session: requests.Session | None, token: str
) -> tuple[Any, dict[str, str]]:
    """Send ``case`` in ``session`` (None: signed out) with its CSRF token; (response, headers sent)."""
    headers = {"X-CSRF-Token": token} if token else {}
    if session is None:
        session = requests.Session()
    # The documents' security scheme is the session cookie, so schemathesis draws a value for
    # it; the real session's cookie replaces that value (only the session is under test here).
    cookies = {name: value for name, value in session.cookies.items() if name == "cc_session"}
    if case.cookies is not None:
        case.cookies.pop("cc_session", None)
    response = case.call(
        base_url=target.base_url, session=session, headers=headers, cookies=cookies, timeout=30
    )
    return response, headers


def run_operation(
    schema: Any,
    target: Target,
    method: str,
    path: str,
    role: str,
    mode: GenerationMode,
    path_parameters: dict[str, str] | None = None,
) -> list[int]:
    """Draw ``EXAMPLES`` cases of one operation in one mode, send each and check the answer."""
    operation = schema[path][method]
    statuses: list[int] = []

    def session_for_case() -> tuple[requests.Session | None, str]:
        if role == PUBLIC:
            return None, ""
        if (method, path) in SESSION_ENDING:
            return target.sign_in(role)
        return target.session(role)

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    def check_cases(case: schemathesis.Case) -> None:
        session, token = session_for_case()
        response, headers = send_case(case, target, session, token)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check_cases()
    return statuses


def run_document(document: dict[str, Any], target: Target) -> tuple[dict[str, list[int]], list[str]]:
    """Every operation of one document in both modes: (operation → statuses answered, failures)."""
    schema = schemathesis.openapi.from_dict(document)
    answered: dict[str, list[int]] = {}
    failures: list[str] = []
    for method, path, role in operations(document):
        known = real_path_values(path, target.records)
        passes = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        if known:
            passes.append((GenerationMode.POSITIVE, known))
        for mode, path_parameters in passes:
            what = f"{method} {path} {mode.value}{' on seeded records' if path_parameters else ''} as {role}"
            try:
                answered[what] = run_operation(schema, target, method, path, role, mode, path_parameters)
            except hypothesis.errors.Unsatisfiable:
                # A negative mode with nothing to break (no parameters, no body) has no cases.
                answered[what] = []
            except (FailureGroup, Exception) as exc:  # run every operation, then report all failures
                answered[what] = []
                failures.append(f"{what}: {exc}")
    return answered, failures


async def test_schemathesis_finds_no_problem_in_any_document(target: Target) -> None:
    """Generated cases of every documented operation, as the operation's role: every answer conforms."""
    answered: dict[str, list[int]] = {}
    failures: list[str] = []
    documents = sorted(
        all_documents().items(), key=lambda item: any(op[:2] in LAST for op in operations(item[1]))
    )
    for name, document in documents:
        statuses, failed = await asyncio.to_thread(run_document, document, target)
        answered.update({f"{name}: {op}": codes for op, codes in statuses.items()})
        failures += [f"{name}: {failure}" for failure in failed]
    if failures:
        pytest.fail(f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures), pytrace=False)
    # Each operation's valid cases got past the session and role checks at least once: a run
    # whose every answer is 401 or 403 would check the documents' refusals and nothing else.
    positive = {
        op: codes for op, codes in answered.items() if " positive " in op and not op.endswith(f" as {PUBLIC}")
    }
    refused = sorted(op for op, codes in positive.items() if not set(codes) - {401, 403})
    assert positive and refused == [], refused


#: Requests schemathesis once found answered with a 500, and the answer each must get now.
ONCE_CRASHED = [
    ("supervisor", "POST", "/api/content/alerts/27249488194428846080/ack", None, 404),
    ("admin", "GET", "/api/admin/flows/example/versions/2302004174994", None, 400),
    ("admin", "GET", "/api/admin/flows/example/diff?from=575332679111020544", None, 400),
    (
        "admin",
        "PUT",
        "/api/admin/flows/example/draft",
        {"source": "x", "base_version": -3434354946504582},
        400,
    ),
    ("admin", "POST", "/api/admin/flows/example/rollback", {"version": 2**40}, 400),
    ("supervisor", "GET", "/api/content/trends?to=0001-01-01", None, 400),
    ("supervisor", "GET", "/api/surveys/summary?to=9999-12-31", None, 400),
    ("supervisor", "GET", "/reports/official?period=0000-01", None, 400),
    (PUBLIC, "GET", "/api/stats?month=0000-08", None, 400),
    (
        "admin",
        "PUT",
        f"/api/authorities/{AUTHORITY}",
        {"name": "x", "kind": "other", "sort_order": 2**62},
        400,
    ),
    ("admin", "GET", "/api/admin/audit?before_id=222541542073564714237952", None, 400),
]


def send_once_crashed(target: Target) -> list[str]:
    """Each request of ``ONCE_CRASHED`` as its role: what answered otherwise than it must."""
    wrong = []
    for role, method, path, body, status in ONCE_CRASHED:
        session, token = target.session(role) if role != PUBLIC else (requests.Session(), "")
        response = session.request(
            method, target.base_url + path, json=body, headers={"X-CSRF-Token": token}, timeout=30
        )
        error = response.json()
        if response.status_code != status or set(error) != {"error_id", "message", "details"}:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
    return wrong


async def test_inputs_that_once_crashed_get_clear_errors(target: Target) -> None:
    """The cases behind the fixed 500s, sent as they were found: each gets its 4xx and the error shape."""
    assert await asyncio.to_thread(send_once_crashed, target) == []


#: Tables written while the test runs by something else than the requests: the session's last
#: use (idle timeout), and the facts writer's minutely refresh of open agent sessions (the
#: logged-in agent's staffed time, and its rollups). A CI run saw that refresh land between two
#: refused requests.
VOLATILE_TABLES = frozenset({"user_sessions", "agent_sessions", "interval_rollups"})


async def snapshot(pool: Any, app: web.Application) -> dict[str, Any]:
    """Every table's rows (as one digest per table, volatile ones left out) and the live calls:
    the agents' states and the callers waiting in the ACD."""
    from callcenter.web.agents_api import ACD_SERVICE

    tables = [
        r["tablename"]
        for r in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        if r["tablename"] not in VOLATILE_TABLES
    ]
    digests = " UNION ALL ".join(
        f"SELECT '{name}', md5(coalesce(string_agg(md5(t::text), ',' ORDER BY md5(t::text)), '')) FROM \"{name}\" t"
        for name in tables
    )
    found: dict[str, Any] = dict(await pool.fetch(digests)) if tables else {}
    acd = app[ACD_SERVICE]
    now = acd.clock()
    found["acd agents"] = sorted(
        (v.agent_id, v.state.value, v.reason, v.call_id) for v in acd.state.agents(now)
    )
    found["acd callers"] = sorted(
        (v.call_id, v.queue, v.priority, v.status)
        for q in acd.state.config.queues
        for v in acd.state.waiting(q, now)
    )
    return found


def refused_cases_change_nothing(document: dict[str, Any], target: Target) -> tuple[int, list[str]]:
    """Send every operation's negative cases; each refused one (4xx) must leave the database and
    the live calls as they were. (Cases refused, changes found.)"""
    schema = schemathesis.openapi.from_dict(document)
    changes: list[str] = []
    sent = 0
    for method, path, role in operations(document):
        if (method, path) in SESSION_ENDING or (method, path) in LAST:
            continue  # they end the session the other cases use; their refusals are checked above
        sent += refused_cases_of(schema, target, method, path, role, changes)
    return sent, changes


def refused_cases_of(
    schema: Any, target: Target, method: str, path: str, role: str, changes: list[str]
) -> int:
    """One operation's negative cases, each followed by a snapshot (see above); cases refused."""
    operation = schema[path][method]
    session, token = (None, "") if role == PUBLIC else target.session(role)
    before = target.state()
    sent = 0

    @hypothesis.given(
        case=operation.as_strategy(
            generation_mode=GenerationMode.NEGATIVE,
            path_parameters=real_path_values(path, target.records) or None,
        )
    )
    @hypothesis.settings(
        max_examples=REFUSED_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: schemathesis.Case) -> None:
        nonlocal before, sent
        response, _ = send_case(case, target, session, token)
        sent += 400 <= response.status_code < 500
        after = target.state()
        if 400 <= response.status_code < 500 and after != before:
            changed = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
            changes.append(
                f"{method} {path} answered {response.status_code} but changed {changed}: {case.as_curl_command()}"
            )
        before = after

    try:
        send()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to break in this operation
    return sent


#: Negative cases per operation in the no-effect test (each costs a snapshot of every table).
REFUSED_EXAMPLES = 8


async def test_refused_requests_change_no_record_and_no_call(target: Target, db_pool: Any) -> None:
    """Bad input touches nothing: every generated invalid request the app refuses leaves every
    table (but the session and sign-in bookkeeping) and the ACD's agents and waiting callers as
    they were, with calls in the ACD while it runs."""
    from callcenter.services.acd import OfferInfo
    from callcenter.web.agents_api import ACD_SERVICE

    acd = target.app[ACD_SERVICE]
    acd.login("op103")
    acd.pause("op103", acd.settings.pause_reasons[0])
    acd.join("fuzz-waiting-1", "general", OfferInfo("fuzz-waiting-1", "fuzz-waiting-1", None, "uk", "106"))
    assert (await asyncio.to_thread(target.state))["acd callers"], "a caller waits while the requests run"
    sent, changes = 0, []
    for _, document in sorted(all_documents().items()):
        n, found = await asyncio.to_thread(refused_cases_change_nothing, document, target)
        sent, changes = sent + n, changes + found
    assert sent > 300, f"only {sent} generated requests were refused"
    assert changes == [], "\n".join(changes)
    # The snapshot sees a change of either kind, so the check above can fail.
    before = await asyncio.to_thread(target.state)
    await db_pool.execute("UPDATE appeals SET dnid = '0800000000' WHERE linkedid = 'S-3'")
    acd.leave("fuzz-waiting-1")
    after = await asyncio.to_thread(target.state)
    assert after["appeals"] != before["appeals"] and after["acd callers"] != before["acd callers"]
