"""Erlang C against a seeded M/M/N discrete-event simulation of a FIFO queue.

The simulation shares nothing with the formulas: Poisson arrivals, exponential handle times and
N agents served first-come-first-served, with each caller's wait read off a heap of the times
agents next become free.  Over 200,000 calls the simulated probability of waiting, service level
and ASA must match Erlang C within sampling error.
"""

from __future__ import annotations

import heapq
import random

import pytest

from callcenter.analytics.erlang import average_speed_of_answer, erlang_c, service_level


def simulate(agents: int, traffic: float, aht_s: float, calls: int, seed: int) -> list[float]:
    """Waits of ``calls`` callers in an M/M/N FIFO queue offered ``traffic`` Erlangs."""
    rng = random.Random(seed)
    rate = traffic / aht_s  # arrivals per second
    free_at = [0.0] * agents
    now = 0.0
    waits: list[float] = []
    for _ in range(calls):
        now += rng.expovariate(rate)
        start = max(now, free_at[0])
        waits.append(start - now)
        heapq.heapreplace(free_at, start + rng.expovariate(1 / aht_s))
    return waits[calls // 20 :]  # drop the warm-up from an empty system


@pytest.mark.parametrize(("agents", "traffic"), [(10, 8.0), (55, 48.0)])
def test_erlang_c_matches_simulation(agents: int, traffic: float) -> None:
    """Simulated P(wait), SL(20 s) and ASA agree with the formulas within sampling error."""
    aht, target = 180.0, 20.0
    waits = simulate(agents, traffic, aht, 200_000, seed=agents)
    n = len(waits)
    assert sum(w > 0 for w in waits) / n == pytest.approx(erlang_c(agents, traffic), abs=0.02)
    assert sum(w <= target for w in waits) / n == pytest.approx(
        service_level(agents, traffic, aht, target), abs=0.02
    )
    assert sum(waits) / n == pytest.approx(average_speed_of_answer(agents, traffic, aht), rel=0.15)
