"""FlowService: which version of each IVR flow serves new calls, kept in step with the database
and with the files in ``ivr_flows/``.

At start it activates the versions the database marks active, then imports the flow files: a file
whose flow has no version yet, or whose text changed since it was last imported, is published
(author ``file:<path>``) when it is valid. While running it polls the folder (modification time,
then digest) and the active pointers in the database (another backend, or a rollback from the
API), so changes are picked up without a restart. An invalid text is never activated: its errors
are logged (files) or returned (API) and the previous version keeps serving.

``get(name)`` hands out the active ``Flow`` object. A call keeps the object it started with, so a
publish during the call changes nothing for it: calls in progress keep their version. The
prompts of every newly activated flow are synthesized in a worker thread in the background, so
the first caller does not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.acd.hours import ScheduleBook
from callcenter.acd.loader import ACD_FILES, load_acd_config
from callcenter.errors import ConfigError
from callcenter.ivr.library import FlowLibrary
from callcenter.ivr.model import Flow, FlowError, FlowInvalid
from callcenter.ivr.validate import ValidationContext, check_flow
from callcenter.logs import get_logger
from callcenter.storage import flows as store

if TYPE_CHECKING:
    from callcenter.config import Settings
    from callcenter.prompts import PromptSynthesizer

__all__ = ["DEFAULT_POLL_INTERVAL_S", "FlowService", "FlowSetup", "load_flow_setup"]

log = get_logger(__name__)

#: How often the folder and the database are looked at for new versions.
DEFAULT_POLL_INTERVAL_S = 2.0


@dataclass(frozen=True)
class FlowSetup:
    """What flows are checked against (queues, skills, schedules) and the schedules themselves."""

    context: ValidationContext
    schedules: ScheduleBook


def load_flow_setup(queue_dir: Path) -> FlowSetup:
    """The validation context from the ACD files in ``queue_dir``; ``ConfigError`` if they are unusable."""
    if not queue_dir.is_dir():
        raise ConfigError([f"{queue_dir}: the queue configuration folder does not exist"])
    texts: dict[str, str] = {}
    problems: list[str] = []
    for name in ACD_FILES:
        path = queue_dir / name
        try:
            texts[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
    if problems:
        raise ConfigError(problems)
    loaded = load_acd_config(texts)
    context = ValidationContext(
        queues=frozenset(loaded.config.queues),
        schedules=frozenset(loaded.schedules.schedules),
        skills=frozenset(loaded.config.skills),
    )
    return FlowSetup(context, loaded.schedules)


@dataclass
class _FileState:
    mtime_ns: int
    size: int
    digest: str


class FlowService:
    """Owns the ``FlowLibrary``; publishes, rolls back and hot-reloads flows."""

    def __init__(
        self,
        pool: Any,
        setup: FlowSetup,
        flows_dir: Path,
        *,
        synthesizer: PromptSynthesizer | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    ) -> None:
        self.pool = pool
        self.setup = setup
        self.flows_dir = flows_dir
        self.synthesizer = synthesizer
        self.poll_interval_s = poll_interval_s
        self.library = FlowLibrary(setup.context)
        self._versions: dict[str, int] = {}
        self._files: dict[Path, _FileState] = {}
        # Digests of file texts already refused, so an unchanged invalid file is logged once.
        self._refused: dict[Path, str] = {}
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self._renders: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(
        cls, settings: Settings, pool: Any, *, synthesizer: PromptSynthesizer | None = None
    ) -> FlowService:
        """The service for ``paths.flows_dir``, checked against the ACD files in ``paths.queue_dir``."""
        return cls(
            pool, load_flow_setup(settings.paths.queue_dir), settings.paths.flows_dir, synthesizer=synthesizer
        )

    # -- what calls use ------------------------------------------------------------------------
    def get(self, name: str) -> Flow | None:
        """The active version of a flow (the object a new call runs to its end)."""
        return self.library.get(name)

    @property
    def flows(self) -> Mapping[str, Flow]:
        """Every active flow, live (what ``FlowEnvironment.flows`` takes for ``goto``)."""
        return self.library.flows

    def version_of(self, name: str) -> int | None:
        """The version number of the active flow, if it came from the database."""
        return self._versions.get(name)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, *, poll: bool = True) -> None:
        """Activate the database's versions, import changed files, and start polling."""
        await self.load_active()
        await self.scan_files()
        if poll and self._poller is None:
            self._poller = asyncio.create_task(self._poll_loop(), name="flow-poll")

    async def stop(self) -> None:
        """Stop polling and wait for background prompt rendering to finish or be cancelled."""
        tasks = [t for t in (self._poller, *self._renders) if t is not None]
        self._poller = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self.poll_once()
            except Exception as exc:  # one failed round (database away) must not end hot reload
                log.warning("flow_poll_failed", error=f"{type(exc).__name__}: {exc}")

    async def poll_once(self) -> list[FlowError]:
        """One round of hot reload: database pointers, then files. Returns refused files' errors."""
        await self.load_active()
        return await self.scan_files()

    # -- validation and publishing -------------------------------------------------------------
    def _known_flows(self, *extra: str) -> frozenset[str]:
        stems = {p.stem for p in self.flows_dir.glob("*.yaml")} if self.flows_dir.is_dir() else set()
        return frozenset(self.library.flows) | stems | frozenset(self._versions) | set(extra)

    def check(
        self, name: str, source: str, filename: str | None = None
    ) -> tuple[Flow | None, list[FlowError]]:
        """Validate a flow text as ``name`` without activating it: the flow (when valid) and every error."""
        store.check_name(name)
        context = replace(self.setup.context, flows=self.setup.context.flows | self._known_flows(name))
        return check_flow(source, filename or f"{name}.yaml", context, name=name)

    def _activate(self, name: str, source: str, filename: str, version: int | None) -> list[FlowError]:
        previous = self.library.get(name)
        errors = self.library.load_text(name, source, filename, also_known=self._known_flows(name))
        if errors:
            return errors
        if version is not None:
            self._versions[name] = version
        flow = self.library.get(name)
        if flow is not None and (previous is None or previous.digest != flow.digest):
            log.info("flow_activated", flow=name, version=version, digest=flow.digest[:12])
            self._render(flow)
        return []

    async def publish(
        self, name: str, source: str, *, author: str, note: str = "", import_path: str | None = None
    ) -> store.FlowVersion:
        """Validate, store as the next version, and activate; ``FlowInvalid`` lists every error."""
        async with self._lock:
            flow, errors = self.check(name, source, import_path)
            if flow is None:
                raise FlowInvalid(errors)
            version = await store.publish_version(
                self.pool, name, source, author=author, note=note, import_path=import_path
            )
            self._activate(name, source, import_path or f"{name}.yaml", version.version)
        return version

    async def rollback(self, name: str, version: int, *, author: str, note: str = "") -> store.FlowVersion:
        """Publish a copy of an old version; refused (``FlowInvalid``) if it no longer validates."""
        async with self._lock:
            old = await store.get_version(self.pool, name, version)
            if old is None:
                raise store.FlowVersionNotFound(f"flow {name!r} has no version {version}")
            flow, errors = self.check(name, old.source)
            if flow is None:
                # E.g. a queue it sends callers to was removed since: keep the current version.
                raise FlowInvalid(errors)
            published = await store.rollback_version(self.pool, name, version, author=author, note=note)
            self._activate(name, old.source, f"{name}.yaml", published.version)
        return published

    async def load_active(self) -> list[FlowError]:
        """Activate every database version newer than ours; an invalid one is logged and skipped."""
        pointers = await store.active_pointers(self.pool)
        changed = [n for n, v in pointers.items() if self._versions.get(n) != v]
        if not changed:
            return []
        problems: list[FlowError] = []
        async with self._lock:
            for version in await store.active_versions(self.pool):
                if version.name not in changed or self._versions.get(version.name) == version.version:
                    continue
                errors = self._activate(version.name, version.source, f"{version.name}.yaml", version.version)
                if errors:
                    log.error(
                        "flow_version_invalid",
                        flow=version.name,
                        version=version.version,
                        errors=[str(e) for e in errors],
                    )
                    # Remember it as seen: the error is logged once, not every poll.
                    self._versions[version.name] = version.version
                    problems += errors
        return problems

    async def scan_files(self) -> list[FlowError]:
        """Import new or changed ``*.yaml`` files of the flows folder; return the refused files' errors."""
        changed = await asyncio.to_thread(self._read_changed_files)
        problems: list[FlowError] = []
        for path, text in changed:
            if isinstance(text, FlowError):
                problems.append(text)
            else:
                problems += await self._import_file(path, text)
        return problems

    def _read_changed_files(self) -> list[tuple[Path, str | FlowError]]:
        """The text of every flow file whose modification time or size changed (blocking I/O)."""
        if not self.flows_dir.is_dir():
            return []
        changed: list[tuple[Path, str | FlowError]] = []
        for path in sorted(self.flows_dir.glob("*.yaml")):
            try:
                stat = path.stat()
                cached = self._files.get(path)
                if cached is not None and (cached.mtime_ns, cached.size) == (stat.st_mtime_ns, stat.st_size):
                    continue
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("flow_file_unreadable", file=str(path), error=str(exc))
                changed.append((path, FlowError(str(path), 1, 1, f"cannot read the flow file: {exc}")))
                continue
            self._files[path] = _FileState(stat.st_mtime_ns, stat.st_size, store.source_digest(text))
            changed.append((path, text))
        return changed

    async def _import_file(self, path: Path, text: str) -> list[FlowError]:
        digest = store.source_digest(text)
        name = path.stem
        active = self.library.get(name)
        if self._refused.get(path) == digest or (active is not None and active.digest == digest):
            return []
        if await store.last_import(self.pool, str(path)) == digest and name in self._versions:
            return []  # unchanged since it was imported; a version published since stays active
        try:
            version = await self.publish(
                name,
                text,
                author=f"file:{path}",
                note="imported from the flows folder",
                import_path=str(path),
            )
        except FlowInvalid as exc:
            self._refused[path] = digest
            log.error("flow_file_refused", file=str(path), errors=[str(e) for e in exc.errors])
            return list(exc.errors)
        self._refused.pop(path, None)
        log.info("flow_file_published", file=str(path), flow=name, version=version.version)
        return []

    # -- prompts -------------------------------------------------------------------------------
    def _render(self, flow: Flow) -> None:
        synthesizer = self.synthesizer
        if synthesizer is None:
            return

        async def render() -> None:
            try:
                paths = await asyncio.to_thread(synthesizer.render_flow, flow)
            except Exception as exc:  # a missing synthesizer must not stop the flow from serving
                log.warning("flow_prompts_failed", flow=flow.name, error=f"{type(exc).__name__}: {exc}")
            else:
                log.info("flow_prompts_ready", flow=flow.name, files=len(paths))

        task = asyncio.create_task(render(), name=f"flow-prompts-{flow.name}")
        self._renders.add(task)
        task.add_done_callback(self._renders.discard)
