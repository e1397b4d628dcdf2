"""A scalable clock, so that a simulated hour of hotline traffic can run in seconds.

Every duration inside the simulator (prompt lengths, ring time, talk time, waits) is expressed in
simulated seconds and slept through :meth:`SimClock.sleep`, which divides it by ``scale``.
``now()`` returns simulated epoch seconds, used for Uniqueids (``<epoch>.<counter>``), timestamps
and the times the PBX reports (HoldTime, Duration, Uptime).
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["DEFAULT_EPOCH", "SimClock"]

#: The simulated wall clock starts here unless told otherwise (2026-11-24 02:13:27 UTC, as in the traces).
DEFAULT_EPOCH = 1795486407.0


class SimClock:
    """Simulated time running ``scale`` times faster than the loop's monotonic clock."""

    def __init__(self, scale: float = 1.0, epoch: float = DEFAULT_EPOCH) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self.epoch = epoch
        # Monotonic, so a wall-clock jump on the test machine cannot move simulated time backwards.
        self._origin = time.monotonic()

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self.epoch + (time.monotonic() - self._origin) * self.scale

    def elapsed(self) -> float:
        """Simulated seconds since the clock was created (Asterisk's uptime)."""
        return (time.monotonic() - self._origin) * self.scale

    def real(self, seconds: float) -> float:
        """The real duration of ``seconds`` of simulated time."""
        return max(0.0, seconds) / self.scale

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of simulated time."""
        await asyncio.sleep(self.real(seconds))

    async def wait_for(self, aw: asyncio.Future[object] | asyncio.Task[object], seconds: float) -> bool:
        """Wait up to ``seconds`` of simulated time for ``aw``; True if it finished in time."""
        done, _ = await asyncio.wait({aw}, timeout=self.real(seconds))
        return bool(done)
