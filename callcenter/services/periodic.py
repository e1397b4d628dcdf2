"""A job that runs now and then every N seconds until stopped, surviving its own failures.

Reminders, content alerts and survey campaigns all read the database on a timer. A run that fails
(the database restarting, say) is logged and the next run tries again; the job ends only when it
is stopped. ``stop`` cancels a run in progress and waits for the task, so nothing outlives the
service that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from callcenter.logs import get_logger

__all__ = ["PeriodicJob"]

log = get_logger(__name__)


class PeriodicJob:
    """Calls ``run_once`` at start and then every ``interval_s`` seconds, until ``stop``."""

    def __init__(self, name: str, run_once: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self.interval_s = interval_s
        self._run_once = run_once
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        """Start the job (idempotent); the first run happens at once."""
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop the job and wait for its task to end."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self._run_once()
            except Exception:
                # One failed run must not end the job: the next one tries again.
                log.exception("periodic_job_failed", job=self.name)
            # asyncio.timeout rather than wait_for, which on 3.11 can swallow a racing cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._stop.wait()
