"""Spike detection for content analysis: a topic suddenly frequent in one locality (pure).

The regulations ask the contact center to point out "issues that need urgent reaction": many
calls about heating from one district today. This module finds them in daily appeal counts per
(topic, locality) series; ``callcenter.services.content_alerts`` feeds it from the database and
``docs/content-analysis.md`` explains the method for supervisors.

Method, for a test day ``D`` and each series with calls in its history window or on ``D``:

1. **History window**: the ``baseline_days`` days before ``D`` (default 8 weeks). A series
   needs calls on at least one of them, or on ``D`` itself, to be tested at all.
2. **Robust rate**: the series' daily counts over the window with the top ``trim`` share of days
   capped at the next value (winsorized, so last week's spike does not hide this week's), plus a
   pseudo-count of ``prior_count`` spread over the window (a series never seen before gets a small, non-zero
   rate instead of an infinite surprise).
3. **Weekday shape**: hotlines are busier on Mondays than on Sundays. Per-series weekday
   profiles would be far too noisy, so one profile is pooled over the whole line: the factor of
   ``D``'s weekday is the line's mean count on that weekday over the window divided by its mean
   over all days. The expected count is ``rate × factor``.
4. **Tail probability**: the chance of ``count`` or more under a negative binomial with that
   mean, whose dispersion is the history's Pearson statistic against its weekday-shaped
   expectation (each day's term capped at 9, a 3-sigma day, so a past spike weighs little),
   plus the uncertainty of the rate itself (the Gamma-Poisson posterior predictive adds
   ``expected² / (calls in the window + prior_count)``). With no extra variance this is a
   Poisson. Extra variance a topic naturally has, or a rate known from few calls, thus raises
   no alarm.
5. **Guards against false alarms**: a spike needs ``count ≥ min_count`` (a handful of calls is
   never an emergency), ``count ≥ min_ratio × expected``, and a tail probability below
   ``alpha / m`` where ``m`` is the number of series tested that day (Bonferroni), so the chance
   of any false alarm on a day of flat data stays below ``alpha`` however many series there are.

A day still in progress (``partial=True``) is compared with the part of the day's calls the line
has already had: the expected count is scaled by the line's calls so far over its expected full
day (capped at 1), so a morning spike is found in the morning.

Time is passed in: nothing here reads the clock.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = [
    "DEFAULT_POLICY",
    "CountTable",
    "SeriesKey",
    "Spike",
    "SpikePolicy",
    "Trends",
    "count_table",
    "detect_range",
    "detect_spikes",
    "locality_of",
    "negbin_tail",
    "topic_trends",
    "weekday_factors",
]

#: (topic code, locality)
SeriesKey = tuple[str, str]
#: Daily counts per series: ``table[(topic, locality)][day] = count``.
CountTable = Mapping[SeriesKey, Mapping[date, int]]


@dataclass(frozen=True, slots=True)
class SpikePolicy:
    """The detector's settings; the defaults suit a regional line (see docs/content-analysis.md)."""

    baseline_days: int = 56
    min_count: int = 6
    min_ratio: float = 3.0
    alpha: float = 0.001
    trim: float = 0.05
    prior_count: float = 1.0

    def __post_init__(self) -> None:
        if self.baseline_days < 7:
            raise ValueError("baseline_days must cover at least one week")
        if self.min_count < 1 or self.min_ratio < 1.0:
            raise ValueError("min_count must be ≥ 1 and min_ratio ≥ 1")
        if not 0.0 < self.alpha < 1.0 or not 0.0 <= self.trim < 0.5:
            raise ValueError("alpha must be in (0, 1) and trim in [0, 0.5)")


DEFAULT_POLICY = SpikePolicy()


@dataclass(frozen=True, slots=True)
class Spike:
    """One series found spiking on ``day``: what was seen, what was expected, how unlikely."""

    topic: str
    locality: str
    day: date
    count: int
    expected: float
    p_value: float
    threshold: float  # alpha / number of series tested that day
    tested: int
    details: Mapping[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times the expected count was seen."""
        return self.count / self.expected if self.expected > 0 else math.inf


_PREFIXES = re.compile(r"^(?:м\.|місто|с\.|село|смт\.?|селище|сел\.|обл\.|г\.|город)\s*", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
#: A day's squared Pearson residual counts at most this much (a 3-sigma day) in the dispersion.
_PEARSON_CAP = 9.0


def locality_of(residence: str | None) -> str:
    """The locality a residence text names: its first comma-separated part, without "м.", "с."….

    "м. Дніпро, вул. Шевченка 5" and "Дніпро" both give "Дніпро"; an empty residence gives "—".
    The residence is free text typed by agents, so this is a normalisation, not a gazetteer.
    """
    if not residence:
        return "—"
    first = residence.split(",", 1)[0].strip()
    first = _SPACES.sub(" ", _PREFIXES.sub("", first)).strip(" .")
    if not first:
        return "—"
    return first[:1].upper() + first[1:]


def count_table(records: Iterable[tuple[str, str, date]]) -> dict[SeriesKey, dict[date, int]]:
    """Daily counts per (topic, locality) from (topic, locality, local day) records."""
    table: dict[SeriesKey, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for topic, locality, day in records:
        table[(topic, locality)][day] += 1
    return {key: dict(days) for key, days in table.items()}


def _window(day: date, days: int) -> list[date]:
    return [day - timedelta(days=n) for n in range(days, 0, -1)]


def weekday_factors(table: CountTable, day: date, policy: SpikePolicy = DEFAULT_POLICY) -> list[float]:
    """The line's weekday profile over ``day``'s history window: mean per weekday / mean per day.

    Weekdays with no calls at all in the window get factor 1 (no information, no adjustment)
    rather than 0, which would make any call on such a day look infinitely surprising.
    """
    window = _window(day, policy.baseline_days)
    totals = [sum(series.get(d, 0) for series in table.values()) for d in window]
    overall = sum(totals) / len(totals)
    factors = [1.0] * 7
    if overall <= 0:
        return factors
    for weekday in range(7):
        same = [t for d, t in zip(window, totals, strict=True) if d.weekday() == weekday]
        if same and sum(same) > 0:
            factors[weekday] = (sum(same) / len(same)) / overall
    return factors


def negbin_tail(count: int, mean: float, variance: float) -> float:
    """P(X ≥ count) for X negative binomial with ``mean`` and ``variance`` (Poisson if not over).

    Summed upwards from ``count`` (not 1 − the lower sum) so tiny tails keep their precision.
    """
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if variance > mean * 1.0001:
        r = mean * mean / (variance - mean)
        p = r / (r + mean)

        def log_pmf(k: int) -> float:
            return (
                math.lgamma(k + r)
                - math.lgamma(r)
                - math.lgamma(k + 1)
                + r * math.log(p)
                + k * math.log1p(-p)
            )
    else:

        def log_pmf(k: int) -> float:
            return -mean + k * math.log(mean) - math.lgamma(k + 1)

    total = 0.0
    k = count
    while True:
        term = math.exp(log_pmf(k))
        total += term
        # Past the mode the terms only shrink; stop when they no longer matter.
        if k > mean and (term < total * 1e-12 or term == 0.0):
            break
        k += 1
        if k > count + 100_000:
            break
    return min(1.0, total)


def _winsorized(values: list[int], trim: float) -> list[int]:
    """``values`` with the top ``trim`` share capped at the largest value below them.

    Capping rather than dropping keeps the mean nearly unbiased on flat data while a past
    spike counts as no more than an ordinary busy day.
    """
    drop = math.ceil(len(values) * trim) if trim > 0 else 0
    if not drop or drop >= len(values):
        return list(values)
    cap = sorted(values)[len(values) - drop - 1]
    return [min(v, cap) for v in values]


def _line_total(table: CountTable, day: date) -> int:
    return sum(series.get(day, 0) for series in table.values())


def detect_spikes(
    table: CountTable,
    day: date,
    policy: SpikePolicy = DEFAULT_POLICY,
    *,
    partial: bool = False,
) -> list[Spike]:
    """The series spiking on ``day`` given the counts before it; most unlikely first."""
    window = _window(day, policy.baseline_days)
    first = window[0]
    factors = weekday_factors(table, day, policy)
    factor = factors[day.weekday()]
    scale = 1.0
    if partial:
        history_total = sum(_line_total(table, d) for d in window)
        expected_day = history_total / len(window) * factor
        scale = min(1.0, _line_total(table, day) / expected_day) if expected_day > 0 else 1.0
    candidates: list[tuple[SeriesKey, int, float, float]] = []
    for key, series in table.items():
        if not any(first <= d <= day for d in series):
            continue
        history = [series.get(d, 0) for d in window]
        kept = _winsorized(history, policy.trim)
        n = len(kept)
        rate = (sum(kept) + policy.prior_count) / n
        # Pearson dispersion against the weekday-shaped expectation, so the weekly rhythm itself
        # is not mistaken for extra variance (which would blunt the test on busy series). It
        # reads the raw history (winsorizing would cut off exactly the tail that over-dispersion
        # lives in) with each day's term capped, so one past spike cannot mute a series for weeks.
        expected_days = [rate * factors[d.weekday()] for d in window]
        pearson = sum(
            min(_PEARSON_CAP, (v - e) ** 2 / e) for v, e in zip(history, expected_days, strict=True) if e > 0
        )
        dispersion = pearson / max(1, n - 1)
        expected = rate * factor * scale
        # The rate is itself an estimate: the Gamma-Poisson posterior predictive adds
        # expected² / (calls seen + prior) to the variance, which matters for sparse series.
        variance = expected * max(1.0, dispersion) + expected * expected / (sum(kept) + policy.prior_count)
        candidates.append((key, series.get(day, 0), expected, variance))
    tested = len(candidates)
    if tested == 0:
        return []
    threshold = policy.alpha / tested
    spikes: list[Spike] = []
    for (topic, locality), count, expected, variance in candidates:
        if count < policy.min_count or count < policy.min_ratio * expected:
            continue
        p_value = negbin_tail(count, expected, variance)
        if p_value < threshold:
            spikes.append(
                Spike(
                    topic,
                    locality,
                    day,
                    count,
                    expected,
                    p_value,
                    threshold,
                    tested,
                    {"weekday_factor": factor, "variance": variance, "day_fraction": scale},
                )
            )
    spikes.sort(key=lambda s: (s.p_value, s.topic, s.locality))
    return spikes


def detect_range(
    table: CountTable, first: date, last: date, policy: SpikePolicy = DEFAULT_POLICY
) -> list[Spike]:
    """``detect_spikes`` for every whole day from ``first`` to ``last`` (backtests, reports)."""
    found: list[Spike] = []
    day = first
    while day <= last:
        found.extend(detect_spikes(table, day, policy))
        day += timedelta(days=1)
    return found


@dataclass(frozen=True, slots=True)
class Trends:
    """Counts per topic over periods (days or ISO weeks) for one locality or the whole region."""

    labels: tuple[str, ...]
    series: Mapping[str, tuple[int, ...]]  # topic → one count per label, most frequent first
    localities: Mapping[str, int]  # locality → appeals in the range (for the filter)


def _period_start(day: date, granularity: str) -> date:
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def topic_trends(
    records: Iterable[tuple[str, str, date]],
    first: date,
    last: date,
    *,
    locality: str | None = None,
    granularity: str = "day",
    top: int = 6,
) -> Trends:
    """The ``top`` topics' counts per day or week (Monday-based) from ``first`` to ``last``.

    ``locality`` None means the whole region; topics beyond ``top`` are summed under "other".
    """
    if granularity not in ("day", "week"):
        raise ValueError("granularity is 'day' or 'week'")
    starts: list[date] = []
    day = _period_start(first, granularity)
    step = timedelta(days=7 if granularity == "week" else 1)
    while day <= last:
        starts.append(day)
        day += step
    index = {start: n for n, start in enumerate(starts)}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * len(starts))
    localities: dict[str, int] = defaultdict(int)
    for topic, place, when in records:
        if not first <= when <= last:
            continue
        localities[place] += 1
        if locality is not None and place != locality:
            continue
        counts[topic][index[_period_start(when, granularity)]] += 1
    ranked = sorted(counts, key=lambda t: (-sum(counts[t]), t))
    series = {t: tuple(counts[t]) for t in ranked[:top]}
    if len(ranked) > top:
        series["other"] = tuple(sum(counts[t][n] for t in ranked[top:]) for n in range(len(starts)))
    labels = tuple(
        s.isoformat() if granularity == "day" else f"{s.isocalendar()[0]}-W{s.isocalendar()[1]:02d}"
        for s in starts
    )
    return Trends(labels, series, dict(sorted(localities.items(), key=lambda kv: (-kv[1], kv[0]))))
