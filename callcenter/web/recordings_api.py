"""The recordings API: metadata, playback with HTTP ranges, download, flags, legal holds, retention.

Routes (who: the route's declared roles; the handler narrows with ``may_hear``/``may_download``):

* ``GET /api/recordings?linkedid=…|appeal=…`` — the recordings of a call or an appeal the user
  may hear (agents, supervisors, admins, authority representatives);
* ``GET /api/recordings/{id}/audio`` — the WAV for an ``<audio>`` element, with ``Range``
  support (206 + ``Content-Range``, ``Accept-Ranges: bytes``, 416 for a bad range) so the
  browser can seek;
* ``GET /api/recordings/{id}/download`` — the file as an attachment (supervisors and admins);
* ``GET /api/recordings/flagged`` — recordings with a problem (supervisors);
* ``GET|PUT /api/legal-holds/{id}`` — the appeal's legal hold (supervisors, admins);
* ``GET /api/admin/retention``, ``PUT /api/admin/retention/{queue}``,
  ``POST /api/admin/retention/run`` (``{"dry_run": true|false}``) — retention (admins);
* ``GET /static/recordings/{name}`` — the reusable player (``player.js``, ``player.css``);
* ``GET /recordings`` — the supervisors' page: Ukrainian, or English with ``?lang=en`` (the
  ``cc_lang`` cookie remembers it, as on the desk); its words are in ``recordings.i18n.json``.

Audit: every download (``recording.download``) and every refused attempt
(``recording.denied``) is one entry. A listen is ``recording.listen``; the browser fetches one
playback as many range requests while seeking, so one entry covers a user's requests for the
same recording within ``listen_window`` (every byte served is still covered by an entry).

Wiring: ``setup(app, RecordingsApi(...))``; ``register_metrics(call_metrics, service)`` adds
the disk and capture figures to ``/metrics``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from string import Template
from typing import Any
from uuid import UUID

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callcenter.appeals.model import Appeal
from callcenter.errors import StorageError, ValidationError
from callcenter.logs import get_logger
from callcenter.services.recordings import RecordingService, may_download, may_hear, resolve_recording
from callcenter.services.retention import RetentionJob
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.audit import fetch_audit, record_audit
from callcenter.storage.recordings import Recording, RecordingRepository, RecordingStatus, recording_subject
from callcenter.storage.users import Role, User
from callcenter.web.auth import current_user, public, requires
from callcenter.web.auth_pages import LANG_COOKIE, language_of, language_switch
from callcenter.web.errors import error_response
from callcenter.web.metrics import CallMetrics
from callcenter.web.static_files import asset_response, read_static

__all__ = [
    "RECORDINGS",
    "RecordingsApi",
    "RecordingsCollector",
    "recording_json",
    "register_metrics",
    "routes",
    "setup",
]

log = get_logger(__name__)

#: One ``recording.listen`` entry covers a user's playback requests of a recording this long.
DEFAULT_LISTEN_WINDOW = timedelta(minutes=5)
_STATIC = {
    "player.js": "text/javascript",
    "player.css": "text/css",
    "recordings_page.js": "text/javascript",
}
#: Personal data: never kept by a shared cache, never sniffed into something else.
_AUDIO_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class RecordingsApi:
    """What the routes need: the repositories, the recordings root, the retention job, clocks."""

    repository: RecordingRepository
    appeals: AppealRepository
    root: Path
    retention: RetentionJob
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Which ACD agent id a signed-in user is (default: the login, as on the agent desk).
    agent_id_of: Callable[[User], str] = field(default=lambda user: user.login)
    listen_window: timedelta = DEFAULT_LISTEN_WINDOW


RECORDINGS: web.AppKey[RecordingsApi] = web.AppKey("recordings_api", RecordingsApi)

routes = web.RouteTableDef()


def setup(app: web.Application, api: RecordingsApi) -> None:
    """Store the API's dependencies on ``app`` and add the routes."""
    app[RECORDINGS] = api
    app.add_routes(routes)


# -- views ----------------------------------------------------------------------------------------


def recording_json(recording: Recording, *, downloadable: bool) -> dict[str, Any]:
    """The metadata the pages show; the file's location on disk stays private."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    base = f"/api/recordings/{recording.id}"
    return {
        "id": recording.id,
        "linkedid": recording.linkedid,
        "leg": recording.leg,
        "appeal_id": str(recording.appeal_id) if recording.appeal_id else None,
        "queue": recording.queue,
        "agent": recording.agent,
        "bytes": recording.bytes,
        "duration_ms": recording.duration_ms,
        "sha256": recording.sha256,
        "status": recording.status.value,
        "problem": recording.problem,
        "flagged": recording.flagged,
        "started_at": iso(recording.started_at),
        "ended_at": iso(recording.ended_at),
        "deleted_at": iso(recording.deleted_at),
        "audio_url": f"{base}/audio" if recording.deleted_at is None else None,
        "download_url": f"{base}/download" if downloadable and recording.deleted_at is None else None,
    }


# -- helpers --------------------------------------------------------------------------------------


async def _appeal_of(api: RecordingsApi, recording: Recording) -> Appeal | None:
    if recording.appeal_id is not None:
        try:
            return await api.appeals.get(recording.appeal_id)
        except StorageError:
            return None  # the appeal row is gone; judge by the recording alone
    return await api.appeals.find_by_linkedid(recording.linkedid)


def _recording_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise ValidationError("id: a recording number", field="id")
    return int(raw)


async def _denied(api: RecordingsApi, user: User, what: str, subject: str, **details: Any) -> web.Response:
    await record_audit(
        api.repository.pool,
        user.login,
        "recording.denied",
        subject,
        {"what": what, "role": user.role.value, "at": api.now().isoformat(), **details},
    )
    log.warning("recording_access_denied", user=user.login, what=what, subject=subject)
    return error_response(403, "forbidden", "you may not hear this recording")


async def _load_for(
    request: web.Request, what: str
) -> tuple[RecordingsApi, User, Recording, Appeal | None] | web.Response:
    """The recording and its appeal for a user who may hear it, or the refusal to send."""
    api = request.app[RECORDINGS]
    user = current_user(request)
    recording = await api.repository.get(_recording_id(request))
    if recording is None:
        return error_response(404, "not_found", "no such recording")
    appeal = await _appeal_of(api, recording)
    allowed = may_hear(user, recording, appeal, agent_id=api.agent_id_of(user))
    if allowed and what == "download":
        allowed = may_download(user, recording, appeal)
    if not allowed:
        return await _denied(api, user, what, recording_subject(recording.id), linkedid=recording.linkedid)
    if recording.deleted_at is not None:
        return error_response(410, "deleted", "this recording was deleted under the retention rules")
    return api, user, recording, appeal


async def _listened_lately(api: RecordingsApi, user: User, subject: str, now: datetime) -> bool:
    """True when the user's last listen of ``subject`` is within the listen window.

    Judged by the ``at`` the entry carries (this API's clock), not the row's commit time.
    """
    entries = await fetch_audit(
        api.repository.pool, actor=user.login, action="recording.listen", subject=subject, limit=1
    )
    if not entries:
        return False
    last = entries[0]
    try:
        at = datetime.fromisoformat(str(last.details.get("at")))
    except ValueError:
        return False
    return timedelta(0) <= now - at < api.listen_window


def _file_of(api: RecordingsApi, recording: Recording) -> Path | None:
    try:
        path = resolve_recording(api.root, recording.path)
    except ValueError:
        return None
    return path if path.is_file() else None


def _file_response(path: Path, headers: Mapping[str, str]) -> web.FileResponse:
    # aiohttp's FileResponse answers Range requests itself: 206 with Content-Range for one
    # satisfiable range, 416 with "Content-Range: bytes */size" for an unsatisfiable or malformed
    # one, Accept-Ranges on every answer, If-Range and sendfile.
    return web.FileResponse(path, headers={**_AUDIO_HEADERS, "Content-Type": "audio/wav", **headers})


# -- recordings -----------------------------------------------------------------------------------


@routes.get("/api/recordings")
@requires(Role.AGENT, Role.AUTHORITY)
async def list_recordings(request: web.Request) -> web.Response:
    """The recordings of one call (``linkedid``) or one appeal (``appeal``) the user may hear."""
    api = request.app[RECORDINGS]
    user = current_user(request)
    linkedid = request.query.get("linkedid", "").strip()
    appeal_param = request.query.get("appeal", "").strip()
    if bool(linkedid) == bool(appeal_param):
        raise ValidationError("give exactly one of linkedid and appeal", field="linkedid")
    appeal: Appeal | None
    if appeal_param:
        try:
            appeal_id = UUID(appeal_param)
        except ValueError:
            raise ValidationError("appeal: an appeal id", field="appeal") from None
        try:
            appeal = await api.appeals.get(appeal_id)
        except StorageError:
            return error_response(404, "not_found", "no such appeal")
        found = await api.repository.for_appeal(appeal_id)
        subject = f"appeal:{appeal_id}"
    else:
        found = await api.repository.for_call(linkedid)
        appeal = await api.appeals.find_by_linkedid(linkedid)
        subject = f"call:{linkedid}"
    agent_id = api.agent_id_of(user)
    visible = [r for r in found if may_hear(user, r, appeal, agent_id=agent_id)]
    if found and not visible:
        return await _denied(api, user, "list", subject)
    body = [recording_json(r, downloadable=may_download(user, r, appeal)) for r in visible]
    return web.json_response({"recordings": body})


@routes.get("/api/recordings/flagged")
@requires(Role.SUPERVISOR)
async def flagged_recordings(request: web.Request) -> web.Response:
    """Recordings a supervisor should look at: missing, empty, broken or skipped."""
    api = request.app[RECORDINGS]
    raw = request.query.get("limit", "200")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ValidationError("limit: 1 to 1000", field="limit")
    rows = await api.repository.flagged(limit=int(raw))
    return web.json_response({"recordings": [recording_json(r, downloadable=True) for r in rows]})


@routes.get("/api/recordings/{id}/audio")
@requires(Role.AGENT, Role.AUTHORITY)
async def recording_audio(request: web.Request) -> web.StreamResponse:
    """The recording for the player; seekable through Range requests; audited as a listen."""
    loaded = await _load_for(request, "listen")
    if isinstance(loaded, web.Response):
        return loaded
    api, user, recording, _ = loaded
    path = _file_of(api, recording)
    if path is None:
        return error_response(404, "no_file", "the file of this recording is not available")
    now = api.now()
    subject = recording_subject(recording.id)
    if not await _listened_lately(api, user, subject, now):
        await record_audit(
            api.repository.pool,
            user.login,
            "recording.listen",
            subject,
            {
                "linkedid": recording.linkedid,
                "role": user.role.value,
                "at": now.isoformat(),
                "range": request.headers.get("Range"),
            },
        )
    return _file_response(path, {"Content-Disposition": "inline"})


@routes.get("/api/recordings/{id}/download")
@requires(Role.AGENT, Role.AUTHORITY)
async def recording_download(request: web.Request) -> web.StreamResponse:
    """The recording as a file to save (supervisors and admins); every download is audited."""
    loaded = await _load_for(request, "download")
    if isinstance(loaded, web.Response):
        return loaded
    api, user, recording, _ = loaded
    path = _file_of(api, recording)
    if path is None:
        return error_response(404, "no_file", "the file of this recording is not available")
    await record_audit(
        api.repository.pool,
        user.login,
        "recording.download",
        recording_subject(recording.id),
        {
            "linkedid": recording.linkedid,
            "sha256": recording.sha256,
            "role": user.role.value,
            "at": api.now().isoformat(),
        },
    )
    name = Path(recording.path).name
    return _file_response(path, {"Content-Disposition": f'attachment; filename="{name}"'})


# -- legal holds ----------------------------------------------------------------------------------


def _appeal_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["id"])
    except ValueError:
        raise ValidationError("id: an appeal id", field="id") from None


async def _hold_response(api: RecordingsApi, appeal_id: UUID) -> web.Response:
    hold = await api.repository.hold(appeal_id)
    if hold is None:
        return web.json_response({"appeal_id": str(appeal_id), "hold": False})
    return web.json_response(
        {
            "appeal_id": str(appeal_id),
            "hold": True,
            "reason": hold.reason,
            "set_by": hold.set_by,
            "set_at": hold.set_at.isoformat(),
        }
    )


@routes.get("/api/legal-holds/{id}")
@requires(Role.SUPERVISOR)
async def get_legal_hold(request: web.Request) -> web.Response:
    """Whether the appeal is under a legal hold, and why."""
    return await _hold_response(request.app[RECORDINGS], _appeal_id(request))


@routes.put("/api/legal-holds/{id}")
@requires(Role.SUPERVISOR)
async def put_legal_hold(request: web.Request) -> web.Response:
    """Set (``{"hold": true, "reason": "…"}``) or lift (``{"hold": false}``) the legal hold."""
    api = request.app[RECORDINGS]
    user = current_user(request)
    appeal_id = _appeal_id(request)
    body = await _json_object(request)
    hold = body.get("hold")
    if not isinstance(hold, bool):
        raise ValidationError("hold: true or false", field="hold")
    now = api.now()
    if hold:
        reason = body.get("reason")
        if not isinstance(reason, str):
            raise ValidationError("reason: why the recordings must be kept", field="reason")
        try:
            await api.repository.set_hold(appeal_id, reason=reason, actor=user.login, at=now)
        except StorageError:
            return error_response(404, "not_found", "no such appeal")
    else:
        await api.repository.release_hold(appeal_id, actor=user.login, at=now)
    return await _hold_response(api, appeal_id)


# -- retention ------------------------------------------------------------------------------------


async def _retention_response(api: RecordingsApi) -> web.Response:
    return web.json_response(
        {"default_days": api.retention.default_days, "queues": await api.repository.retention_days()}
    )


@routes.get("/api/admin/retention")
@requires(Role.ADMIN)
async def get_retention(request: web.Request) -> web.Response:
    """The default retention period and the queues' own periods, in days."""
    return await _retention_response(request.app[RECORDINGS])


@routes.post("/api/admin/retention/run")
@requires(Role.ADMIN)
async def run_retention(request: web.Request) -> web.Response:
    """Run the retention job now; ``{"dry_run": true}`` lists what would be deleted."""
    api = request.app[RECORDINGS]
    user = current_user(request)
    body = await _json_object(request)
    dry_run = body.get("dry_run")
    if not isinstance(dry_run, bool):
        raise ValidationError("dry_run: true or false (say it: deleting cannot be undone)", field="dry_run")
    report = await api.retention.run(api.now(), dry_run=dry_run, actor=user.login)
    await record_audit(
        api.repository.pool,
        user.login,
        "recording.retention_run",
        "recordings",
        {
            "dry_run": dry_run,
            "deleted": len(report.deleted),
            "kept_on_hold": report.kept_on_hold,
            "failed": len(report.failed),
        },
    )
    return web.json_response(
        {
            "dry_run": dry_run,
            "deleted": [recording_json(r, downloadable=False) for r in report.deleted],
            "kept_on_hold": report.kept_on_hold,
            "failed": [{"id": i, "error": e} for i, e in report.failed],
        }
    )


@routes.put("/api/admin/retention/{queue}")
@requires(Role.ADMIN)
async def put_retention(request: web.Request) -> web.Response:
    """Set a queue's retention period (``{"days": 90}``), or ``{"days": null}`` for the default."""
    api = request.app[RECORDINGS]
    user = current_user(request)
    body = await _json_object(request)
    days = body.get("days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
        raise ValidationError("days: a whole number of days, or null", field="days")
    await api.repository.set_retention(request.match_info["queue"], days, actor=user.login, at=api.now())
    return await _retention_response(api)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValidationError("the body must be a JSON object", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return body


# -- the player -----------------------------------------------------------------------------------


@routes.get("/static/recordings/{name}")
@public
async def player_asset(request: web.Request) -> web.Response:
    """The reusable player's script and stylesheet (the audio itself is protected)."""
    return asset_response(request.match_info["name"], _STATIC)


@cache
def _page_texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(read_static("recordings.i18n.json"))
    return texts


#: What ``recordings_page.js`` writes itself.
_SCRIPT_TEXTS = ("none", "load_failed", "datetime", *(f"status_{s.value}" for s in RecordingStatus))


@routes.get("/recordings")
@requires(Role.SUPERVISOR)
async def recordings_page(request: web.Request) -> web.Response:
    """The supervisors' page: play any call's or appeal's recordings; the flagged ones listed
    (Ukrainian; ``?lang=en``)."""
    lang = language_of(request)
    texts = _page_texts()[lang]
    other, switch_href = language_switch(request, lang)
    # The script's texts travel as JSON in a non-executable block; "<" is escaped so no text can
    # close the block.
    script_texts = json.dumps({k: texts[k] for k in _SCRIPT_TEXTS}, ensure_ascii=False).replace(
        "<", "\\u003c"
    )
    body = Template(read_static("recordings.html")).substitute(
        {key: html.escape(value) for key, value in texts.items()},
        lang=lang,
        other_lang_code=other,
        switch_href=html.escape(switch_href),
        texts_json=script_texts,
    )
    response = web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-cache"})
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


# -- metrics --------------------------------------------------------------------------------------


class RecordingsCollector(Collector):
    """Disk space under the recordings root (read at scrape time) and capture outcomes."""

    def __init__(self, service: RecordingService) -> None:
        self._service = service

    def collect(self) -> Iterable[Metric]:
        status = self._service.disk.read()
        free = GaugeMetricFamily("callcenter_recordings_disk_free_bytes", "Free bytes on the recordings disk")
        free.add_metric([], status.free_bytes)
        total = GaugeMetricFamily("callcenter_recordings_disk_total_bytes", "Size of the recordings disk")
        total.add_metric([], status.total_bytes)
        low = GaugeMetricFamily(
            "callcenter_recordings_disk_low",
            "1 when the recordings disk is below its free-space threshold (calls go unrecorded)",
        )
        low.add_metric([], 1.0 if status.low else 0.0)
        events = CounterMetricFamily(
            "callcenter_recordings_events",
            "Recordings started, skipped and finished by status",
            labels=["event"],
        )
        for event, n in sorted(self._service.counts.items()):
            events.add_metric([event], n)
        yield from (free, total, low, events)


def register_metrics(metrics: CallMetrics, service: RecordingService) -> None:
    """Add the recordings' figures to the process's ``/metrics``."""
    metrics.registry.register(RecordingsCollector(service))
