"""Even pacing: a spend-rate controller that sets a campaign's bid multiplier.

The plan for a day is ``planned(t) = daily_budget * f(t)`` where ``f`` is the fraction
of the day's traffic expected by time ``t`` (uniform: the fraction of the day elapsed).
Each tick the controller compares spend with plan and moves a multiplier

    e_k   = (planned(t_k) - spent(t_k)) / daily_budget        (positive: behind plan)
    I_k   = clip(I_{k-1} + e_k * dt_k / 3600, -I_max, I_max)
    m_k   = clip(exp(kp * e_k + ki * I_k), m_min, m_max)

and pauses (``m = 0``) while spend is ahead of plan by more than ``ahead_tolerance`` of
the daily budget, so cumulative spend cannot run ahead of plan by more than that plus
the spend of one tick. ASAP campaigns always get 1.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PacingSpec:
    kp: float = 8.0
    ki: float = 4.0
    integral_max: float = 0.5
    multiplier_min: float = 0.05
    multiplier_max: float = 4.0
    ahead_tolerance: float = 0.01  # fraction of the daily budget

    def __post_init__(self) -> None:
        if not (0 < self.multiplier_min <= 1 <= self.multiplier_max):
            raise ValueError("need 0 < multiplier_min <= 1 <= multiplier_max")
        if self.ahead_tolerance < 0:
            raise ValueError("ahead_tolerance must be >= 0")


DEFAULT_PACING = PacingSpec()


@dataclass(frozen=True, slots=True)
class PacingState:
    multiplier: float = 1.0
    integral: float = 0.0
    paused: bool = False


def step_pacing(
    state: PacingState,
    spent_today_micros: int,
    daily_budget_micros: int,
    day_fraction: float,
    dt_s: float,
    spec: PacingSpec | None = None,
) -> PacingState:
    """One controller tick; pure. ``day_fraction`` is ``f(t)`` in [0, 1]."""
    spec = spec if spec is not None else DEFAULT_PACING
    if daily_budget_micros <= 0:
        return PacingState(multiplier=0.0, integral=0.0, paused=True)
    planned = daily_budget_micros * min(max(day_fraction, 0.0), 1.0)
    error = (planned - spent_today_micros) / daily_budget_micros
    if -error > spec.ahead_tolerance:
        return PacingState(multiplier=0.0, integral=state.integral, paused=True)
    integral = min(
        max(state.integral + error * dt_s / 3600.0, -spec.integral_max), spec.integral_max
    )
    m = math.exp(spec.kp * error + spec.ki * integral)
    m = min(max(m, spec.multiplier_min), spec.multiplier_max)
    return PacingState(multiplier=m, integral=integral, paused=False)
