"""Pacing: the day's spend plan ``f(t)`` (even or along a traffic curve) and its controller.

The plan for a day is ``planned(t) = daily_budget * f(t)`` where ``f`` is the fraction of
the day's budget due by local time ``t``: even pacing spreads it uniformly over the active
hours; a traffic curve (24 hourly weights learned from history, ``traffic_curve``) spreads
it in proportion to the auctions expected in each hour, so thin hours are not asked for
more than their supply. Each tick the controller compares spend with plan and moves a
multiplier

    e_k   = (planned(t_k) - spent(t_k)) / daily_budget        (positive: behind plan)
    I_k   = clip(I_{k-1} + e_k * dt_k / 3600, -I_max, I_max)
    m_k   = clip(exp(kp * e_k + ki * I_k), m_min, m_max)

and pauses (``m = 0``) while spend is ahead of plan by more than ``ahead_tolerance`` of
the daily budget, so cumulative spend cannot run ahead of plan by more than that plus
the spend of one tick. The integral restarts with each day (``f`` falls back to 0), so a
shortfall the last hours of one day could not buy does not inflate the next morning's
bids. ASAP campaigns always get 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

HOURS_PER_DAY = 24


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
    day_fraction: float = 0.0  # f(t) at the last tick, to notice a new day


def traffic_curve(hour_counts: Sequence[float], uniform_weight: float = 0.25) -> tuple[float, ...]:
    """Hourly plan weights from the auctions seen per local hour in history.

    Parameters
    ----------
    hour_counts : sequence of 24 non-negative numbers
        Auctions (or any traffic measure) per local hour 0-23, summed over past days.
    uniform_weight : float in [0, 1]
        Share of the plan spread evenly, ``w = (1 - u) * c / sum(c) + u / 24``: an hour
        the history never saw (a log gap, a new campaign) is planned at ``u`` of an
        average hour instead of nothing, so the plan never completes before the day ends.

    Returns
    -------
    tuple of 24 floats summing to 1.
    """
    if len(hour_counts) != HOURS_PER_DAY:
        raise ValueError(f"need {HOURS_PER_DAY} hourly counts, got {len(hour_counts)}")
    if any(c < 0 for c in hour_counts):
        raise ValueError("hourly counts must be >= 0")
    if not 0 <= uniform_weight <= 1:
        raise ValueError(f"uniform_weight must be in [0, 1], got {uniform_weight}")
    total = float(sum(hour_counts))
    if total <= 0:
        return tuple(1.0 / HOURS_PER_DAY for _ in range(HOURS_PER_DAY))
    return tuple(
        (1 - uniform_weight) * c / total + uniform_weight / HOURS_PER_DAY for c in hour_counts
    )


class HourPlan:
    """``f`` for one curve and set of active hours, its per-hour sums computed once.

    ``curve`` holds 24 non-negative hourly weights (empty: even); ``hours`` the active
    hours (empty: all). Inside an hour the plan grows linearly. If the active hours carry
    no weight the plan is even over them.
    """

    __slots__ = ("_before", "_total", "_weight")

    def __init__(self, curve: Sequence[float] = (), hours: Collection[int] = ()) -> None:
        active = sorted(hours) if hours else range(HOURS_PER_DAY)
        weights = [curve[h] if curve else 1.0 for h in active]
        total = sum(weights)
        if total <= 0:
            weights = [1.0] * len(weights)
            total = float(len(weights))
        self._total = total
        self._weight: list[float | None] = [None] * HOURS_PER_DAY
        # _before[h]: the weights of the active hours before h, summed in hour order
        self._before = [0.0] * (HOURS_PER_DAY + 1)
        done, nxt = 0.0, 0
        for h, w in zip(active, weights, strict=True):
            if not 0 <= h < HOURS_PER_DAY:
                continue
            self._before[nxt : h + 1] = [done] * (h + 1 - nxt)
            self._weight[h] = w
            done += w
            nxt = h + 1
        self._before[nxt:] = [done] * (HOURS_PER_DAY + 1 - nxt)

    def fraction(self, hour: int, seconds_into_hour: float) -> float:
        """``f(t)`` at local ``hour:seconds_into_hour``."""
        if hour < 0:
            return 0.0
        if hour >= HOURS_PER_DAY:
            return min(self._before[HOURS_PER_DAY] / self._total, 1.0)
        done = self._before[hour]
        weight = self._weight[hour]
        if weight is not None:
            done += weight * min(max(seconds_into_hour / 3600.0, 0.0), 1.0)
        return min(done / self._total, 1.0)


def plan_fraction(
    hour: int,
    seconds_into_hour: float,
    curve: Sequence[float] = (),
    hours: Collection[int] = (),
) -> float:
    """``f(t)``: the share of the day's budget due by local ``hour:seconds_into_hour``
    (see ``HourPlan``; callers that ask often keep a ``HourPlan``)."""
    return HourPlan(curve, hours).fraction(hour, seconds_into_hour)


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
    fraction = min(max(day_fraction, 0.0), 1.0)
    if daily_budget_micros <= 0:
        return PacingState(multiplier=0.0, integral=0.0, paused=True, day_fraction=fraction)
    previous = state.integral if fraction >= state.day_fraction else 0.0  # new day: restart
    error = (daily_budget_micros * fraction - spent_today_micros) / daily_budget_micros
    if -error > spec.ahead_tolerance:
        return PacingState(multiplier=0.0, integral=previous, paused=True, day_fraction=fraction)
    integral = min(max(previous + error * dt_s / 3600.0, -spec.integral_max), spec.integral_max)
    m = math.exp(spec.kp * error + spec.ki * integral)
    m = min(max(m, spec.multiplier_min), spec.multiplier_max)
    return PacingState(multiplier=m, integral=integral, paused=False, day_fraction=fraction)
