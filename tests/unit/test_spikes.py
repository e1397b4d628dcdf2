"""The spike detector on synthetic data: flat noise gives no alarm, planted spikes are all found."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from callcenter.analytics.spikes import (
    SpikePolicy,
    count_table,
    detect_range,
    detect_spikes,
    locality_of,
    negbin_tail,
    topic_trends,
    weekday_factors,
)

START = date(2026, 1, 5)  # a Monday
DAYS = 180
TOPICS = [str(code) for code in range(101, 126)]
LOCALITIES = ["Дніпро", "Кривий Ріг", "Кам'янське", "Нікополь", "Павлоград", "Новомосковськ", "Марганець",
              "Жовті Води", "Покров", "Синельникове", "Вільногірськ", "Апостолове"]  # fmt: skip
WEEKDAY_SHAPE = [1.3, 1.15, 1.1, 1.05, 1.0, 0.45, 0.35]


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's sampler (the rates here are small)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def flat_data(seed: int) -> tuple[dict[tuple[str, str], dict[date, int]], dict[tuple[str, str], float]]:
    """Six months of Poisson counts per (topic, locality) with a weekly shape and no spike."""
    rng = random.Random(seed)
    rates = {(t, loc): rng.choice([0.02, 0.1, 0.3, 1.0, 2.5, 6.0]) for t in TOPICS for loc in LOCALITIES}
    table: dict[tuple[str, str], dict[date, int]] = {}
    for key, rate in rates.items():
        series = {}
        for n in range(DAYS):
            day = START + timedelta(days=n)
            count = poisson(rng, rate * WEEKDAY_SHAPE[day.weekday()])
            if count:
                series[day] = count
        table[key] = series
    return table, rates


def test_flat_noise_over_months_raises_no_alarm() -> None:
    """Four months of daily tests on 300 flat Poisson series give zero alarms."""
    table, _ = flat_data(seed=20261124)
    spikes = detect_range(table, START + timedelta(days=56), START + timedelta(days=DAYS - 1))
    assert spikes == []


def test_an_overdispersed_series_is_judged_by_its_own_variance() -> None:
    """A count a Poisson would flag is no alarm in a series whose days swing between 0 and 10."""
    days = [START + timedelta(days=n) for n in range(56)]
    swinging = {d: (10 if n % 2 else 0) for n, d in enumerate(days)}
    steady = {d: 5 for d in days}
    test_day = START + timedelta(days=56)
    assert negbin_tail(16, 5.0, 5.0) < 0.001 / 2
    swinging[test_day] = 16
    steady[test_day] = 16
    table = {("109", "Дніпро"): swinging, ("106", "Покров"): steady}
    spikes = detect_spikes(table, test_day)
    assert [(s.topic, s.locality) for s in spikes] == [("106", "Покров")]


def test_every_planted_spike_is_found_and_nothing_else() -> None:
    """Spikes of at least 10 calls and 5× to 12× the usual count planted in random series and days are each found once."""
    table, rates = flat_data(seed=424242)
    rng = random.Random(99)
    planted: set[tuple[str, str, date]] = set()
    keys = sorted(table)
    while len(planted) < 40:
        key = rng.choice(keys)
        day = START + timedelta(days=rng.randrange(60, DAYS))
        if any(p[:2] == key and abs((p[2] - day).days) < 2 for p in planted):
            continue
        usual = rates[key] * WEEKDAY_SHAPE[day.weekday()]
        extra = max(10, math.ceil(rng.uniform(5.0, 12.0) * usual))
        table[key][day] = table[key].get(day, 0) + extra
        planted.add((key[0], key[1], day))
    spikes = detect_range(table, START + timedelta(days=56), START + timedelta(days=DAYS - 1))
    found = {(s.topic, s.locality, s.day) for s in spikes}
    assert found == planted
    assert all(s.p_value < s.threshold and s.count >= 6 for s in spikes)


def test_a_spike_in_progress_is_found_in_the_morning() -> None:
    """With partial=True, a district's heating calls by mid-morning are flagged before the day ends."""
    table, _ = flat_data(seed=5)
    today = START + timedelta(days=120)
    # A third of the line's usual day has arrived: scale every series' today count down...
    for series in table.values():
        if today in series:
            series[today] = series[today] // 3
    table[("109", "Павлоград")][today] = table[("109", "Павлоград")].get(today, 0) + 9
    spikes = detect_spikes(table, today, partial=True)
    assert [(s.topic, s.locality) for s in spikes] == [("109", "Павлоград")]
    assert spikes[0].details["day_fraction"] < 0.6


def test_small_counts_never_alarm_even_in_a_silent_series() -> None:
    """Five calls where there were none before stay below the minimum count; six are a spike."""
    table = {("109", "Покров"): {START + timedelta(days=70): 5}, ("106", "Дніпро"): {START: 1}}
    assert detect_spikes(table, START + timedelta(days=70)) == []
    table[("109", "Покров")][START + timedelta(days=70)] = 6
    assert [s.count for s in detect_spikes(table, START + timedelta(days=70))] == [6]


def test_weekday_factors_follow_the_pooled_line() -> None:
    """The pooled weekday profile makes a Monday heavier than a Sunday."""
    table, _ = flat_data(seed=3)
    factors = weekday_factors(table, START + timedelta(days=100))
    assert factors[0] > 1.1 and factors[6] < 0.6
    assert sum(factors) / 7 == pytest.approx(1.0, abs=0.02)


def test_negbin_tail_matches_direct_sums() -> None:
    """The tail probability equals 1 − the lower sum for Poisson and negative binomial."""
    lam = 3.0
    lower = sum(math.exp(-lam) * lam**k / math.factorial(k) for k in range(7))
    assert negbin_tail(7, lam, lam) == pytest.approx(1 - lower, rel=1e-9)
    mean, var = 4.0, 12.0
    r = mean * mean / (var - mean)
    p = r / (r + mean)
    pmf = [math.comb(k + int(r) - 1, k) * p**r * (1 - p) ** k for k in range(10)]
    assert negbin_tail(10, mean, var) == pytest.approx(1 - sum(pmf), rel=1e-9)
    assert negbin_tail(0, 1.0, 1.0) == 1.0


def test_locality_normalises_agent_typed_residences() -> None:
    """Residence texts with prefixes and street parts reduce to the locality name."""
    assert locality_of("м. Дніпро, вул. Шевченка, 5") == "Дніпро"
    assert locality_of("  с.  Вільне ,  Новомосковський р-н") == "Вільне"
    assert locality_of("смт Покровське") == "Покровське"
    assert locality_of("") == locality_of(None) == "—"


def test_count_table_counts_records_per_series_and_day() -> None:
    """Records are counted per (topic, locality, day)."""
    d = START
    table = count_table([("109", "Дніпро", d), ("109", "Дніпро", d), ("106", "Дніпро", d)])
    assert table == {("109", "Дніпро"): {d: 2}, ("106", "Дніпро"): {d: 1}}


def test_policy_refuses_nonsense() -> None:
    """A policy with a window shorter than a week or alpha outside (0, 1) is refused."""
    with pytest.raises(ValueError):
        SpikePolicy(baseline_days=3)
    with pytest.raises(ValueError):
        SpikePolicy(alpha=1.5)


def test_topic_trends_by_day_and_week_for_one_locality() -> None:
    """Trends count a locality's topics per day or ISO week, the rest of the topics as "other"."""
    d = START  # Monday
    records = [("109", "Дніпро", d), ("109", "Дніпро", d + timedelta(days=1)), ("106", "Дніпро", d),
               ("109", "Покров", d), ("110", "Дніпро", d + timedelta(days=8)), ("103", "Дніпро", d)]  # fmt: skip
    daily = topic_trends(records, d, d + timedelta(days=2), locality="Дніпро")
    assert daily.labels == (
        d.isoformat(),
        (d + timedelta(days=1)).isoformat(),
        (d + timedelta(days=2)).isoformat(),
    )
    assert daily.series["109"] == (1, 1, 0) and next(iter(daily.series)) == "109"
    assert daily.localities == {"Дніпро": 4, "Покров": 1}
    weekly = topic_trends(records, d, d + timedelta(days=13), granularity="week", top=1)
    assert weekly.labels == ("2026-W02", "2026-W03")
    assert weekly.series == {"109": (3, 0), "other": (2, 1)}
