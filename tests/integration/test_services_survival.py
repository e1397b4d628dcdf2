"""Survival-path calls spooled by the PBX become appeal records, once, at start and while running."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from callcenter.services.survival import ingest_periodically
from callcenter.storage.appeals import AppealRepository


def spool(folder: Path, uniqueid: str, caller: str, arrived: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "v": 1,  # the format agi/survival_spool.py writes
        "uniqueid": uniqueid,
        "linkedid": uniqueid,
        "caller": caller,
        "dnid": "0800507506",
        "arrived_at": arrived,
        "reason": "FAILURE",
    }
    (folder / f"{arrived.replace(':', '')}-{uniqueid}.json").write_text(json.dumps(record) + "\n")


async def test_spooled_calls_become_records_at_start_and_later(db_pool: Any, tmp_path: Path) -> None:
    """Files present at start are ingested at once; a file spooled later is picked up by the loop; none twice."""
    folder = tmp_path / "spool"
    spool(folder, "1795486407.1", "380501234567", "2026-11-24T02:00:00Z")
    repo = AppealRepository(db_pool)
    async with ingest_periodically(folder, repo.handle_spooled_call, interval_s=0.05) as first:
        assert first.ingested == 1
        spool(folder, "1795486407.2", "380671112233", "2026-11-24T02:01:00Z")
        for _ in range(100):
            if await repo.find_by_linkedid("1795486407.2") is not None:
                break
            await asyncio.sleep(0.05)
    first_record = await repo.find_by_linkedid("1795486407.1")
    second_record = await repo.find_by_linkedid("1795486407.2")
    assert first_record is not None and second_record is not None
    assert second_record.call.survival_reason == "FAILURE"
    count = await db_pool.fetchval("SELECT count(*) FROM appeals WHERE linkedid LIKE '1795486407.%'")
    assert count == 2
    assert not list(folder.glob("*.json"))  # moved aside after ingestion
