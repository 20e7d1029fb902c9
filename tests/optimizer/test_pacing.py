"""Even pacing: the controller tracks plan, pauses when ahead, and spends along the day."""

from __future__ import annotations

from optimizer.pacing import PacingSpec, PacingState, step_pacing


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
