"""Login rate limiting: sliding windows of failed sign-ins, per login name and per client address.

Only failures count. With the defaults a login name is locked for the rest of the window after
5 failures in 15 minutes (guessing one person's password), and a client address after 20
(one machine trying many names). A success clears the count of its login name but not of the
address, so an attacker who owns one account cannot use it to reset their budget.

The state is in memory, in this process: it is cheap, needs no database write per attempt, and
with one active backend (the design's active/standby pair) it sees every attempt. Time is
passed in (monotonic seconds) so the tests need no sleeping. The number of keys is bounded, so
a flood of made-up names cannot grow it without limit: the least recently used key goes first.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = [
    "DEFAULT_ADDRESS_FAILURES",
    "DEFAULT_LOGIN_FAILURES",
    "DEFAULT_WINDOW_S",
    "LoginLimits",
    "LoginThrottle",
    "SlidingWindow",
]

DEFAULT_LOGIN_FAILURES = 5
DEFAULT_ADDRESS_FAILURES = 20
DEFAULT_WINDOW_S = 15 * 60.0
DEFAULT_MAX_KEYS = 100_000


class SlidingWindow:
    """At most ``limit`` events per key within any ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("limit, window and max_keys must be positive")
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None if it may now."""
        events = self._live(key, now)
        if events is None or len(events) < self.limit:
            return None
        # The oldest event that keeps the count at the limit must leave the window first.
        return events[-self.limit] + self.window_s - now

    def record(self, key: str, now: float) -> None:
        """Count one event for ``key``."""
        events = self._live(key, now)
        if events is None:
            events = deque(maxlen=self.limit)
            self._events[key] = events
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        events.append(now)

    def reset(self, key: str) -> None:
        """Forget ``key``'s events."""
        self._events.pop(key, None)

    def __len__(self) -> int:
        return len(self._events)


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failed sign-ins are allowed per login name and per address in the window."""

    per_login: int = DEFAULT_LOGIN_FAILURES
    per_address: int = DEFAULT_ADDRESS_FAILURES
    window_s: float = DEFAULT_WINDOW_S


class LoginThrottle:
    """Failed-sign-in bookkeeping for the login endpoint."""

    def __init__(self, limits: LoginLimits | None = None) -> None:
        self.limits = limits = limits or LoginLimits()
        self._by_login = SlidingWindow(limits.per_login, limits.window_s)
        self._by_address = SlidingWindow(limits.per_address, limits.window_s)

    def retry_after(self, login: str, address: str, now: float) -> int | None:
        """Whole seconds (≥ 1) until this login from this address may try again, or None."""
        waits = [
            wait
            for wait in (self._by_login.retry_after(login, now), self._by_address.retry_after(address, now))
            if wait is not None
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, login: str, address: str, now: float) -> None:
        """Count a failed sign-in."""
        self._by_login.record(login, now)
        self._by_address.record(address, now)

    def succeeded(self, login: str) -> None:
        """A correct password clears the login's count (the address's stays)."""
        self._by_login.reset(login)
