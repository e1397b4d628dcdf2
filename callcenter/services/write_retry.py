"""Writes that must neither be lost nor hold up a call while the database is away.

The call pipeline writes each call's appeal record step by step. When PostgreSQL restarts (or a
failover moves it) those writes fail for a few seconds; the caller must not notice, and the
record must not miss the steps taken meanwhile. ``RetryingWriter.write`` runs a write at once;
if it fails for any reason but a validation error (a bug, which retrying cannot fix), the write
is queued and retried in the background with a doubling delay until the database takes it.
Later writes join the queue behind it while it is not empty, so a call's steps are applied in
the order they happened. Every write is idempotent (keyed by linkedid), so one that reached the
database although its reply was lost is harmless to repeat.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from typing import TypeVar

from callcenter.errors import ValidationError
from callcenter.logs import get_logger

__all__ = ["RetryingWriter"]

log = get_logger(__name__)

T = TypeVar("T")


class RetryingWriter:
    """Run writes now, or queue and retry them in order until they succeed (see module docstring)."""

    def __init__(self, name: str, *, initial_delay_s: float = 0.25, max_delay_s: float = 10.0) -> None:
        self.name = name
        self.initial_delay_s = initial_delay_s
        self.max_delay_s = max_delay_s
        self._queue: collections.deque[tuple[str, Callable[[], Awaitable[object]]]] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        #: writes that needed at least one retry, and retries made (for tests and the log)
        self.deferred = 0
        self.retries = 0

    @property
    def pending(self) -> int:
        """Writes waiting for the database."""
        return len(self._queue)

    async def write(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T | None:
        """The write's result, or None when it was queued for retrying (``what`` names it in logs)."""
        if self._queue:  # earlier writes wait for the database: keep the order
            self._defer(what, attempt, None)
            return None
        try:
            return await attempt()
        except ValidationError:
            raise
        except Exception as exc:  # asyncpg, OSError, StorageError: the database is not there now
            self._defer(what, attempt, exc)
            return None

    def _defer(self, what: str, attempt: Callable[[], Awaitable[object]], exc: Exception | None) -> None:
        self.deferred += 1
        self._queue.append((what, attempt))
        if exc is not None:
            log.warning("write_deferred", writer=self.name, what=what, error=f"{type(exc).__name__}: {exc}")
        if self._task is None or self._task.done():
            # A fresh context: the task outlives the call that started it, so it must not log
            # under that call's ids (structlog's bound contextvars).
            self._task = asyncio.create_task(
                self._drain(), name=f"{self.name}-write-retry", context=contextvars.Context()
            )

    async def _drain(self) -> None:
        delay = self.initial_delay_s
        while self._queue:
            await asyncio.sleep(delay)
            what, attempt = self._queue[0]
            try:
                await attempt()
            except ValidationError:
                log.exception("write_refused", writer=self.name, what=what)
            except Exception as exc:
                self.retries += 1
                delay = min(self.max_delay_s, delay * 2)
                log.warning(
                    "write_retry_failed",
                    writer=self.name,
                    what=what,
                    pending=len(self._queue),
                    retry_in_s=delay,
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            self._queue.popleft()
            delay = 0.0 if self._queue else self.initial_delay_s
        log.info("writes_caught_up", writer=self.name)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Give queued writes ``timeout_s`` to get through, then stop; say how many were lost."""
        task = self._task
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._queue:
            log.error("writes_lost_at_stop", writer=self.name, count=len(self._queue))
