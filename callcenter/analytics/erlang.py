"""Erlang B / Erlang C queueing formulas for staffing a call queue (pure, no I/O).

The model is M/M/N: Poisson arrivals, exponential handle times, N identical agents and callers
who wait without abandoning.  Traffic is measured in Erlangs: ``A = arrival rate × AHT``
(e.g. 360 calls in 30 min with a 240 s handle time is ``360 × 240 / 1800 = 48`` Erlangs).

Everything here is built on the Erlang B recursion

    B(0, A) = 1,   B(n, A) = A·B(n−1, A) / (n + A·B(n−1, A))

which never forms ``A**N`` or ``N!`` and so stays accurate (and free of overflow) for hundreds or
thousands of agents.  Erlang C follows from Erlang B by ``C = N·B / (N − A·(1 − B))``.

Conventions (chosen so that callers never have to special-case):

* ``erlang_c`` returns 1.0 when ``agents <= traffic``: the queue is unstable, every caller waits.
* With zero traffic nobody waits: ``erlang_c`` is 0.0 and the service level is 1.0.
* ``average_speed_of_answer`` is ``math.inf`` for an unstable queue.
"""

from __future__ import annotations

import math

from callcenter.errors import ValidationError

__all__ = [
    "agents_needed",
    "average_speed_of_answer",
    "erlang_b",
    "erlang_c",
    "occupancy",
    "service_level",
    "traffic_erlangs",
]

# A safety net for agents_needed: a national hotline has hundreds of agents, never millions.
_MAX_AGENTS = 1_000_000


def _check(agents: int, traffic: float) -> None:
    if agents < 0:
        raise ValidationError(f"agents must be >= 0, got {agents}", field="agents")
    if not math.isfinite(traffic) or traffic < 0:
        raise ValidationError(f"traffic must be a finite number >= 0, got {traffic}", field="traffic")


def traffic_erlangs(calls_per_interval: float, interval_s: float, aht_s: float) -> float:
    """Offered load in Erlangs: calls per second times the average handle time."""
    if interval_s <= 0:
        raise ValidationError(f"interval must be > 0 s, got {interval_s}", field="interval_s")
    if calls_per_interval < 0 or aht_s < 0:
        raise ValidationError("calls and handle time must be >= 0", field="calls_per_interval")
    return calls_per_interval * aht_s / interval_s


def erlang_b(agents: int, traffic_erlangs: float) -> float:
    """Blocking probability of an Erlang loss system with ``agents`` servers (no waiting room)."""
    _check(agents, traffic_erlangs)
    b = 1.0
    for n in range(1, agents + 1):
        ab = traffic_erlangs * b
        b = ab / (n + ab)
    return b


def erlang_c(agents: int, traffic_erlangs: float) -> float:
    """Probability that an arriving call has to wait (1.0 when ``agents <= traffic``)."""
    _check(agents, traffic_erlangs)
    if traffic_erlangs == 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    b = erlang_b(agents, traffic_erlangs)
    c = agents * b / (agents - traffic_erlangs * (1.0 - b))
    # Rounding can push c a hair outside [0, 1] when it is ~0 or ~1.
    return min(1.0, max(0.0, c))


def service_level(agents: int, traffic_erlangs: float, aht_s: float, target_s: float) -> float:
    """Share of calls answered within ``target_s``: ``1 − C·exp(−(N − A)·target/AHT)``."""
    _check(agents, traffic_erlangs)
    if target_s < 0:
        raise ValidationError(f"target must be >= 0 s, got {target_s}", field="target_s")
    if traffic_erlangs == 0:
        return 1.0
    if agents <= traffic_erlangs:
        return 0.0
    if aht_s <= 0:
        raise ValidationError(f"AHT must be > 0 s, got {aht_s}", field="aht_s")
    c = erlang_c(agents, traffic_erlangs)
    return max(0.0, 1.0 - c * math.exp(-(agents - traffic_erlangs) * target_s / aht_s))


def average_speed_of_answer(agents: int, traffic_erlangs: float, aht_s: float) -> float:
    """Mean wait over all calls (those answered at once count as 0): ``C·AHT / (N − A)``."""
    _check(agents, traffic_erlangs)
    if traffic_erlangs == 0:
        return 0.0
    if agents <= traffic_erlangs:
        return math.inf
    return erlang_c(agents, traffic_erlangs) * aht_s / (agents - traffic_erlangs)


def occupancy(agents: int, traffic_erlangs: float) -> float:
    """Share of staffed time agents spend handling calls: ``A / N``, capped at 1.0."""
    _check(agents, traffic_erlangs)
    if agents == 0:
        return 1.0 if traffic_erlangs > 0 else 0.0
    return min(1.0, traffic_erlangs / agents)


def agents_needed(
    calls_per_interval: float,
    interval_s: float,
    aht_s: float,
    target_s: float,
    sl_goal: float,
    max_occupancy: float | None = None,
) -> int:
    """Fewest agents that answer ``sl_goal`` of calls within ``target_s`` at this load.

    With ``max_occupancy`` (e.g. 0.85) the result is also large enough that ``A / N`` stays at or
    below it, so agents are not planned to run flat out.  Zero calls need zero agents.
    """
    if not 0.0 <= sl_goal < 1.0:
        raise ValidationError(f"service-level goal must be in [0, 1), got {sl_goal}", field="sl_goal")
    if max_occupancy is not None and not 0.0 < max_occupancy <= 1.0:
        raise ValidationError(f"max occupancy must be in (0, 1], got {max_occupancy}", field="max_occupancy")
    a = traffic_erlangs(calls_per_interval, interval_s, aht_s)
    if a == 0:
        return 0
    # Below floor(A) + 1 the queue is unstable, so start the search there.
    n = max(1, math.floor(a) + 1)
    if max_occupancy is not None:
        n = max(n, math.ceil(a / max_occupancy))
    # SL rises monotonically with N, so the first N that meets the goal is the answer.  B is
    # advanced incrementally rather than recomputed from scratch for each candidate.
    b = erlang_b(n, a)
    while n <= _MAX_AGENTS:
        c = n * b / (n - a * (1.0 - b))
        sl = 1.0 - min(1.0, c) * math.exp(-(n - a) * target_s / aht_s)
        if sl >= sl_goal:
            return n
        n += 1
        ab = a * b
        b = ab / (n + ab)
    raise ValidationError(f"no staffing up to {_MAX_AGENTS} agents reaches the goal", field="sl_goal")
