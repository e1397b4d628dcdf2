"""The periodic job: runs at once and then on its interval, survives failures, stops cleanly."""

from __future__ import annotations

import asyncio

from callcenter.services.periodic import PeriodicJob


async def test_runs_at_start_repeats_and_survives_a_failing_run() -> None:
    """A run that raises is logged and the next run still happens; stop ends the task."""
    runs: list[int] = []

    async def run_once() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise ConnectionError("database restarting")

    job = PeriodicJob("test-job", run_once, interval_s=0.01)
    await job.start()
    await job.start()  # idempotent: still one task
    for _ in range(200):
        if len(runs) >= 4:
            break
        await asyncio.sleep(0.01)
    await job.stop()
    assert len(runs) >= 4 and not job.running
    count = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == count  # nothing runs after stop


async def test_stop_cancels_a_run_in_progress() -> None:
    """Stopping during a slow run does not wait for the run to finish."""
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    job = PeriodicJob("slow-job", slow, interval_s=60)
    await job.start()
    await started.wait()
    await asyncio.wait_for(job.stop(), 1.0)
    assert not job.running
