"""Flow versions in PostgreSQL: gap-free numbering, diffs, rollback copies, drafts, audit, append-only."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from callcenter.errors import ValidationError
from callcenter.storage import flows as store
from callcenter.storage.audit import fetch_audit

V1 = "languages: [uk]\nstart: a\n"
V2 = "languages: [uk]\nstart: b\n"


@pytest.fixture(autouse=True)
async def clean(db_pool: Any) -> None:
    """Every test starts without flows."""
    # TRUNCATE fires no row trigger, so the append-only guard does not stand in the way here.
    await db_pool.execute("TRUNCATE flow_active, flow_versions, flow_drafts, flow_file_imports")


async def test_publish_numbers_versions_and_moves_the_active_pointer(db_pool: Any) -> None:
    """Each publish gets the next number, a diff against the previous text, and becomes active."""
    first = await store.publish_version(db_pool, "numbered", V1, author="boss", note="first")
    second = await store.publish_version(db_pool, "numbered", V2, author="olena")
    assert (first.version, second.version) == (1, 2)
    assert first.diff.startswith("--- /dev/null\n+++ numbered@1\n")
    assert "-start: a\n+start: b\n" in second.diff and "--- numbered@1\n+++ numbered@2\n" in second.diff
    assert second.digest == store.source_digest(V2)
    active = await store.get_version(db_pool, "numbered")
    assert active is not None and active.version == 2 and active.author == "olena"
    summary = await store.list_flows(db_pool)
    assert [(s.name, s.active_version, s.versions) for s in summary] == [("numbered", 2, 2)]
    entries = await fetch_audit(db_pool, action="flow.publish", subject="numbered")
    assert [(e.actor, e.details["version"]) for e in entries] == [("olena", 2), ("boss", 1)]


async def test_concurrent_publishes_are_gap_free(db_pool: Any) -> None:
    """Twenty publishes at once get versions 1..20, each exactly once."""
    versions = await asyncio.gather(
        *(store.publish_version(db_pool, "race", f"start: n{i}\n", author=f"u{i}") for i in range(20))
    )
    assert sorted(v.version for v in versions) == list(range(1, 21))
    rows = await db_pool.fetch("SELECT version FROM flow_versions WHERE name = 'race' ORDER BY version")
    assert [r["version"] for r in rows] == list(range(1, 21))


async def test_rollback_publishes_a_copy(db_pool: Any) -> None:
    """Rolling back to version 1 adds version 3 with version 1's text; history keeps all three."""
    await store.publish_version(db_pool, "hotline", V1, author="boss")
    await store.publish_version(db_pool, "hotline", V2, author="boss")
    back = await store.rollback_version(db_pool, "hotline", 1, author="olena")
    assert (back.version, back.source, back.rollback_of) == (3, V1, 1)
    assert back.note == "rollback to version 1"
    assert [v.version for v in await store.history(db_pool, "hotline")] == [3, 2, 1]
    entry = (await fetch_audit(db_pool, action="flow.rollback", subject="hotline"))[0]
    assert (entry.actor, entry.subject, entry.details["rollback_of"]) == ("olena", "hotline", 1)
    with pytest.raises(store.FlowVersionNotFound):
        await store.rollback_version(db_pool, "hotline", 9, author="olena")


async def test_versions_are_never_changed_or_deleted(db_pool: Any) -> None:
    """The database refuses to edit or delete a published version."""
    await store.publish_version(db_pool, "hotline", V1, author="boss")
    with pytest.raises(asyncpg.RaiseError):
        await db_pool.execute("UPDATE flow_versions SET source = 'x'")
    with pytest.raises(asyncpg.RaiseError):
        await db_pool.execute("DELETE FROM flow_versions")


async def test_file_imports_are_remembered(db_pool: Any) -> None:
    """A publish from a file records the file's digest; a publish from the editor does not."""
    await store.publish_version(
        db_pool, "hotline", V1, author="file:x/hotline.yaml", import_path="x/hotline.yaml"
    )
    assert await store.last_import(db_pool, "x/hotline.yaml") == store.source_digest(V1)
    await store.publish_version(db_pool, "hotline", V2, author="boss")
    assert await store.last_import(db_pool, "x/hotline.yaml") == store.source_digest(V1)
    assert await store.last_import(db_pool, "x/other.yaml") is None


async def test_drafts_are_per_user(db_pool: Any) -> None:
    """Each admin has their own draft of a flow; saving replaces it; deleting removes only theirs."""
    await store.save_draft(db_pool, "hotline", "boss", V1, None)
    await store.save_draft(db_pool, "hotline", "boss", V2, 1)
    await store.save_draft(db_pool, "hotline", "olena", V1, None)
    mine = await store.get_draft(db_pool, "hotline", "boss")
    assert mine is not None and (mine.source, mine.base_version) == (V2, 1)
    assert await store.delete_draft(db_pool, "hotline", "boss")
    assert not await store.delete_draft(db_pool, "hotline", "boss")
    assert await store.get_draft(db_pool, "hotline", "boss") is None
    assert await store.get_draft(db_pool, "hotline", "olena") is not None


def test_bad_names_and_diff_without_newline() -> None:
    """A flow name must be route-safe; a last line without a newline is marked in the diff."""
    with pytest.raises(ValidationError):
        store.check_name("../etc")
    diff = store.unified_diff("a\n", "a\nb", "f", 1, 2)
    assert diff.endswith("+b\n\\ No newline at end of file\n")
