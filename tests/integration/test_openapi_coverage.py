"""Every ``/api/`` route of the full application is in an OpenAPI document, and every documented
operation is a route, with the roles its ``x-roles`` names being the roles the route declares.

The documents are ``callcenter/web/openapi.yaml`` (the appeals API, served at
``/api/openapi.yaml``) and one ``openapi_<area>.yaml`` per other area beside it. An area file
holds its own paths and components and refers to ``openapi.yaml``'s shared ones (``Error``,
``CsrfToken``, the common responses …); ``area_document`` merges the two into one complete
OpenAPI document for that area. ``tests/integration/test_schemathesis_api.py`` loads the same
documents and fuzzes the app with them. The app is built as ``callcenter serve`` builds it
(``start_runtime`` + ``start_call_handling``), so a route any feature adds later is caught.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from callcenter.app import Database, start_runtime
from callcenter.bootstrap import start_call_handling
from callcenter.config import load_settings
from callcenter.storage.users import Role
from callcenter.web.auth import AUTH, route_access
from callcenter.web.auth_passwords import FAST_TEST_PARAMETERS, PasswordHasher

REPO_ROOT = Path(__file__).resolve().parents[2]
BASE = "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch")
#: ``x-roles`` of a route anyone may call.
PUBLIC = "public"


def _load(name: str) -> dict[str, Any]:
    text = (resources.files("callcenter.web") / name).read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def area_names() -> list[str]:
    """The area documents beside ``openapi.yaml`` (``openapi_<area>.yaml``), sorted."""
    folder = resources.files("callcenter.web")
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith("openapi_") and p.name.endswith(".yaml")
    )


def area_document(name: str) -> dict[str, Any]:
    """One complete document: ``openapi.yaml``'s shared parts with only the area's paths."""
    if name == BASE:
        return _load(BASE)
    base, area = _load(BASE), _load(name)
    document = copy.deepcopy(base)
    document["info"] = area["info"]
    document["tags"] = area.get("tags", [])
    document["paths"] = area["paths"]
    for section, items in area.get("components", {}).items():
        target = document["components"].setdefault(section, {})
        clash = set(items) & set(target)
        assert not clash, f"{name} redefines {section} {sorted(clash)} of openapi.yaml"
        target.update(items)
    return document


def all_documents() -> dict[str, dict[str, Any]]:
    """File name → complete document, for ``openapi.yaml`` and every area file."""
    return {name: area_document(name) for name in [BASE, *area_names()]}


def documented_operations() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(METHOD, path) → (document name, operation) over every document; a repeat is an error."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for name, document in all_documents().items():
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    key = (method.upper(), path)
                    assert key not in found, f"{key} is in both {found[key][0]} and {name}"
                    found[key] = (name, item[method])
    return found


def app_settings(tmp: Path) -> Any:
    """Settings of the full app for tests: no AMI, no prompt rendering, every writable folder in ``tmp``.

    The queue files are a copy, since an admin's ``PUT /api/admin/queue-config/{file}`` writes them.
    """
    queue = tmp / "queue"
    if not queue.exists():
        shutil.copytree(REPO_ROOT / "queue", queue)
    return load_settings(
        environ={"CALLCENTER_CONFIG": "/dev/null"},
        overrides={
            "ami.enabled": "false",
            "ivr.prerender_prompts": "false",
            "paths.flows_dir": str(REPO_ROOT / "ivr_flows"),
            "paths.queue_dir": str(queue),
            "paths.recordings_dir": str(tmp / "recordings"),
            "paths.sounds_dir": str(tmp / "sounds"),
            "paths.spool_dir": str(tmp / "spool"),
        },
    )


@contextlib.asynccontextmanager
async def full_app(db_pool: Any, tmp: Path) -> AsyncIterator[web.Application]:
    """The complete application as ``callcenter serve`` builds it, with cheap password hashes."""
    async with contextlib.AsyncExitStack() as stack:
        runtime = await start_runtime(app_settings(tmp), Database(pool=db_pool, dsn=""), stack)
        await start_call_handling(runtime, stack)
        runtime.web_app[AUTH].hasher = PasswordHasher(FAST_TEST_PARAMETERS)
        yield runtime.web_app


def api_routes(app: web.Application) -> dict[tuple[str, str], list[str]]:
    """(METHOD, path template) → the roles it declares (``["public"]``) for every ``/api/`` route."""
    found = {}
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or not canonical.startswith("/api/"):
            continue
        access = route_access(app, route)
        assert access is not None, f"{route.method} {canonical} declares no access"
        roles = [PUBLIC] if access.public else sorted(role.value for role in access.roles)
        found[(route.method, canonical)] = roles
    return found


async def test_every_api_route_is_documented_and_every_operation_is_a_route(
    db_pool: Any, tmp_path: Path
) -> None:
    """The app's ``/api/`` routes and the documents' operations are the same set."""
    async with full_app(db_pool, tmp_path) as app:
        routes = api_routes(app)
    documented = documented_operations()
    missing = sorted(f"{m} {p}" for m, p in set(routes) - set(documented))
    stale = sorted(f"{m} {p} ({documented[(m, p)][0]})" for m, p in set(documented) - set(routes))
    assert missing == [], f"routes in no OpenAPI document: {missing}"
    assert stale == [], f"documented operations the app does not serve: {stale}"
    assert len(routes) >= 70


async def test_every_operation_names_the_roles_its_route_declares(db_pool: Any, tmp_path: Path) -> None:
    """``x-roles`` of each operation is the route's declared roles (``[public]`` for public ones)."""
    async with full_app(db_pool, tmp_path) as app:
        routes = api_routes(app)
    wrong = []
    for key, (name, operation) in documented_operations().items():
        declared = sorted(operation.get("x-roles", []))
        if key in routes and declared != routes[key]:
            wrong.append(f"{key[0]} {key[1]} in {name}: x-roles {declared}, route {routes[key]}")
    assert wrong == []
    assert {r.value for r in Role} <= {role for roles in routes.values() for role in roles}


def test_each_document_is_complete_and_uses_the_error_shape() -> None:
    """Each merged document resolves every local reference, and every error answer is ``Error``."""
    for name, document in all_documents().items():
        assert document["openapi"].startswith("3.1."), name
        for ref in _refs(document):
            target: Any = document
            for part in ref.removeprefix("#/").split("/"):
                assert isinstance(target, dict) and part in target, f"{name}: {ref} does not resolve"
                target = target[part]
        for path, item in document["paths"].items():
            for method in METHODS:
                if method not in item:
                    continue
                operation = item[method]
                assert operation.get("operationId"), f"{name}: {method} {path} has no operationId"
                for status, response in operation["responses"].items():
                    if int(status) < 400:
                        continue
                    # An error with a body is the Error shape, as JSON (a 416 of a range has none).
                    content = _resolve(document, response).get("content")
                    if content is None and status == "416":
                        continue
                    assert content == {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    }, f"{name}: {method} {path} answers {status} without the Error shape"


def test_a_route_missing_from_the_documents_is_reported() -> None:
    """The coverage comparison finds a route nobody documented (the check itself can fail)."""
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_get("/api/nobody-documented-this", handler)
    documented = documented_operations()
    served = {
        (r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD" and r.resource
    }
    assert served - set(documented) == {("GET", "/api/nobody-documented-this")}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
