"""FlowService: seeding from ivr_flows/, hot reload, refusing invalid texts, versions held by calls."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from callcenter.ivr.model import Flow, FlowInvalid
from callcenter.ivr.testing import FixedSchedules
from callcenter.prompts import PromptSynthesizer
from callcenter.services.flows import FlowService, load_flow_setup
from callcenter.services.flows_preview import preview_run
from callcenter.storage import flows as store
from tests.unit.test_flows_preview import NOW, TINY

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP = load_flow_setup(REPO_ROOT / "queue")


class RecordingSynthesizer:
    """Stands in for espeak: remembers which flows it was asked to render."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def render_flow(self, flow: Flow) -> list[Path]:
        self.rendered.append(flow.digest)
        return []


@pytest.fixture(autouse=True)
async def clean(db_pool: Any) -> None:
    """Every test starts without flows in the database."""
    await db_pool.execute("TRUNCATE flow_active, flow_versions, flow_drafts, flow_file_imports")


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    """A flows folder holding tiny.yaml."""
    folder = tmp_path / "ivr_flows"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    return folder


@pytest.fixture
async def service(db_pool: Any, flows_dir: Path) -> AsyncIterator[FlowService]:
    """A started service that does not poll by itself (tests call poll_once)."""
    started = FlowService(db_pool, SETUP, flows_dir)
    await started.start(poll=False)
    try:
        yield started
    finally:
        await started.stop()


def rewrite(path: Path, text: str) -> None:
    """Write a file and make sure its modification time moves, as an editor's save does."""
    path.write_text(text, encoding="utf-8")
    later = time.time_ns() + 1_000_000_000
    os.utime(path, ns=(later, later))


def greeting(flow: Flow) -> str:
    """What a caller hears first from a flow."""
    run = preview_run(flow, [], schedules=FixedSchedules(), flows={}, now=NOW)
    play = next(c for c in run.commands if c["type"] == "Play")
    return str(play["prompts"][0]["text"])


async def test_start_seeds_the_database_from_the_files(
    service: FlowService, db_pool: Any, flows_dir: Path
) -> None:
    """A file whose flow has no version is published as version 1 by file:<path> and serves calls."""
    flow = service.get("tiny")
    assert flow is not None and greeting(flow) == "Вітаємо."
    version = await store.get_version(db_pool, "tiny")
    assert version is not None
    assert (version.version, version.author) == (1, f"file:{flows_dir / 'tiny.yaml'}")
    assert service.version_of("tiny") == 1


async def test_restart_does_not_publish_an_unchanged_file_again(
    service: FlowService, db_pool: Any, flows_dir: Path
) -> None:
    """After an admin publishes, a restart keeps the admin's version while the file is unchanged."""
    await service.publish("tiny", TINY.replace("Вітаємо.", "Версія адміна."), author="boss")
    again = FlowService(db_pool, SETUP, flows_dir)
    await again.start(poll=False)
    try:
        flow = again.get("tiny")
        assert flow is not None and greeting(flow) == "Версія адміна."
        assert again.version_of("tiny") == 2
    finally:
        await again.stop()
    assert [v.version for v in await store.history(db_pool, "tiny")] == [2, 1]


async def test_changed_file_is_published_and_calls_keep_their_version(
    service: FlowService, db_pool: Any, flows_dir: Path
) -> None:
    """A changed file becomes version 2 for new calls; a call that started before keeps version 1."""
    in_progress = service.get("tiny")
    assert in_progress is not None
    rewrite(flows_dir / "tiny.yaml", TINY.replace("Вітаємо.", "Нова версія."))
    assert await service.poll_once() == []
    current = service.get("tiny")
    assert current is not None and greeting(current) == "Нова версія."
    assert greeting(in_progress) == "Вітаємо."
    version = await store.get_version(db_pool, "tiny")
    assert (
        version is not None and version.version == 2 and '+    prompt: {uk: "Нова версія."}' in version.diff
    )


async def test_invalid_file_is_refused_and_the_previous_version_serves(
    service: FlowService, db_pool: Any, flows_dir: Path
) -> None:
    """An invalid file change is logged with every error and refused; fixing it publishes it."""
    broken = TINY.replace("next: bye", "next: nowhere").replace("queue: general", "queue: nosuch")
    rewrite(flows_dir / "tiny.yaml", broken)
    with capture_logs() as logs:
        errors = await service.poll_once()
    assert [(e.line, e.column) for e in errors] == [(16, 11), (19, 12)]
    assert all(e.file == str(flows_dir / "tiny.yaml") for e in errors)
    refused = [entry for entry in logs if entry["event"] == "flow_file_refused"]
    assert len(refused) == 1 and len(refused[0]["errors"]) == 2
    flow = service.get("tiny")
    assert flow is not None and greeting(flow) == "Вітаємо."
    assert [v.version for v in await store.history(db_pool, "tiny")] == [1]
    assert await service.poll_once() == []  # unchanged: not refused (and logged) again

    rewrite(flows_dir / "tiny.yaml", TINY.replace("Вітаємо.", "Виправлено."))
    assert await service.poll_once() == []
    fixed = service.get("tiny")
    assert fixed is not None and greeting(fixed) == "Виправлено."


async def test_publishing_an_invalid_text_changes_nothing(service: FlowService, db_pool: Any) -> None:
    """``publish`` raises FlowInvalid with every error; no version is stored, the old one serves."""
    with pytest.raises(FlowInvalid) as caught:
        await service.publish("tiny", TINY.replace("next: menu", "next: menuu"), author="boss")
    errors = caught.value.errors
    assert (7, "node `greet` goes to an unknown node `menuu`") in [(e.line, e.message) for e in errors]
    assert (8, "node `menu` can never be reached from `greet`") in [(e.line, e.message) for e in errors]
    assert [v.version for v in await store.history(db_pool, "tiny")] == [1]
    assert service.get("tiny") is not None


async def test_another_backends_publish_and_rollback_are_picked_up(
    service: FlowService, db_pool: Any, flows_dir: Path
) -> None:
    """A version published elsewhere becomes active here at the next poll; so does a rollback."""
    other = FlowService(db_pool, SETUP, flows_dir)
    await other.start(poll=False)
    try:
        await other.publish("tiny", TINY.replace("Вітаємо.", "З іншого вузла."), author="boss")
        await service.poll_once()
        flow = service.get("tiny")
        assert flow is not None and greeting(flow) == "З іншого вузла."
        back = await other.rollback("tiny", 1, author="boss")
        assert back.version == 3
        await service.poll_once()
        flow = service.get("tiny")
        assert flow is not None and greeting(flow) == "Вітаємо." and service.version_of("tiny") == 3
    finally:
        await other.stop()


async def test_rollback_to_a_version_that_no_longer_validates_is_refused(
    db_pool: Any, flows_dir: Path, service: FlowService
) -> None:
    """A stored version sending callers to a queue that no longer exists is not rolled back to."""
    await store.publish_version(db_pool, "tiny", TINY.replace("queue: general", "queue: gone"), author="old")
    await store.publish_version(db_pool, "tiny", TINY, author="boss")
    with pytest.raises(FlowInvalid):
        await service.rollback("tiny", 2, author="boss")
    with pytest.raises(store.FlowVersionNotFound):
        await service.rollback("tiny", 42, author="boss")
    assert [v.version for v in await store.history(db_pool, "tiny")] == [3, 2, 1]


async def test_prompts_of_new_versions_are_rendered_in_the_background(db_pool: Any, flows_dir: Path) -> None:
    """Every newly activated flow is handed to the synthesizer once, off the event loop."""
    synthesizer = RecordingSynthesizer()
    started = FlowService(db_pool, SETUP, flows_dir, synthesizer=cast(PromptSynthesizer, synthesizer))
    await started.start(poll=False)
    try:
        published = await started.publish("tiny", TINY.replace("Вітаємо.", "Привіт."), author="boss")
        await started.poll_once()
        for _ in range(100):
            if len(synthesizer.rendered) == 2:
                break
            await asyncio.sleep(0.02)
        assert synthesizer.rendered == [store.source_digest(TINY), published.digest]
    finally:
        await started.stop()


async def test_polling_picks_up_a_changed_file_without_a_restart(db_pool: Any, flows_dir: Path) -> None:
    """With polling on, a saved file serves new calls within a few poll intervals."""
    started = FlowService(db_pool, SETUP, flows_dir, poll_interval_s=0.05)
    await started.start()
    try:
        rewrite(flows_dir / "tiny.yaml", TINY.replace("Вітаємо.", "Гаряче оновлення."))
        for _ in range(200):
            flow = started.get("tiny")
            if flow is not None and greeting(flow) == "Гаряче оновлення.":
                break
            await asyncio.sleep(0.02)
        flow = started.get("tiny")
        assert flow is not None and greeting(flow) == "Гаряче оновлення."
    finally:
        await started.stop()
