"""Agent sessions from login/pause/logout events: logged-in, paused by reason, staffed time (pure).

Like call facts, sessions depend only on the *set* of events (duplicates dropped, sorted by time),
so replaying agent events after a reconnect gives the same rows.  Wrap-up is modelled as a pause
with reason ``wrapup`` (see ANCHORS.md: wrap-up shown as "available" is a known app_queue
wallboard bug); it is work, so it counts as staffed time, not as a break.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from callcenter.analytics.events import AgentEvent, AgentLoggedIn, AgentLoggedOut, AgentPaused, AgentUnpaused

__all__ = ["WRAPUP_REASON", "AgentSession", "Pause", "build_sessions"]

WRAPUP_REASON = "wrapup"

_ORDER: dict[type, int] = {AgentLoggedIn: 0, AgentUnpaused: 1, AgentPaused: 2, AgentLoggedOut: 3}


@dataclass(frozen=True, slots=True)
class Pause:
    """One pause inside a session."""

    reason: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class AgentSession:
    """One login-to-logout span of one agent (``open`` when not logged out yet at ``until``)."""

    session_id: str  # "<agent>/<login ISO time>": stable under replays
    agent: str
    queues: tuple[str, ...]
    login_at: datetime
    logout_at: datetime
    open: bool
    pauses: tuple[Pause, ...]

    @property
    def logged_in_s(self) -> float:
        return (self.logout_at - self.login_at).total_seconds()

    def paused_s_by_reason(self) -> dict[str, float]:
        """Seconds paused per reason (wrap-up included, under ``wrapup``)."""
        totals: dict[str, float] = {}
        for pause in self.pauses:
            totals[pause.reason] = totals.get(pause.reason, 0.0) + pause.seconds
        return totals

    @property
    def paused_s(self) -> float:
        """Seconds on a break: paused for any reason but wrap-up."""
        return sum(p.seconds for p in self.pauses if p.reason != WRAPUP_REASON)

    @property
    def staffed_s(self) -> float:
        """Logged-in seconds not on a break (available, ringing, talking or in wrap-up)."""
        return self.logged_in_s - self.paused_s

    def staffed_spans(self) -> list[tuple[datetime, datetime]]:
        """The staffed stretches of the session: logged in minus the breaks."""
        spans: list[tuple[datetime, datetime]] = []
        cursor = self.login_at
        for pause in sorted(self.pauses, key=lambda p: p.start):
            if pause.reason == WRAPUP_REASON:
                continue
            if pause.start > cursor:
                spans.append((cursor, pause.start))
            cursor = max(cursor, pause.end)
        if self.logout_at > cursor:
            spans.append((cursor, self.logout_at))
        return spans


def build_sessions(events: Iterable[AgentEvent], *, until: datetime) -> list[AgentSession]:
    """Every agent's sessions from their events; sessions still open are cut at ``until``.

    A second login without a logout closes the first session at the new login (a lost logout,
    typically across a reconnect).  Pause/unpause outside a session are ignored.
    """
    by_agent: dict[str, list[AgentEvent]] = {}
    for event in set(events):
        by_agent.setdefault(event.agent, []).append(event)
    sessions: list[AgentSession] = []
    for agent in sorted(by_agent):
        ordered = sorted(by_agent[agent], key=lambda e: (e.at, _ORDER[type(e)], repr(e)))
        login: AgentLoggedIn | None = None
        pauses: list[Pause] = []
        pause_open: AgentPaused | None = None

        def close(at: datetime, is_open: bool) -> None:
            nonlocal login, pause_open, pauses
            assert login is not None
            if pause_open is not None:
                pauses.append(Pause(pause_open.reason, pause_open.at, at))
            sessions.append(
                AgentSession(
                    f"{login.agent}/{login.at.isoformat()}",
                    login.agent,
                    login.queues,
                    login.at,
                    at,
                    is_open,
                    tuple(pauses),
                )
            )
            login, pause_open, pauses = None, None, []

        for event in ordered:
            if event.at > until:
                break
            match event:
                case AgentLoggedIn():
                    if login is not None:
                        close(event.at, False)
                    login = event
                case AgentPaused():
                    if login is None:
                        continue
                    if pause_open is not None:  # a new reason replaces the old one
                        pauses.append(Pause(pause_open.reason, pause_open.at, event.at))
                    pause_open = event
                case AgentUnpaused():
                    if login is not None and pause_open is not None:
                        pauses.append(Pause(pause_open.reason, pause_open.at, event.at))
                        pause_open = None
                case AgentLoggedOut():
                    if login is not None:
                        close(event.at, False)
        if login is not None:
            close(until, True)
    return sessions
