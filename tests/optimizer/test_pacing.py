"""Pacing: the controller tracks plan (even or a traffic curve), pauses when ahead, and
spends along the day."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.pacing import (
    HOURS_PER_DAY,
    HourPlan,
    PacingSpec,
    PacingState,
    plan_fraction,
    step_pacing,
    traffic_curve,
)


def reference_fraction(
    hour: int, seconds_into_hour: float, curve: Sequence[float], hours: Collection[int]
) -> float:
    """``f(t)`` by its definition, one pass over the active hours (the original loop)."""
    active = sorted(hours) if hours else range(HOURS_PER_DAY)
    weights = [curve[h] if curve else 1.0 for h in active]
    total = sum(weights)
    if total <= 0:
        weights = [1.0] * len(weights)
        total = float(len(weights))
    within = min(max(seconds_into_hour / 3600.0, 0.0), 1.0)
    done = 0.0
    for h, w in zip(active, weights, strict=True):
        if h < hour:
            done += w
        elif h == hour:
            done += w * within
    return min(done / total, 1.0)


@given(
    st.one_of(st.just(()), st.lists(st.floats(0, 1e6), min_size=24, max_size=24)),
    st.frozensets(st.integers(0, 23)),
    st.integers(-2, 26),
    st.floats(-10, 4000),
)
def test_hour_plan_gives_the_same_floats_as_the_definition(
    curve: list[float], hours: frozenset[int], hour: int, seconds: float
) -> None:
    expected = reference_fraction(hour, seconds, curve, hours)
    assert HourPlan(curve, hours).fraction(hour, seconds) == expected
    assert plan_fraction(hour, seconds, curve, hours) == expected


def test_pacing_pauses_when_ahead_of_plan() -> None:
    state = step_pacing(PacingState(), 200, 1000, 0.1, 1.0)
    assert state.paused and state.multiplier == 0.0


def test_pacing_raises_multiplier_when_behind() -> None:
    state = step_pacing(PacingState(), 0, 1000, 0.5, 1.0)
    assert state.multiplier > 1.0


def test_pacing_spec_rejects_bad_bounds() -> None:
    try:
        PacingSpec(multiplier_min=2.0)
    except ValueError:
        return
    raise AssertionError("expected ValueError")


def simulate_day(rate_per_hour_at_1: float, daily: int) -> list[float]:
    """Spend follows multiplier x a base rate; returns cumulative spend share at each hour."""
    state = PacingState()
    spent = 0.0
    hourly: list[float] = []
    dt_s = 10.0
    for step in range(int(86400 / dt_s)):
        t = step * dt_s
        state = step_pacing(state, int(spent), daily, t / 86400, dt_s)
        spent += min(state.multiplier, 4.0) * rate_per_hour_at_1 * dt_s / 3600
        if (step + 1) % int(3600 / dt_s) == 0:
            hourly.append(spent / daily)
    return hourly


def test_pacing_day_follows_plan_within_5_percent_per_hour() -> None:
    daily = 1_000_000
    hourly = simulate_day(rate_per_hour_at_1=daily / 10, daily=daily)  # traffic 2.4x the need
    for hour, share in enumerate(hourly, start=1):
        assert abs(share - hour / 24) <= 0.05, (hour, share)
    assert hourly[-1] > 0.95


# Supply per hour as a share of the day's auctions: a thin night and thin late hours.
SUPPLY = [2.0] * 7 + [5.0] * 13 + [0.5] * 4


def simulate_curve_day(curve: tuple[float, ...], daily: int) -> list[float]:
    """Spend = multiplier x an hourly supply-shaped rate, capped by what the hour offers."""
    state = PacingState()
    spent = 0.0
    hourly: list[float] = []
    dt_s = 10.0
    total_supply = sum(SUPPLY)
    for step in range(int(86400 / dt_s)):
        t = step * dt_s
        hour = int(t // 3600)
        f = plan_fraction(hour, t - hour * 3600, curve)
        state = step_pacing(state, int(spent), daily, f, dt_s)
        # at multiplier 1 the campaign buys its even need; at most 2.5x that in any hour
        rate = daily * SUPPLY[hour] / total_supply
        spent += min(state.multiplier, 2.5) * rate * dt_s / 3600
        if (step + 1) % int(3600 / dt_s) == 0:
            hourly.append(spent / daily)
    return hourly


def max_deviation(hourly: list[float], curve: tuple[float, ...]) -> float:
    return max(abs(s - plan_fraction(h, 3600.0, curve)) for h, s in enumerate(hourly))


def test_pacing_traffic_curve_tracks_thin_hours_where_even_plan_cannot() -> None:
    daily = 1_000_000
    curve = traffic_curve(SUPPLY, uniform_weight=0.0)
    assert max_deviation(simulate_curve_day((), daily), ()) > 0.05  # even: supply too thin
    hourly = simulate_curve_day(curve, daily)
    assert max_deviation(hourly, curve) <= 0.05
    assert hourly[-1] > 0.95


def test_traffic_curve_sums_to_one_and_plans_unseen_hours() -> None:
    curve = traffic_curve([10.0] * 20 + [0.0] * 4, uniform_weight=0.25)
    assert sum(curve) == pytest.approx(1.0)
    assert curve[23] == pytest.approx(0.25 / 24)
    assert curve[0] == pytest.approx(0.75 / 20 + 0.25 / 24)


@pytest.mark.parametrize(
    ("counts", "uniform_weight", "message"),
    [
        ([1.0] * 23, 0.25, "need 24 hourly counts, got 23"),
        ([1.0] * 23 + [-1.0], 0.25, "hourly counts must be >= 0"),
        ([1.0] * 24, 1.5, "uniform_weight must be in [0, 1], got 1.5"),
    ],
)
def test_traffic_curve_rejects_bad_input(
    counts: list[float], uniform_weight: float, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        traffic_curve(counts, uniform_weight)


def test_plan_fraction_even_curve_and_active_hours() -> None:
    assert plan_fraction(12, 0.0) == pytest.approx(0.5)
    assert plan_fraction(12, 1800.0) == pytest.approx(12.5 / 24)
    curve = (0.0,) * 12 + (1.0,) * 12
    assert plan_fraction(11, 3599.0, curve) == 0.0
    assert plan_fraction(18, 0.0, curve) == pytest.approx(0.5)
    assert plan_fraction(9, 0.0, hours={8, 9}) == pytest.approx(0.5)
    assert plan_fraction(5, 0.0, curve, hours={1, 2}) == 1.0  # no weight in hours: even


def test_pacing_integral_restarts_with_a_new_day() -> None:
    late = step_pacing(PacingState(), 0, 1000, 0.99, 3600.0)
    assert late.integral > 0
    morning = step_pacing(late, 0, 1000, 0.0, 10.0)
    assert morning.integral == 0.0
    assert morning.multiplier == pytest.approx(1.0)
