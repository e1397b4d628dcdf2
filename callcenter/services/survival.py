"""Turning survival-path calls into appeal records: at start-up and then every so often.

When the backend is down (or refuses a call), the dialplan's spool script writes the call to the
spool folder and app_queue takes it. The backend ingests the folder when it starts and keeps
ingesting while it runs, because the survival path is also taken while the backend is up (a
session limit reached, a flow that failed). Ingestion is idempotent: the record is keyed by the
call's linkedid, so a call the backend already opened is not recorded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from callcenter.logs import get_logger
from callcenter.telephony.spool import SpooledCall, SpoolIngestReport, ingest_spool

__all__ = ["DEFAULT_INTERVAL_S", "ingest_periodically"]

log = get_logger(__name__)

DEFAULT_INTERVAL_S = 30.0


async def _ingest_once(
    spool_dir: Path, handle: Callable[[SpooledCall], Awaitable[None]]
) -> SpoolIngestReport:
    report = await ingest_spool(spool_dir, handle)
    if report.ingested or report.rejected or report.failed:
        log.info(
            "survival_spool_ingested",
            ingested=report.ingested,
            rejected=report.rejected,
            failed=report.failed,
            spool_dir=str(spool_dir),
        )
    return report


@contextlib.asynccontextmanager
async def ingest_periodically(
    spool_dir: Path,
    handle: Callable[[SpooledCall], Awaitable[None]],
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> AsyncIterator[SpoolIngestReport]:
    """Ingest once now (yielding that report), then every ``interval_s`` until the context ends."""
    first = await _ingest_once(spool_dir, handle)

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await _ingest_once(spool_dir, handle)
            except Exception:  # the database may be restarting: try again next round
                log.exception("survival_spool_ingest_failed")

    task = asyncio.create_task(loop(), name="survival-spool")
    try:
        yield first
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
