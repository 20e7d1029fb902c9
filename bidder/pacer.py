"""Pacer: runs the pacing controller for every campaign on the bidder's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from zoneinfo import ZoneInfo

from bidder.config.model import Campaign, PacingMode
from bidder.ledger.base import Ledger, Spend
from optimizer.pacing import (
    DEFAULT_PACING,
    HOURS_PER_DAY,
    PacingSpec,
    PacingState,
    plan_fraction,
    step_pacing,
)


def day_fraction(campaign: Campaign, local: dt.datetime) -> float:
    """Share of today's budget due by ``local`` time: even over the active hours, or
    along the campaign's ``pacing_curve``."""
    seconds_into_hour = local.minute * 60 + local.second + local.microsecond / 1e6
    return plan_fraction(local.hour, seconds_into_hour, campaign.pacing_curve, campaign.hours)


class DayPlan:
    """``plan_fraction`` for one campaign's curve and hours, its per-hour sums computed once.

    Bit for bit the same floats as ``plan_fraction``: the share done before each hour is
    summed in the same order, then the current hour's part is added the same way.
    """

    __slots__ = ("_before", "_total", "_weight")

    def __init__(self, curve: Sequence[float], hours: Collection[int]) -> None:
        active = sorted(hours) if hours else range(HOURS_PER_DAY)
        weights = [curve[h] if curve else 1.0 for h in active]
        total = sum(weights)
        if total <= 0:
            weights = [1.0] * len(weights)
            total = float(len(weights))
        self._total = total
        self._weight: list[float | None] = [None] * HOURS_PER_DAY
        self._before: list[float] = []
        for hour in range(HOURS_PER_DAY):
            done = 0.0
            for h, w in zip(active, weights, strict=True):
                if h < hour:
                    done += w
                elif h == hour:
                    self._weight[hour] = w
            self._before.append(done)

    def fraction(self, local: dt.datetime) -> float:
        """``day_fraction`` at ``local``."""
        seconds_into_hour = local.minute * 60 + local.second + local.microsecond / 1e6
        hour = local.hour
        done = self._before[hour]
        weight = self._weight[hour]
        if weight is not None:
            done += weight * min(max(seconds_into_hour / 3600.0, 0.0), 1.0)
        return min(done / self._total, 1.0)


class Pacer:
    """Per-campaign multipliers read by ``decide`` (a dict lookup), updated by ``tick``."""

    def __init__(self, spec: PacingSpec = DEFAULT_PACING) -> None:
        self.spec = spec
        self._state: dict[str, PacingState] = {}
        self._multiplier: dict[str, float] = {}
        self._last_s: float | None = None
        self._plans: dict[str, tuple[Campaign, DayPlan]] = {}  # campaign id -> (as of, plan)

    def multiplier(self, campaign_id: str) -> float:
        return self._multiplier.get(campaign_id, 1.0)

    def state(self, campaign_id: str) -> PacingState | None:
        return self._state.get(campaign_id)

    def tick(
        self,
        campaigns: tuple[Campaign, ...],
        ledger: Ledger,
        tz: ZoneInfo,
        now_s: float,
        spends: Mapping[str, Spend] | None = None,
    ) -> None:
        """Step every campaign's controller; ``spends`` (by campaign id, at ``now_s``)
        saves reading the ledger again when the caller has them."""
        dt_s = 1.0 if self._last_s is None else max(now_s - self._last_s, 0.0)
        self._last_s = now_s
        local = dt.datetime.fromtimestamp(now_s, tz)
        multipliers: dict[str, float] = {}
        for campaign in campaigns:
            if campaign.pacing is PacingMode.ASAP:
                multipliers[campaign.id] = 1.0
                continue
            spend = spends.get(campaign.id) if spends is not None else None
            if spend is None:
                spend = ledger.campaign_spend(campaign.id, now_s)
            state = self._state.get(campaign.id, PacingState())
            state = step_pacing(
                state,
                spend.today_micros,
                campaign.budget.daily_micros,
                self._plan(campaign).fraction(local),
                dt_s,
                self.spec,
            )
            self._state[campaign.id] = state
            multipliers[campaign.id] = state.multiplier
        self._multiplier = multipliers

    def _plan(self, campaign: Campaign) -> DayPlan:
        held = self._plans.get(campaign.id)
        if held is not None and held[0] is campaign:
            return held[1]
        plan = DayPlan(campaign.pacing_curve, campaign.hours)
        self._plans[campaign.id] = (campaign, plan)
        return plan
