"""Sign-in, sign-out, "who am I", the login/account pages, and ``setup_auth``, which installs
the whole security layer (middlewares, these routes, ``auth_admin``'s, the session purge).

``POST /api/login`` is where the login rules live: JSON only; the same answer (401
``bad_credentials``) for an unknown login, a wrong password and a disabled account, with an
argon2 verification spent in every case so timing tells nothing either; failures counted per
login and per address (429 with ``Retry-After``); a brand-new session on success (any session
the browser had is deleted first: rotation); the hash renewed when the parameters changed.
Every sign-in, failure and sign-out is written to the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from callcenter.errors import ValidationError
from callcenter.logs import get_logger
from callcenter.storage.audit import record_audit
from callcenter.storage.users import (
    create_session,
    delete_session,
    find_login,
    hash_token,
    purge_expired_sessions,
    set_password_hash,
)
from callcenter.web import auth_admin
from callcenter.web.auth import (
    AUTH,
    SESSION_COOKIE,
    AuthConfig,
    AuthState,
    auth_middleware,
    clear_session_cookies,
    current_session,
    mask_address,
    public,
    signed_in,
    user_json,
)
from callcenter.web.auth_pages import render_account, render_login, static_file
from callcenter.web.auth_passwords import MAX_PASSWORD_LENGTH
from callcenter.web.csrf import CSRF_COOKIE, TRUSTED_ORIGINS, csrf_middleware
from callcenter.web.errors import error_middleware, error_response
from callcenter.web.keys import DB_POOL

__all__ = ["routes", "setup_auth"]

log = get_logger(__name__)

routes = web.RouteTableDef()

_BAD_CREDENTIALS = "wrong login or password"

#: Longest login text kept in the audit trail for a failed attempt (attackers send anything).
_MAX_AUDITED_LOGIN = 64


def setup_auth(
    app: web.Application, config: AuthConfig | None = None, *, state: AuthState | None = None
) -> AuthState:
    """Install the error, auth and CSRF middlewares (outermost first) and the auth routes.

    Call it right after creating the application, before other middlewares, so that errors
    from every layer come out as JSON and no route escapes the access check.
    """
    state = state or AuthState.create(config)
    app[AUTH] = state
    app[TRUSTED_ORIGINS] = frozenset(state.config.trusted_origins)
    app.middlewares.extend([error_middleware, auth_middleware, csrf_middleware])
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_session_purger)
    app.add_routes(routes)
    app.add_routes(auth_admin.routes)
    return state


async def _session_purger(app: web.Application) -> AsyncIterator[None]:
    """Delete expired sessions every ``session_purge_interval_s`` (expired ones are refused anyway)."""

    async def loop() -> None:
        while True:
            state = app[AUTH]
            await asyncio.sleep(state.config.session_purge_interval_s)
            try:
                purged = await purge_expired_sessions(
                    app[DB_POOL],
                    now=state.now(),
                    idle_timeout=state.config.idle_timeout,
                    lifetime=state.config.session_lifetime,
                )
            except Exception as exc:  # a failed purge must not end the loop; next round retries
                log.warning("session_purge_failed", error=type(exc).__name__)
            else:
                if purged:
                    log.info("sessions_purged", count=purged)

    task = asyncio.create_task(loop(), name="session-purge") if DB_POOL in app else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # Cheap defaults for every response: no MIME sniffing, no framing by other sites, and a
    # Referer only to ourselves (which the CSRF check reads when Origin is absent).
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


def _address(request: web.Request) -> str:
    # The peer address. Behind a reverse proxy this is the proxy; trusting X-Forwarded-For
    # needs a configured list of proxies (not there yet), else anyone could forge it.
    return request.remote or ""


def _set_session_cookies(response: web.StreamResponse, config: AuthConfig, token: str, csrf: str) -> None:
    max_age = int(config.session_lifetime.total_seconds())
    # SameSite=Lax for every role: links into the app (an appeal in an e-mail) keep working,
    # and cross-site state changes are stopped by the CSRF token and Origin check anyway.
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=config.cookie_secure,
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        path="/",
        httponly=False,
        samesite="Strict",
        secure=config.cookie_secure,
    )


async def _credentials(request: web.Request) -> tuple[str, str]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the credentials as application/json")
    try:
        body = await request.json()
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ValidationError("expected an object with login and password")
    login, password = body.get("login"), body.get("password")
    if not isinstance(login, str) or not login.strip():
        raise ValidationError("login is required", field="login")
    if not isinstance(password, str) or not password:
        raise ValidationError("password is required", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("that is not a password", field="password")
    return login.strip().lower(), password


@routes.post("/api/login")
@public
async def login(request: web.Request) -> web.Response:
    """Check the credentials and start a new session (cookies ``cc_session`` and ``cc_csrf``)."""
    state = request.app[AUTH]
    pool = request.app[DB_POOL]
    login_name, password = await _credentials(request)
    address = _address(request)
    audited_login = login_name[:_MAX_AUDITED_LOGIN]
    retry_after = state.throttle.retry_after(login_name, address, state.monotonic())
    if retry_after is not None:
        log.warning("login_throttled", login=audited_login, address=mask_address(address))
        return error_response(
            429,
            "too_many_attempts",
            "too many failed sign-ins; try again later",
            {"retry_after_s": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    found = await find_login(pool, login_name)
    if found is None:
        await state.hasher.burn(password)
        reason = "unknown_login"
    else:
        user, stored_hash = found
        verdict = await state.hasher.verify(stored_hash, password)
        reason = "wrong_password" if not verdict.ok else "disabled" if user.disabled else ""
    if found is None or reason:
        state.throttle.failed(login_name, address, state.monotonic())
        await record_audit(
            pool, audited_login, "auth.login_failed", audited_login, {"reason": reason, "address": address}
        )
        log.info("login_failed", login=audited_login, reason=reason, address=mask_address(address))
        return error_response(401, "bad_credentials", _BAD_CREDENTIALS)

    state.throttle.succeeded(login_name)
    now: datetime = state.now()
    async with pool.acquire() as conn, conn.transaction():
        if verdict.needs_rehash:
            await set_password_hash(conn, user.id, await state.hasher.hash(password), end_sessions=False)
        # Rotation: whatever session this browser had is gone; the new one has a fresh token.
        old_token = request.cookies.get(SESSION_COOKIE)
        if old_token:
            await delete_session(conn, hash_token(old_token))
        token, session = await create_session(conn, user, now=now, client_addr=address)
        await record_audit(
            conn, user.login, "auth.login", user.login, {"address": address, "rehashed": verdict.needs_rehash}
        )
    log.info("login", login=user.login, role=user.role.value, address=mask_address(address))
    response = web.json_response({"user": user_json(user), "csrf_token": session.csrf_token})
    _set_session_cookies(response, state.config, token, session.csrf_token)
    return response


@routes.post("/api/logout")
@signed_in
async def logout(request: web.Request) -> web.Response:
    """End this browser's session."""
    session = current_session(request)
    pool = request.app[DB_POOL]
    async with pool.acquire() as conn, conn.transaction():
        await delete_session(conn, session.token_hash)
        await record_audit(conn, session.user.login, "auth.logout", session.user.login, {})
    response = web.json_response({"signed_out": True})
    clear_session_cookies(response)
    return response


@routes.get("/api/me")
@signed_in
async def me(request: web.Request) -> web.Response:
    """The signed-in user and the CSRF token their page sends with state-changing requests."""
    session = current_session(request)
    return web.json_response({"user": user_json(session.user), "csrf_token": session.csrf_token})


@routes.get("/login")
@public
async def login_page(request: web.Request) -> web.Response:
    """The login page (Ukrainian; ``?lang=en`` for English)."""
    return render_login(request)


@routes.get("/account")
@signed_in
async def account_page(request: web.Request) -> web.Response:
    """Who is signed in, with which role, and the sign-out button."""
    session = current_session(request)
    return render_account(request, session.user, session.csrf_token)


@routes.get("/static/auth/{name}")
@public
async def login_asset(request: web.Request) -> web.Response:
    """The login page's stylesheet and script."""
    return static_file(request.match_info["name"])
