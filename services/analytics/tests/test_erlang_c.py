"""Erlang C (CC-09): published worked examples to 3 decimals, and properties for any traffic."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.analytics.planning.erlang import (
    PlanningError, agents_needed, asa, erlang_b, erlang_c, evaluate, rostered, service_level, traffic,
)


def test_call_centre_helper_worked_example() -> None:
    """Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
    (callcentrehelper.com): 100 calls in 30 minutes, AHT 180 s, 80 % answered in 20 s, 30 %
    shrinkage. Its published figures (as the R package ErlangC 0.1.0 reproduces them in its
    documented example, rdocumentation.org/packages/ErlangC): traffic 10 Erlangs, P(wait) with
    11 agents 0.6821182; with 14 agents P(wait) 0.1741319, service level 0.88835, ASA
    7.835937 s, occupancy 0.7142857; 14 agents needed."""
    assert traffic(100, 180, 1800) == pytest.approx(10.0)
    assert round(erlang_c(11, 10.0), 3) == 0.682
    assert erlang_c(11, 10.0) == pytest.approx(0.6821182, abs=5e-7)
    fourteen = evaluate(100, 180, 14, target_seconds=20, shrinkage=0.3)
    assert round(fourteen.probability_wait, 3) == 0.174
    assert fourteen.probability_wait == pytest.approx(0.1741319, abs=5e-7)
    assert fourteen.service_level == pytest.approx(0.88835, abs=5e-6)
    assert fourteen.asa_seconds == pytest.approx(7.83593701177724, abs=5e-4)
    assert fourteen.occupancy == pytest.approx(0.7142857, abs=5e-7)
    needed = agents_needed(100, 180, target_level=0.8, target_seconds=20, shrinkage=0.3, max_occupancy=0.85)
    assert needed.agents == 14
    assert needed.scheduled == 20              # 14 / (1 - 0.3)


def test_westbay_step_by_step_inputs() -> None:
    """The inputs of Westbay Engineers' step-by-step Erlang-C page (360 calls per half hour,
    240 s calls, 55 agents, 15 s target). Its own result figures could not be read here, so
    these values are the textbook formulas evaluated by hand (and by the factorial form in the
    next test): traffic 48 Erlangs, occupancy 0.873, P(wait) 0.2387, ASA 8.18 s, SL(15 s) 0.846."""
    one = evaluate(360, 240, 55, target_seconds=15)
    assert one.traffic == pytest.approx(48.0)
    assert round(one.occupancy, 3) == 0.873
    assert round(one.probability_wait, 3) == 0.239
    assert round(one.asa_seconds, 2) == 8.18
    assert round(one.service_level, 3) == 0.846


def test_recursion_matches_the_factorial_formula_where_that_is_exact() -> None:
    for n, a in [(1, 0.5), (3, 2.2), (10, 7.5), (25, 20.0)]:
        terms = sum(a ** k / math.factorial(k) for k in range(n))
        top = a ** n / math.factorial(n) * n / (n - a)
        assert erlang_c(n, a) == pytest.approx(top / (terms + top), rel=1e-12)


def test_large_traffic_is_finite() -> None:
    """10,000 Erlangs: factorials would overflow a float; the recursion does not."""
    big = agents_needed(600_000, 30, target_level=0.9, target_seconds=15)
    assert big.traffic == pytest.approx(10_000)
    assert 10_000 < big.agents < 10_300
    assert 0.9 <= big.service_level <= 1
    assert math.isfinite(big.asa_seconds)


def test_bad_input_names_the_field() -> None:
    cases: list[tuple[Callable[[], object], str]] = [(lambda: traffic(-1, 180), "calls"), (lambda: traffic(10, 0), "aht_seconds"),
             (lambda: agents_needed(10, 180, target_level=1.0), "target_level"),
             (lambda: agents_needed(10, 180, shrinkage=1.0), "shrinkage"),
             (lambda: evaluate(10, 180, -1), "agents"), (lambda: traffic(math.nan, 180), "calls")]
    for call, field in cases:
        with pytest.raises(PlanningError) as raised:
            call()
        assert raised.value.field == field


def test_overloaded_and_empty_intervals() -> None:
    assert erlang_c(5, 5.0) == 1.0 and service_level(5, 5.0, 180, 15) == 0.0 and asa(5, 5.0, 180) == math.inf
    assert evaluate(100, 180, 5).as_dict()["asa_seconds"] is None       # JSON has no infinity
    empty = agents_needed(0, 180)
    assert (empty.agents, empty.scheduled, empty.service_level, empty.asa_seconds) == (0, 0, 1.0, 0.0)


loads = st.floats(min_value=0.01, max_value=2000, allow_nan=False)
ahts = st.floats(min_value=5, max_value=3600, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(a=loads, extra=st.integers(min_value=0, max_value=60))
def test_probabilities_are_bounded_and_fall_with_more_agents(a: float, extra: int) -> None:
    n = math.floor(a) + 1 + extra
    c, c_more = erlang_c(n, a), erlang_c(n + 1, a)
    assert 0 <= erlang_b(n, a) <= c <= 1            # waiting is at least as likely as blocking
    assert c_more <= c
    assert asa(n + 1, a, 180) <= asa(n, a, 180)


@settings(max_examples=200, deadline=None)
@given(a=loads, extra=st.integers(min_value=0, max_value=60), aht=ahts,
       t=st.floats(min_value=0, max_value=600), more_t=st.floats(min_value=0, max_value=600))
def test_service_level_grows_with_agents_and_target(a: float, extra: int, aht: float, t: float, more_t: float) -> None:
    n = math.floor(a) + 1 + extra
    sl = service_level(n, a, aht, t)
    assert 0 <= sl <= 1
    assert service_level(n + 1, a, aht, t) >= sl - 1e-12
    assert service_level(n, a, aht, t + more_t) >= sl - 1e-12
    assert sl >= 1 - erlang_c(n, a) - 1e-12          # those who never wait are answered at once


@settings(max_examples=150, deadline=None)
@given(calls=st.floats(min_value=0, max_value=20_000), aht=ahts, level=st.floats(min_value=0.05, max_value=0.99),
       t=st.floats(min_value=0, max_value=120), shrink=st.floats(min_value=0, max_value=0.6))
def test_agents_needed_is_the_fewest_that_meet_the_target(calls: float, aht: float, level: float, t: float,
                                                          shrink: float) -> None:
    got = agents_needed(calls, aht, level, t, 1800, shrink)
    assert got.service_level >= level
    assert got.scheduled >= got.agents and got.scheduled == rostered(got.agents, shrink)
    if got.agents > math.floor(got.traffic) + 1:
        assert service_level(got.agents - 1, got.traffic, aht, t) < level
