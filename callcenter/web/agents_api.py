"""REST for agents' states, queue figures, callbacks and the ACD configuration files.

An agent is the signed-in user whose login is the agent's id in ``queue/agents.yaml``; agents
log themselves in, pause (with a reason from ``AcdSettings.pause_reasons``), come back and log
out; supervisors see every agent, pause or log one out, see pending callbacks and take one
out of the automatic queue to handle it by hand; admins read and change ``queue/*.yaml``.
Supervisors' and admins' changes are written to the audit trail with their login as actor.

The composition root sets ``app[ACD_SERVICE]`` and ``app[QUEUE_CONFIG]`` and adds ``routes``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from aiohttp import web

from callcenter.acd.model import AgentState
from callcenter.errors import ConfigError, ValidationError
from callcenter.services.acd import AcdService
from callcenter.services.queue_config import QueueConfigStore
from callcenter.storage.audit import record_audit
from callcenter.storage.users import Role
from callcenter.web.auth import current_user, requires
from callcenter.web.errors import error_response
from callcenter.web.keys import DB_POOL

__all__ = ["ACD_SERVICE", "QUEUE_CONFIG", "config_errors", "routes"]

#: The running ACD service.
ACD_SERVICE: web.AppKey[AcdService] = web.AppKey("acd_service", AcdService)
#: The ``queue/*.yaml`` store the admin endpoints read and change.
QUEUE_CONFIG: web.AppKey[QueueConfigStore] = web.AppKey("queue_config", QueueConfigStore)

routes = web.RouteTableDef()

_PROBLEM = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+):\s*(?P<message>.*)$", re.S)


def config_errors(problems: list[str]) -> list[dict[str, Any]]:
    """``file:line:column: message`` lines as objects (a problem without a place keeps only the file)."""
    out: list[dict[str, Any]] = []
    for problem in problems:
        match = _PROBLEM.match(problem)
        if match:
            out.append(
                {
                    "file": match["file"].rsplit("/", 1)[-1],
                    "line": int(match["line"]),
                    "column": int(match["column"]),
                    "message": match["message"],
                }
            )
        else:
            file, _, message = problem.partition(": ")
            out.append(
                {"file": file.rsplit("/", 1)[-1], "line": None, "column": None, "message": message or problem}
            )
    return out


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the body must be JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return body


def _agent_json(service: AcdService, agent_id: str) -> dict[str, Any]:
    for agent in service.snapshot()["agents"]:
        if agent["agent_id"] == agent_id:
            return dict(agent)
    raise ValidationError(f"unknown agent {agent_id!r}", field="agent_id")


async def _audit(request: web.Request, action: str, subject: str, details: dict[str, Any]) -> None:
    await record_audit(request.app[DB_POOL], current_user(request).login, action, subject, details)


# ---- the agent's own state ----------------------------------------------------------------------


def _me(request: web.Request) -> str:
    return current_user(request).login


@routes.get("/api/agents/me")
@requires(Role.AGENT)
async def me_state(request: web.Request) -> web.Response:
    """The signed-in agent's ACD state, pause reason, time in state and wrap-up time.

    ``wrap_up_s`` is the wrap-up time of the queue of the agent's last answered call
    (``last_queue``; None before the first call); during a wrap-up ``wrap_up_left_s`` is what is
    left of it, so a reloaded desk resumes the countdown. 404 when the user is no agent of
    ``queue/agents.yaml``.
    """
    service, agent_id = request.app[ACD_SERVICE], _me(request)
    if agent_id not in service.state.config.agents:
        return error_response(404, "not_an_agent", f"{agent_id} is not an agent of the queue files")
    agent = _agent_json(service, agent_id)
    wrap_up_s = service.wrap_up_s(agent_id)
    left = None
    if agent["state"] == AgentState.WRAP_UP.value and wrap_up_s is not None:
        left = round(max(0.0, wrap_up_s - agent["time_in_state_s"]), 1)
    agent.update(last_queue=service.last_queue.get(agent_id), wrap_up_s=wrap_up_s, wrap_up_left_s=left)
    return web.json_response({"agent": agent, "pause_reasons": list(service.settings.pause_reasons)})


@routes.post("/api/agents/me/login")
@requires(Role.AGENT)
async def me_login(request: web.Request) -> web.Response:
    """Log in to the queues (paused while the phone is unreachable)."""
    service = request.app[ACD_SERVICE]
    service.login(_me(request))
    return web.json_response({"agent": _agent_json(service, _me(request))})


@routes.post("/api/agents/me/pause")
@requires(Role.AGENT)
async def me_pause(request: web.Request) -> web.Response:
    """Pause with a reason from the configured list (busy: after the current call)."""
    service = request.app[ACD_SERVICE]
    reason = (await _body(request)).get("reason")
    if not isinstance(reason, str):
        raise ValidationError("a pause needs a reason", field="reason")
    service.pause(_me(request), reason)
    return web.json_response({"agent": _agent_json(service, _me(request))})


@routes.post("/api/agents/me/available")
@requires(Role.AGENT)
async def me_available(request: web.Request) -> web.Response:
    """Ready for calls again (ends a pause or the wrap-up)."""
    service = request.app[ACD_SERVICE]
    service.available(_me(request))
    return web.json_response({"agent": _agent_json(service, _me(request))})


@routes.post("/api/agents/me/logout")
@requires(Role.AGENT)
async def me_logout(request: web.Request) -> web.Response:
    """Log out (busy: after the current call)."""
    service = request.app[ACD_SERVICE]
    service.logout(_me(request))
    return web.json_response({"agent": _agent_json(service, _me(request))})


# ---- supervisors ----------------------------------------------------------------------------


@routes.get("/api/agents")
@requires(Role.SUPERVISOR)
async def list_agents(request: web.Request) -> web.Response:
    """Every agent with state, pause reason, time in state and calls today."""
    return web.json_response({"agents": request.app[ACD_SERVICE].snapshot()["agents"]})


@routes.post("/api/agents/{agent_id}/pause")
@requires(Role.SUPERVISOR)
async def agent_pause(request: web.Request) -> web.Response:
    """A supervisor pauses an agent (audited)."""
    service, agent_id = request.app[ACD_SERVICE], request.match_info["agent_id"]
    reason = (await _body(request)).get("reason")
    if not isinstance(reason, str):
        raise ValidationError("a pause needs a reason", field="reason")
    service.pause(agent_id, reason)
    await _audit(request, "agent.pause", agent_id, {"reason": reason})
    return web.json_response({"agent": _agent_json(service, agent_id)})


@routes.post("/api/agents/{agent_id}/logout")
@requires(Role.SUPERVISOR)
async def agent_logout(request: web.Request) -> web.Response:
    """A supervisor logs an agent out (audited)."""
    service, agent_id = request.app[ACD_SERVICE], request.match_info["agent_id"]
    service.logout(agent_id)
    await _audit(request, "agent.logout", agent_id, {})
    return web.json_response({"agent": _agent_json(service, agent_id)})


@routes.get("/api/queues")
@requires(Role.AGENT)
async def list_queues(request: web.Request) -> web.Response:
    """Live figures of every queue (waiting, longest wait, service level, EWT …)."""
    queues = request.app[ACD_SERVICE].snapshot()["queues"]
    return web.json_response({"queues": [dataclasses.asdict(stats) for stats in queues.values()]})


@routes.get("/api/callbacks")
@requires(Role.SUPERVISOR)
async def list_callbacks(request: web.Request) -> web.Response:
    """Callback requests not yet answered (numbers masked)."""
    return web.json_response({"callbacks": request.app[ACD_SERVICE].snapshot()["callbacks"]})


@routes.post("/api/callbacks/{call_id}/take")
@requires(Role.SUPERVISOR)
async def take_callback(request: web.Request) -> web.Response:
    """A supervisor takes a callback out of the queue to handle it; the number is given (audited)."""
    call_id = request.match_info["call_id"]
    contact = request.app[ACD_SERVICE].take_callback(call_id)
    await _audit(request, "callback.take", call_id, {"phone": contact})
    return web.json_response({"call_id": call_id, "contact": contact})


# ---- admins: queue/*.yaml ---------------------------------------------------------------------


@routes.get("/api/admin/queue-config")
@requires(Role.ADMIN)
async def get_queue_config(request: web.Request) -> web.Response:
    """The ACD files as text, and the errors of the last refused edit on disk (if any)."""
    store = request.app[QUEUE_CONFIG]
    return web.json_response({"files": store.files(), "refused_on_disk": config_errors(store.last_errors)})


@routes.put("/api/admin/queue-config/{file}")
@requires(Role.ADMIN)
async def put_queue_config(request: web.Request) -> web.Response:
    """Replace one file: validated with the others, then applied at once; 422 lists the errors."""
    store, name = request.app[QUEUE_CONFIG], request.match_info["file"]
    if request.content_type == "application/json":
        text = (await _body(request)).get("text")
        if not isinstance(text, str):
            raise ValidationError("the body needs the file's text", field="text")
    else:
        text = await request.text()
    try:
        loaded = store.put(name, text)
    except ConfigError as exc:
        return error_response(
            422, "invalid_config", "the configuration was refused", {"errors": config_errors(exc.problems)}
        )
    await _audit(request, "queue_config.update", name, {"queues": sorted(loaded.config.queues)})
    return web.json_response({"file": name, "queues": sorted(loaded.config.queues)})
