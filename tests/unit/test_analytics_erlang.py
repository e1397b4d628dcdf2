"""Erlang B / C formulas against published table values and an independent exact computation.

References used below:

* The Westbay Engineers worked example ("The Erlang-C Formula", erlang.com, reproduced widely):
  360 calls per half hour, 240 s average handle time, 55 agents, 15 s target.  Published results:
  traffic 48 Erlangs, occupancy 87.3 %, probability of waiting 0.2387 (23.9 %),
  ASA 8.2 s, service level 84.6 % within 15 s.
* Classic Erlang B tables (e.g. the ITU/Bell tables reprinted in traffic-engineering handbooks):
  10 circuits carry 4.46 / 5.08 / 5.53 / 6.22 Erlangs at 1 / 2 / 3 / 5 % blocking; 20 circuits
  carry 12.03 Erlangs and 5 circuits 1.36 Erlangs at 1 %; B(10, 5 E) = 1.84 %.
* The textbook closed form for two servers: C(2, 1 E) = 1/3 exactly.

The exact cross-check evaluates the factorial-sum definition with ``fractions.Fraction``, a method
that shares no code with the iterative recursion under test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from callcenter.analytics.erlang import (
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    occupancy,
    service_level,
    traffic_erlangs,
)
from callcenter.errors import ValidationError


def _exact_erlang_c(n: int, a: Fraction) -> Fraction:
    """Erlang C from its factorial definition, in exact rational arithmetic."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    bottom = sum((a**k / math.factorial(k) for k in range(n)), Fraction(0)) + top
    return top / bottom


def _exact_erlang_b(n: int, a: Fraction) -> Fraction:
    """Erlang B from its factorial definition, in exact rational arithmetic."""
    terms = [a**k / math.factorial(k) for k in range(n + 1)]
    return terms[-1] / sum(terms, Fraction(0))


def test_westbay_example_traffic_and_occupancy() -> None:
    """360 calls per 30 min at 240 s AHT is 48 Erlangs, and 55 agents are 87.3 % occupied."""
    a = traffic_erlangs(360, 1800, 240)
    assert a == pytest.approx(48.0)
    assert round(occupancy(55, a), 3) == 0.873


def test_westbay_example_probability_of_waiting() -> None:
    """With 55 agents at 48 Erlangs the probability of waiting is the published 0.2387."""
    assert round(erlang_c(55, 48.0), 4) == 0.2387


def test_westbay_example_asa_and_service_level() -> None:
    """The same example gives ASA 8.2 s and 84.6 % answered within 15 s, as published."""
    assert round(average_speed_of_answer(55, 48.0, 240), 1) == 8.2
    assert round(service_level(55, 48.0, 240, 15), 3) == 0.846


def test_westbay_example_staffing_for_80_in_20() -> None:
    """The 80/20 goal at 48 Erlangs needs 54 agents: 53 falls short, 54 meets it."""
    assert service_level(53, 48.0, 240, 20) < 0.80 <= service_level(54, 48.0, 240, 20)
    assert agents_needed(360, 1800, 240, 20, 0.80) == 54


def test_erlang_b_table_values() -> None:
    """Erlang B matches the classic blocking table (values printed to two decimals of Erlangs)."""
    for circuits, erlangs, blocking in [
        (10, 4.46, 0.01),
        (10, 5.08, 0.02),
        (10, 5.53, 0.03),
        (10, 6.22, 0.05),
        (20, 12.03, 0.01),
        (5, 1.36, 0.01),
    ]:
        assert erlang_b(circuits, erlangs) == pytest.approx(blocking, rel=0.01)
    assert round(erlang_b(10, 5.0), 4) == 0.0184


def test_two_servers_one_erlang_is_one_third() -> None:
    """C(2, 1 E) equals the closed-form value 1/3."""
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "a"),
    [(1, Fraction(1, 2)), (3, Fraction(5, 2)), (10, Fraction(7)), (30, Fraction(51, 2)), (55, Fraction(48))],
)
def test_recursion_agrees_with_exact_factorial_sum(n: int, a: Fraction) -> None:
    """The iterative recursion equals the factorial-sum definitions computed exactly."""
    assert erlang_b(n, float(a)) == pytest.approx(float(_exact_erlang_b(n, a)), rel=1e-12)
    assert erlang_c(n, float(a)) == pytest.approx(float(_exact_erlang_c(n, a)), rel=1e-12)


def test_stable_for_hundreds_of_agents() -> None:
    """At 950 Erlangs with 1,000 agents the result is finite, in (0, 1) and equals the exact value."""
    c = erlang_c(1000, 950.0)
    assert 0.0 < c < 1.0
    assert c == pytest.approx(float(_exact_erlang_c(1000, Fraction(950))), rel=1e-9)
    n = agents_needed(36_000, 1800, 240, 20, 0.80)
    assert service_level(n - 1, 4800.0, 240, 20) < 0.80 <= service_level(n, 4800.0, 240, 20)


def test_unstable_queue_conventions() -> None:
    """When agents do not exceed traffic every caller waits, SL is 0 and ASA is infinite."""
    assert erlang_c(48, 48.0) == 1.0
    assert erlang_c(10, 12.5) == 1.0
    assert service_level(10, 12.5, 180, 20) == 0.0
    assert math.isinf(average_speed_of_answer(10, 12.5, 180))
    assert occupancy(10, 12.5) == 1.0


def test_zero_traffic_needs_no_agents() -> None:
    """With no calls nobody waits, service is perfect and zero agents are needed."""
    assert erlang_c(3, 0.0) == 0.0
    assert service_level(3, 0.0, 180, 20) == 1.0
    assert average_speed_of_answer(3, 0.0, 180) == 0.0
    assert agents_needed(0, 900, 180, 20, 0.8) == 0


def test_max_occupancy_raises_staffing() -> None:
    """A maximum occupancy of 85 % lifts 54 agents to ceil(48 / 0.85) = 57."""
    assert agents_needed(360, 1800, 240, 20, 0.80, max_occupancy=0.85) == 57
    assert agents_needed(360, 1800, 240, 20, 0.80, max_occupancy=0.99) == 54


def test_service_level_rises_with_agents() -> None:
    """Adding agents never lowers the service level or raises the probability of waiting."""
    previous_sl, previous_c = -1.0, 2.0
    for n in range(49, 80):
        sl, c = service_level(n, 48.0, 240, 20), erlang_c(n, 48.0)
        assert sl >= previous_sl and c <= previous_c
        previous_sl, previous_c = sl, c


def test_invalid_inputs_rejected() -> None:
    """Negative agents or traffic and an impossible goal raise ValidationError."""
    with pytest.raises(ValidationError):
        erlang_c(-1, 3.0)
    with pytest.raises(ValidationError):
        erlang_b(3, -0.5)
    with pytest.raises(ValidationError):
        agents_needed(100, 900, 180, 20, 1.0)
    with pytest.raises(ValidationError):
        agents_needed(100, 0, 180, 20, 0.8)
