"""Who may call which route: access declarations, the session middleware, ``current_user``.

Every handler says who may call it, next to its definition::

    @routes.get("/api/queues")
    @requires(Role.SUPERVISOR)           # supervisors and admins
    async def queues(request: web.Request) -> web.Response:
        user = current_user(request)
        ...

    @routes.get("/healthz")
    @public
    async def healthz(request): ...

``requires(*roles)`` opens a route to users holding any of the roles, through the hierarchy
(admin ⊇ supervisor ⊇ agent; ``authority`` apart); ``signed_in`` opens it to every role;
``public`` to everyone. A route that declares nothing is refused to everyone, admins included
(fail closed), and the route-table test names it. Static folders are declared with
``add_static(app, prefix, path, access)``.

The middleware reads the ``cc_session`` cookie, loads the server-side session
(``callcenter.storage.users``), and answers 401 without a session (a redirect to the login
page for a browser asking for a page), 403 with a role that is not enough. Cookie settings,
session lifetimes and login limits come in ``AuthConfig``; its ``DEFAULT_*`` constants stand
until ``callcenter.config`` gets an ``[auth]`` section.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from callcenter.logs import get_logger
from callcenter.storage.users import Role, Session, User, load_session
from callcenter.web.auth_passwords import DEFAULT_PARAMETERS, HashParameters, PasswordHasher
from callcenter.web.auth_ratelimit import LoginLimits, LoginThrottle
from callcenter.web.csrf import CSRF_COOKIE, CSRF_TOKEN
from callcenter.web.errors import error_response, wants_json
from callcenter.web.keys import DB_POOL

__all__ = [
    "ACCESS_ATTRIBUTE",
    "AUTH",
    "DEFAULT_COOKIE_SECURE",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_SESSION_LIFETIME",
    "DEFAULT_SESSION_PURGE_INTERVAL_S",
    "LOGIN_PAGE",
    "SESSION",
    "SESSION_COOKIE",
    "Access",
    "AuthConfig",
    "AuthState",
    "Role",
    "User",
    "access_of",
    "add_static",
    "auth_middleware",
    "clear_session_cookies",
    "current_session",
    "current_user",
    "mark_public",
    "mask_address",
    "public",
    "requires",
    "route_access",
    "signed_in",
    "user_json",
]

log = get_logger(__name__)

SESSION_COOKIE = "cc_session"
LOGIN_PAGE = "/login"

#: Until config.py has an [auth] section: send cookies over plain HTTP too (set True behind TLS).
DEFAULT_COOKIE_SECURE = False
#: A session ends after this long without a request (a quiet hour on a night shift)...
DEFAULT_IDLE_TIMEOUT = timedelta(hours=1)
#: ...and this long after signing in, whatever happens (a long shift).
DEFAULT_SESSION_LIFETIME = timedelta(hours=12)
#: Expired session rows are deleted this often (they are refused on sight in between).
DEFAULT_SESSION_PURGE_INTERVAL_S = 600.0

ACCESS_ATTRIBUTE = "__callcenter_access__"

H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Access:
    """Who may call a route: everyone (``public``) or users holding one of ``roles``."""

    public: bool = False
    roles: frozenset[Role] = frozenset()

    def allows(self, user: User) -> bool:
        """True when ``user`` holds (directly or through the hierarchy) one of the roles."""
        return any(user.has_role(role) for role in self.roles)

    def describe(self) -> str:
        return "public" if self.public else "roles: " + ", ".join(sorted(r.value for r in self.roles))


def _declare(handler: H, access: Access) -> H:
    existing = getattr(handler, ACCESS_ATTRIBUTE, None)
    if existing is not None and existing != access:
        raise TypeError(f"{handler!r} already declares {existing.describe()}")
    setattr(handler, ACCESS_ATTRIBUTE, access)
    return handler


def public(handler: H) -> H:
    """Declare a handler open to everyone, signed in or not."""
    return _declare(handler, Access(public=True))


def requires(*roles: Role) -> Callable[[H], H]:
    """Declare a handler open to users holding any of ``roles`` (through the hierarchy)."""
    if not roles:
        raise TypeError("requires() needs at least one role; use @public for open routes")
    access = Access(roles=frozenset(roles))
    return lambda handler: _declare(handler, access)


def mark_public(*handlers: Any) -> None:
    """Declare handlers of modules that cannot use the decorator (or predate it) as public."""
    for handler in handlers:
        _declare(handler, Access(public=True))


def signed_in(handler: H) -> H:
    """Declare a handler open to every signed-in user, whatever the role."""
    return _declare(handler, Access(roles=frozenset(Role)))


def access_of(handler: Any) -> Access | None:
    """The access a handler (function or class-based view) declares, or None."""
    access = getattr(handler, ACCESS_ATTRIBUTE, None)
    return access if isinstance(access, Access) else None


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Settings of the auth layer (to move into ``callcenter.config`` as ``[auth]``)."""

    cookie_secure: bool = DEFAULT_COOKIE_SECURE
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT
    session_lifetime: timedelta = DEFAULT_SESSION_LIFETIME
    session_purge_interval_s: float = DEFAULT_SESSION_PURGE_INTERVAL_S
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    hash_parameters: HashParameters = DEFAULT_PARAMETERS
    #: Origins besides our own host allowed to send state-changing requests and open sockets.
    trusted_origins: tuple[str, ...] = ()


@dataclass
class AuthState:
    """The auth layer's per-application state: config, hasher, throttle and clocks."""

    config: AuthConfig
    hasher: PasswordHasher
    throttle: LoginThrottle
    #: Wall clock for session expiry (tests move it forward).
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Monotonic clock for the login rate limiter.
    monotonic: Callable[[], float] = field(default=time.monotonic)
    static_access: dict[Any, Access] = field(default_factory=dict)

    @classmethod
    def create(cls, config: AuthConfig | None = None) -> AuthState:
        config = config or AuthConfig()
        return cls(config, PasswordHasher(config.hash_parameters), LoginThrottle(config.login_limits))


AUTH: web.AppKey[AuthState] = web.AppKey("cc_auth", AuthState)
#: The signed-in session, when the request carried a live one.
SESSION: web.RequestKey[Session] = web.RequestKey("cc_session", Session)


def add_static(app: web.Application, prefix: str, path: Path, access: Access) -> None:
    """Serve a folder under ``prefix`` with the given access (static routes have no decorator)."""
    resource = app.router.add_static(prefix, path, follow_symlinks=False)
    app[AUTH].static_access[resource] = access


def route_access(app: web.Application, route: web.AbstractRoute) -> Access | None:
    """The access a route of ``app`` declares (handler attribute or static declaration)."""
    access = access_of(route.handler)
    if access is None and route.resource is not None:
        access = app[AUTH].static_access.get(route.resource)
    return access


def current_session(request: web.Request) -> Session:
    """The request's session; only on routes that require a role (else 401)."""
    if SESSION not in request:
        raise web.HTTPUnauthorized(text="not signed in")
    return request[SESSION]


def current_user(request: web.Request) -> User:
    """The signed-in user of a request to a protected route."""
    return current_session(request).user


def mask_address(address: str) -> str:
    """A client address fit for a log line: the host part hidden (``10.1.2.x``, ``2001:db8:1::x``)."""
    if "." in address and ":" not in address:
        return ".".join([*address.split(".")[:3], "x"])
    if ":" in address:
        return ":".join(address.split(":")[:3]) + "::x"
    return "x" if address else ""


def clear_session_cookies(response: web.StreamResponse) -> None:
    """Tell the browser to forget its session and CSRF cookies."""
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _unauthenticated(request: web.Request, had_cookie: bool) -> web.StreamResponse:
    response: web.StreamResponse
    if request.method in {"GET", "HEAD"} and not wants_json(request):
        target = request.rel_url.path_qs
        # A plain 302 response (returning an HTTPException instance is deprecated in aiohttp).
        response = web.Response(
            status=302, headers={"Location": f"{LOGIN_PAGE}?next={quote(target, safe='')}"}
        )
    else:
        response = error_response(401, "not_signed_in", "sign in first")
    if had_cookie:
        clear_session_cookies(response)
    return response


async def _session_for(request: web.Request, state: AuthState) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await load_session(
        request.app[DB_POOL],
        token,
        now=state.now(),
        idle_timeout=state.config.idle_timeout,
        lifetime=state.config.session_lifetime,
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session and enforce the route's declared access (none declared: refused)."""
    match = request.match_info
    if match.http_exception is not None:
        return await handler(request)  # unknown path or method: let aiohttp answer 404/405
    state = request.app[AUTH]
    access = route_access(request.app, match.route)
    session = await _session_for(request, state)
    if session is not None:
        request[SESSION] = session
    if access is None:
        log.error(
            "route_declares_no_access", route=match.route.resource.canonical if match.route.resource else ""
        )
        return error_response(403, "no_access_declared", "this route declares no access and is closed")
    if access.public:
        return await handler(request)
    if session is None:
        return _unauthenticated(request, had_cookie=SESSION_COOKIE in request.cookies)
    if not access.allows(session.user):
        return error_response(
            403, "forbidden", "your role does not allow this", {"role": session.user.role.value}
        )
    request[CSRF_TOKEN] = session.csrf_token
    return await handler(request)


def user_json(user: User) -> Mapping[str, Any]:
    """The public view of a user, for API answers."""
    return {
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "role": user.role.value,
        "authority_id": user.authority_id,
    }
