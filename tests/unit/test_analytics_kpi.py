"""KPI definitions on small hand-computed cases: SL, ASA, AHT, abandon rate, occupancy."""

from __future__ import annotations

import pytest

from callcenter.analytics.kpi import (
    KpiAccumulator,
    KpiCounters,
    StintOutcome,
    answered_within_target,
    is_short_abandon,
)


def _ten_calls() -> KpiAccumulator:
    """Ten stints worked out by hand in the assertions below (target 20 s)."""
    acc = KpiAccumulator()
    for wait in (5, 10, 20, 25, 40, 60):  # answered: 3 within 20 s (5, 10, 20 inclusive)
        acc.add_stint(StintOutcome.ANSWERED, wait, 20)
    acc.add_stint(StintOutcome.ABANDONED, 30, 20)
    acc.add_stint(StintOutcome.SHORT_ABANDON, 3, 20)
    acc.add_stint(StintOutcome.CALLBACK, 50, 20)
    acc.add_stint(StintOutcome.OVERFLOW, 120, 20)
    acc.add_handling(talk_s=100, hold_s=20, wrap_s=30)
    acc.add_handling(talk_s=200, hold_s=0, wrap_s=50)
    acc.add_staffed(3600, handling_s=400)
    return acc


def test_service_level_excludes_short_abandons_and_callbacks() -> None:
    """SL = 3 within target / (6 answered + 1 abandoned + 1 overflow) = 3/8."""
    k = _ten_calls().snapshot()
    assert k.offered == 10
    assert k.sl_denominator == 8
    assert k.service_level == pytest.approx(3 / 8)


def test_asa_is_mean_wait_of_answered_only() -> None:
    """ASA = (5+10+20+25+40+60)/6 = 26.67 s; abandoned waits do not count."""
    assert _ten_calls().snapshot().asa_s == pytest.approx(160 / 6)


def test_aht_is_talk_hold_wrap_per_answered_call() -> None:
    """AHT = (100+20+30 + 200+0+50) / 6 answered = 66.67 s."""
    assert _ten_calls().snapshot().aht_s == pytest.approx(400 / 6)


def test_abandon_and_answer_rates_leave_out_short_abandons() -> None:
    """Abandon rate = 1 / (10 − 1 short) and answer rate = 6 / 9."""
    k = _ten_calls().snapshot()
    assert k.abandon_rate == pytest.approx(1 / 9)
    assert k.answer_rate == pytest.approx(6 / 9)


def test_occupancy_and_longest_wait() -> None:
    """Occupancy = 400 handling / 3600 staffed agent-seconds; longest wait = 120 s."""
    k = _ten_calls().snapshot()
    assert k.occupancy == pytest.approx(400 / 3600)
    assert k.longest_wait_s == 120


def test_empty_counters_give_no_data_not_zero() -> None:
    """With no calls every ratio is None, so a quiet interval is not shown as 0 % or 100 %."""
    k = KpiCounters()
    assert (k.service_level, k.asa_s, k.aht_s, k.abandon_rate, k.occupancy) == (None, None, None, None, None)


def test_merge_equals_feeding_one_accumulator() -> None:
    """Merging two accumulators equals adding all calls to one; longest wait takes the maximum."""
    a, b, both = KpiAccumulator(), KpiAccumulator(), KpiAccumulator()
    for acc, wait in ((a, 12.0), (b, 70.0), (a, 3.0)):
        acc.add_stint(StintOutcome.ANSWERED, wait)
        both.add_stint(StintOutcome.ANSWERED, wait)
    a.merge(b)
    assert a.snapshot() == both.snapshot()
    assert a.snapshot().longest_wait_s == 70.0
    assert (
        KpiCounters(answered=1, longest_wait_s=5) + KpiCounters(answered=2, longest_wait_s=9)
    ) == KpiCounters(answered=3, longest_wait_s=9)


def test_from_mapping_reads_sql_sums() -> None:
    """Counters built from a row of SQL sums (with NULLs) give the same KPIs as live counters."""
    row = {"offered": 4, "answered": 3, "answered_in_target": 2, "abandoned": 1, "wait_answered_s": 30.0}
    k = KpiCounters.from_mapping({**row, "talk_s": None})
    assert k.service_level == pytest.approx(2 / 4)
    assert k.asa_s == pytest.approx(10.0)
    assert isinstance(k.answered, int) and isinstance(k.wait_answered_s, float)


def test_thresholds_are_inclusive_target_and_exclusive_short_abandon() -> None:
    """20 s meets a 20 s target; 5 s is no longer a short abandon, 4.99 s is."""
    assert answered_within_target(20.0, 20.0) and not answered_within_target(20.01, 20.0)
    assert is_short_abandon(4.99) and not is_short_abandon(5.0)


def test_unknown_counter_rejected() -> None:
    """Adding to a counter that does not exist raises instead of silently creating it."""
    with pytest.raises(KeyError):
        KpiAccumulator().add("offerd")


def test_add_call_counts_demand_outcome_and_handling() -> None:
    """add_call counts every call as demand, a queued one as offered, and handling only if answered."""
    acc = KpiAccumulator()
    acc.add_call(None)  # e.g. hung up in the IVR
    acc.add_call(StintOutcome.ANSWERED, 12, 20, talk_s=100, hold_s=10, wrap_s=20)
    acc.add_call(StintOutcome.ABANDONED, 40, 20, talk_s=999)
    k = acc.snapshot()
    assert (k.calls, k.offered, k.answered, k.abandoned) == (3, 2, 1, 1)
    assert k.aht_s == pytest.approx(130.0)
    assert k.service_level == pytest.approx(1 / 2)
