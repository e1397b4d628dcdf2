"""IVR flow versions in PostgreSQL: publish, history, rollback, drafts, and file-import marks.

Tables are in migration 0040. A publish numbers the new version gap-free per flow (under a
per-flow advisory lock), stores the text with its digest, author, time, note and the unified diff
against the previous version, moves the flow's active pointer to it, and writes the audit entry,
all in one transaction. A rollback is a publish of an old version's text (``rollback_of`` says
which), so history only ever grows. Validation is not done here: ``callcenter.services.flows``
publishes only flows that passed it.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callcenter.errors import CallcenterError, ValidationError
from callcenter.storage.audit import record_audit

__all__ = [
    "FLOW_NAME",
    "MAX_SOURCE_CHARS",
    "FlowDraft",
    "FlowSummary",
    "FlowVersion",
    "FlowVersionNotFound",
    "active_pointers",
    "active_versions",
    "check_name",
    "delete_draft",
    "get_draft",
    "get_version",
    "history",
    "last_import",
    "list_flows",
    "publish_version",
    "rollback_version",
    "save_draft",
    "source_digest",
    "unified_diff",
]

FLOW_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\Z")
#: Longest flow text stored (a big hotline flow is ~20 kB; this leaves a wide margin).
MAX_SOURCE_CHARS = 1_000_000
_MAX_NOTE_CHARS = 2000
# Advisory-lock namespace (pg_advisory_xact_lock(int, int)) for numbering one flow's versions.
_LOCK_NAMESPACE = 0x0F10


class FlowVersionNotFound(CallcenterError):
    """No such flow, or no such version of it."""


@dataclass(frozen=True, slots=True)
class FlowVersion:
    """One published version of a flow."""

    name: str
    version: int
    source: str
    digest: str
    author: str
    published_at: datetime
    diff: str
    note: str
    rollback_of: int | None = None


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """A flow and its active version, for the editor's list."""

    name: str
    active_version: int
    versions: int
    author: str
    published_at: datetime
    digest: str


@dataclass(frozen=True, slots=True)
class FlowDraft:
    """An admin's unpublished text of a flow."""

    name: str
    author: str
    source: str
    base_version: int | None
    updated_at: datetime


def source_digest(source: str) -> str:
    """SHA-256 of a flow's text, hex: the same as ``callcenter.ivr.Flow.digest``."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    """The flow name, or ``ValidationError`` when it cannot be a flow (route) name."""
    if not FLOW_NAME.match(name):
        raise ValidationError(
            "a flow name is 1-64 letters, digits, _ and -, not starting with -", field="name"
        )
    return name


def unified_diff(old: str, new: str, name: str, old_version: int | None, new_version: int) -> str:
    """The unified diff from one version's text to the next (empty when they are equal)."""
    old_label = f"{name}@{old_version}" if old_version is not None else "/dev/null"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=f"{name}@{new_version}",
    )
    # A last line without a newline would glue onto the next one; mark it the way diff does.
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _version(row: Any) -> FlowVersion:
    return FlowVersion(
        name=row["name"],
        version=row["version"],
        source=row["source"],
        digest=row["digest"],
        author=row["author"],
        published_at=row["published_at"],
        diff=row["diff"],
        note=row["note"],
        rollback_of=row["rollback_of"],
    )


async def publish_version(
    pool: Any,
    name: str,
    source: str,
    *,
    author: str,
    note: str = "",
    rollback_of: int | None = None,
    import_path: str | None = None,
) -> FlowVersion:
    """Store ``source`` as the flow's next version and make it the active one; audited.

    ``import_path`` marks a publish from a flow file (remembered for ``last_import``).
    """
    check_name(name)
    if not author:
        raise ValidationError("a published version needs an author", field="author")
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationError(f"the flow text is longer than {MAX_SOURCE_CHARS} characters", field="source")
    note = note.strip()[:_MAX_NOTE_CHARS]
    digest = source_digest(source)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_NAMESPACE, name)
        previous = await conn.fetchrow(
            "SELECT version, source FROM flow_versions WHERE name = $1 ORDER BY version DESC LIMIT 1", name
        )
        number = 1 if previous is None else previous["version"] + 1
        diff = unified_diff(
            previous["source"] if previous is not None else "",
            source,
            name,
            previous["version"] if previous is not None else None,
            number,
        )
        row = await conn.fetchrow(
            """INSERT INTO flow_versions (name, version, source, digest, author, diff, note, rollback_of)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
            name, number, source, digest, author, diff, note, rollback_of,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO flow_active (name, version) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, activated_at = now()""",
            name,
            number,
        )
        if import_path is not None:
            await conn.execute(
                """INSERT INTO flow_file_imports (path, name, digest, version) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (path) DO UPDATE SET name = EXCLUDED.name, digest = EXCLUDED.digest,
                       version = EXCLUDED.version, imported_at = now()""",
                import_path, name, digest, number,
            )  # fmt: skip
        details: dict[str, Any] = {"version": number, "digest": digest, "note": note}
        if rollback_of is not None:
            details["rollback_of"] = rollback_of
        if import_path is not None:
            details["file"] = import_path
        action = "flow.rollback" if rollback_of is not None else "flow.publish"
        await record_audit(conn, author, action, name, details)
    return _version(row)


async def rollback_version(pool: Any, name: str, version: int, *, author: str, note: str = "") -> FlowVersion:
    """Publish a copy of ``version`` as the flow's new active version (audited as a rollback)."""
    old = await get_version(pool, name, version)
    if old is None:
        raise FlowVersionNotFound(f"flow {name!r} has no version {version}")
    return await publish_version(
        pool,
        name,
        old.source,
        author=author,
        note=note or f"rollback to version {version}",
        rollback_of=version,
    )


async def get_version(pool: Any, name: str, version: int | None = None) -> FlowVersion | None:
    """One version of a flow; the active one when ``version`` is None."""
    if version is None:
        row = await pool.fetchrow(
            """SELECT v.* FROM flow_active a JOIN flow_versions v USING (name, version)
               WHERE a.name = $1""",
            name,
        )
    else:
        row = await pool.fetchrow(
            "SELECT * FROM flow_versions WHERE name = $1 AND version = $2", name, version
        )
    return _version(row) if row is not None else None


async def active_versions(pool: Any) -> list[FlowVersion]:
    """The active version of every flow, by name."""
    rows = await pool.fetch(
        "SELECT v.* FROM flow_active a JOIN flow_versions v USING (name, version) ORDER BY a.name"
    )
    return [_version(r) for r in rows]


async def active_pointers(pool: Any) -> dict[str, int]:
    """Flow name → active version number (cheap: what a poll compares against)."""
    rows = await pool.fetch("SELECT name, version FROM flow_active")
    return {r["name"]: r["version"] for r in rows}


async def history(pool: Any, name: str, *, limit: int = 100) -> list[FlowVersion]:
    """The flow's versions, newest first."""
    rows = await pool.fetch(
        "SELECT * FROM flow_versions WHERE name = $1 ORDER BY version DESC LIMIT $2",
        name,
        max(1, min(limit, 1000)),
    )
    return [_version(r) for r in rows]


async def list_flows(pool: Any) -> list[FlowSummary]:
    """Every flow with its active version, by name."""
    rows = await pool.fetch(
        """SELECT a.name, a.version, v.author, v.published_at, v.digest,
                  (SELECT count(*) FROM flow_versions c WHERE c.name = a.name) AS versions
           FROM flow_active a JOIN flow_versions v USING (name, version) ORDER BY a.name"""
    )
    return [
        FlowSummary(
            name=r["name"],
            active_version=r["version"],
            versions=r["versions"],
            author=r["author"],
            published_at=r["published_at"],
            digest=r["digest"],
        )
        for r in rows
    ]


async def last_import(pool: Any, path: str) -> str | None:
    """The digest of a flow file when it was last published from the folder, if ever."""
    digest: str | None = await pool.fetchval("SELECT digest FROM flow_file_imports WHERE path = $1", path)
    return digest


async def save_draft(pool: Any, name: str, author: str, source: str, base_version: int | None) -> FlowDraft:
    """Keep (or replace) ``author``'s draft of a flow."""
    check_name(name)
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationError(f"the flow text is longer than {MAX_SOURCE_CHARS} characters", field="source")
    row = await pool.fetchrow(
        """INSERT INTO flow_drafts (name, author, source, base_version) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name, author) DO UPDATE SET source = EXCLUDED.source,
               base_version = EXCLUDED.base_version, updated_at = now()
           RETURNING *""",
        name,
        author,
        source,
        base_version,
    )
    return FlowDraft(row["name"], row["author"], row["source"], row["base_version"], row["updated_at"])


async def get_draft(pool: Any, name: str, author: str) -> FlowDraft | None:
    """``author``'s draft of a flow, if there is one."""
    row = await pool.fetchrow("SELECT * FROM flow_drafts WHERE name = $1 AND author = $2", name, author)
    if row is None:
        return None
    return FlowDraft(row["name"], row["author"], row["source"], row["base_version"], row["updated_at"])


async def delete_draft(pool: Any, name: str, author: str) -> bool:
    """Drop ``author``'s draft (after publishing it); True if there was one."""
    status: str = await pool.execute("DELETE FROM flow_drafts WHERE name = $1 AND author = $2", name, author)
    return status.endswith(" 1")
