"""Seeded synthetic call-progress and agent events for a day of a hotline (pure).

Used by the analytics tests (rollups of a simulated day must equal the facts summed directly)
and available to demos.  It is a statistical stand-in, not a queue simulation: waits, patience
and talk times are drawn independently, and agents are named but not scheduled against calls.
Every kind of outcome the fact builder knows appears: answered (with holds, missed rings and
agent transfers), abandoned in IVR and in queue, short abandons, callbacks, overflow, calls moved
between queues, IVR-completed and IVR-transferred calls, after-hours calls and the survival path.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from callcenter.analytics.events import (
    AfterHours,
    AgentEvent,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
    Answered,
    CallArrived,
    CallbackRequested,
    CallEvent,
    HoldEnded,
    HoldStarted,
    Hungup,
    IvrLeft,
    IvrStep,
    QueueEntered,
    QueueLeft,
    RingEnded,
    SurvivalPath,
    Transferred,
    WrapUpEnded,
)

__all__ = ["SyntheticDay", "synthetic_day"]

# Relative call volume per local hour: quiet nights, a morning peak, a smaller afternoon one.
_HOURLY = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 11, 12, 13, 12, 10, 8, 6, 4, 3, 2, 2, 1]


@dataclass(frozen=True, slots=True)
class SyntheticDay:
    """Events of one synthetic day: per call, and the agents' login/pause/logout events."""

    calls: dict[str, list[CallEvent]]
    agent_events: list[AgentEvent]
    end: datetime


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds, 3))


def synthetic_day(
    day_start: datetime,
    *,
    seed: int,
    calls: int = 2000,
    queues: tuple[str, ...] = ("general", "pensions"),
    agents: int = 12,
    is_open: Callable[[str, datetime], bool] | None = None,
) -> SyntheticDay:
    """``calls`` calls over the 24 h from ``day_start`` (aware), drawn from ``random.Random(seed)``.

    ``is_open(queue, at)`` decides which arrivals get the after-hours branch (default: always open).
    """
    rng = random.Random(seed)
    names = [f"agent{n:02d}" for n in range(1, agents + 1)]
    result: dict[str, list[CallEvent]] = {}
    weights = [float(w) for w in _HOURLY]
    for n in range(calls):
        hour = rng.choices(range(24), weights)[0]
        at = day_start + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
        linkedid = f"{int(at.timestamp())}.{n}"
        caller = f"+380{rng.randrange(10**8, 10**9)}"
        queue = rng.choice(queues)
        ev: list[CallEvent] = [CallArrived(linkedid, at, caller, "0800500000")]
        t = at + _s(rng.uniform(2, 8))
        ev.append(IvrStep(linkedid, t, "greeting"))
        if is_open is not None and not is_open(queue, at):
            ev += [AfterHours(linkedid, t, queue), Hungup(linkedid, t + _s(rng.uniform(5, 20)), "system")]
            result[linkedid] = ev
            continue
        roll = rng.random()
        if roll < 0.01:
            ev.insert(1, SurvivalPath(linkedid, at))
            ev.append(Hungup(linkedid, t + _s(rng.uniform(30, 200)), "caller"))
        elif roll < 0.06:
            ev.append(Hungup(linkedid, t + _s(rng.uniform(1, 30)), "caller"))
        elif roll < 0.09:
            ev += [IvrStep(linkedid, t + _s(3), "info"), Hungup(linkedid, t + _s(40), "system")]
        elif roll < 0.11:
            ev += [Transferred(linkedid, t + _s(5), "0442000000"), Hungup(linkedid, t + _s(60), "caller")]
        else:
            ev += _queue_part(rng, linkedid, t + _s(rng.uniform(5, 20)), queue, queues, names)
        result[linkedid] = ev
    day_end = day_start + timedelta(days=1)
    return SyntheticDay(result, _agent_events(rng, day_start, names, queues), day_end)


def _queue_part(
    rng: random.Random, linkedid: str, t: datetime, queue: str, queues: tuple[str, ...], names: list[str]
) -> list[CallEvent]:
    ev: list[CallEvent] = [IvrLeft(linkedid, t), QueueEntered(linkedid, t, queue)]
    if rng.random() < 0.08:  # moved on to another queue after a while
        t = t + _s(rng.uniform(10, 60))
        queue = rng.choice([q for q in queues if q != queue] or [queue])
        ev.append(QueueEntered(linkedid, t, queue))
    wait = rng.expovariate(1 / 35)
    patience = rng.expovariate(1 / 90)
    if patience < wait:
        end = t + _s(patience)
        if rng.random() < 0.15:
            ev += [CallbackRequested(linkedid, end, queue), Hungup(linkedid, end + _s(8), "system")]
        else:
            ev.append(Hungup(linkedid, end, "caller"))
        return ev
    if rng.random() < 0.04:
        end = t + _s(wait)
        ev += [QueueLeft(linkedid, end, queue, "timeout"), Hungup(linkedid, end + _s(30), "system")]
        return ev
    answer = t + _s(wait)
    agent = rng.choice(names)
    if rng.random() < 0.1:  # a first agent did not pick up
        other = rng.choice([a for a in names if a != agent])
        ring = t + _s(wait * 0.3)
        ev += [AgentRang(linkedid, ring, other), RingEnded(linkedid, ring + _s(min(15, wait * 0.5)), other)]
    ev += [AgentRang(linkedid, answer - _s(min(4.0, wait)), agent), Answered(linkedid, answer, agent)]
    talk = rng.expovariate(1 / 170) + 20
    cursor = answer + _s(talk)
    if rng.random() < 0.2:
        hold_at = answer + _s(talk / 2)
        ev += [HoldStarted(linkedid, hold_at, agent), HoldEnded(linkedid, hold_at + _s(20), agent)]
        cursor += _s(20)
    if rng.random() < 0.05:
        ev += [Transferred(linkedid, cursor, "ext-legal", agent), Hungup(linkedid, cursor + _s(90), "caller")]
    else:
        ev.append(Hungup(linkedid, cursor, rng.choice(["caller", "agent"])))
    ev.append(WrapUpEnded(linkedid, cursor + _s(rng.uniform(10, 60)), agent))
    return ev


def _agent_events(
    rng: random.Random, day_start: datetime, names: list[str], queues: tuple[str, ...]
) -> list[AgentEvent]:
    events: list[AgentEvent] = []
    for n, agent in enumerate(names):
        shift = 7 if n % 2 == 0 else 9  # two shifts, local-time agnostic offsets from day_start
        login = day_start + timedelta(hours=shift, minutes=rng.uniform(-10, 10))
        logout = login + timedelta(hours=8, minutes=rng.uniform(-5, 15))
        lunch = login + timedelta(hours=4)
        serves = queues if n % 3 else queues[:1]
        events += [
            AgentLoggedIn(agent, login, serves),
            AgentPaused(agent, lunch, "lunch"),
            AgentUnpaused(agent, lunch + timedelta(minutes=30)),
            AgentPaused(agent, lunch + timedelta(hours=2), "wrapup"),
            AgentUnpaused(agent, lunch + timedelta(hours=2, minutes=1)),
            AgentLoggedOut(agent, logout),
        ]
    return events
