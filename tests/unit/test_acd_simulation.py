"""The router under simulated load: Erlang C agreement, the EWT method, and no lost calls."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from callcenter.acd.desim import Outcome, SimParams, simulate
from callcenter.acd.model import AgentState, QueueConfig
from callcenter.analytics.erlang import average_speed_of_answer, erlang_c, service_level

AGENTS, TRAFFIC, AHT, TARGET = 10, 7.0, 180.0, 20.0
WARM_UP = 1000  # calls discarded while the queue fills from empty


@pytest.fixture(scope="module")
def erlang_run() -> list[tuple[float, float | None]]:
    """(wait, EWT at arrival) of every call after warm-up in one 60,000-call M/M/10 run at 70 % load."""
    result = simulate(
        SimParams(arrival_rate=TRAFFIC / AHT, aht_s=AHT, agents=AGENTS, calls=60_000, seed=1, record_ewt=True)
    )
    assert all(c.outcome is Outcome.ANSWERED for c in result.calls)
    return [(c.wait or 0.0, c.ewt_at_arrival) for c in result.calls[WARM_UP:]]


@pytest.mark.slow
def test_service_level_matches_erlang_c(erlang_run: list[tuple[float, float | None]]) -> None:
    """Simulated share answered within 20 s is within ±0.02 of the Erlang C service level (0.841)."""
    waits = [w for w, _ in erlang_run]
    simulated = sum(w <= TARGET for w in waits) / len(waits)
    # Six seeds gave 0.835–0.853 around the predicted 0.841 (σ ≈ 0.006); ±0.02 is over 3σ.
    assert simulated == pytest.approx(service_level(AGENTS, TRAFFIC, AHT, TARGET), abs=0.02)
    waited = sum(w > 0 for w in waits) / len(waits)
    assert waited == pytest.approx(erlang_c(AGENTS, TRAFFIC), abs=0.02)


@pytest.mark.slow
def test_average_wait_matches_erlang_c(erlang_run: list[tuple[float, float | None]]) -> None:
    """Simulated average wait is within ±12 % of the Erlang C average speed of answer (13.3 s)."""
    asa = statistics.fmean(w for w, _ in erlang_run)
    # Six seeds gave 12.2–13.9 s (σ ≈ 5 %); waits are strongly autocorrelated, hence the width.
    assert asa == pytest.approx(average_speed_of_answer(AGENTS, TRAFFIC, AHT), rel=0.12)


@pytest.mark.slow
def test_estimated_wait_matches_simulated_wait(erlang_run: list[tuple[float, float | None]]) -> None:
    """The EWT given at arrival is unbiased within 10 % and ranks callers by their actual wait."""
    ewts = [e for _, e in erlang_run]
    assert all(e is not None for e in ewts)
    mean_ewt = statistics.fmean(e for e in ewts if e is not None)
    mean_wait = statistics.fmean(w for w, _ in erlang_run)
    assert mean_ewt == pytest.approx(mean_wait, rel=0.10)
    # Callers told "no wait" wait far less than those told a position-based wait.
    told_zero = [w for w, e in erlang_run if e == 0.0]
    told_more = [w for w, e in erlang_run if e is not None and e > 0.0]
    assert statistics.fmean(told_zero) < 2.0 < statistics.fmean(told_more)
    # Grouped by the estimate, the measured waits follow it (within 20 % per group).
    by_position: dict[int, list[float]] = {}
    for w, e in erlang_run:
        if e:
            by_position.setdefault(round(e * AGENTS / AHT), []).append(w)
    for position in (1, 2, 3):
        waits = by_position[position]
        assert statistics.fmean(waits) == pytest.approx(position * AHT / AGENTS, rel=0.20)


def test_simulated_hour_loses_no_call() -> None:
    """200 calls in an hour to 10 agents with abandons, callbacks and missed rings all reach an end."""
    queue = QueueConfig(
        name="general",
        wrap_up_s=30.0,
        auto_pause_after=2,
        callback_max_attempts=3,
        callback_retry_s=120.0,
    )
    result = simulate(
        SimParams(
            arrival_rate=200 / 3600,
            aht_s=180.0,
            agents=10,
            calls=200,
            seed=5,
            ring_s=5.0,
            patience_s=240.0,
            callback_share=0.4,
            callback_after_s=45.0,
            callback_answer_p=0.6,
            ring_answer_p=0.9,
            queue=queue,
        )
    )
    outcomes = Counter(c.outcome for c in result.calls)
    assert len(result.calls) == 200
    assert outcomes[Outcome.PENDING] == 0
    assert set(outcomes) <= {
        Outcome.ANSWERED,
        Outcome.ABANDONED,
        Outcome.CALLED_BACK,
        Outcome.CALLBACK_UNREACHABLE,
    }
    # The load (10 Erlangs on 10 agents) makes every path happen.
    for outcome in (Outcome.ANSWERED, Outcome.ABANDONED, Outcome.CALLED_BACK):
        assert outcomes[outcome] > 0
    state = result.state
    stats = state.queue_stats("general", result.end_time)
    assert (stats.waiting, stats.callbacks_pending) == (0, 0)
    assert state.callbacks(result.end_time) == []
    assert (
        stats.answered + stats.callbacks_answered
        == outcomes[Outcome.ANSWERED] + outcomes[Outcome.CALLED_BACK]
    )
    assert stats.abandoned == outcomes[Outcome.ABANDONED]
    states = {v.state for v in state.agents(result.end_time)}
    assert states <= {AgentState.AVAILABLE, AgentState.PAUSED}
