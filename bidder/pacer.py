"""Pacer: runs the pacing controller for every campaign on the bidder's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from zoneinfo import ZoneInfo

from bidder.config.model import Campaign, PacingMode
from bidder.ledger.base import Ledger, Spend
from optimizer.pacing import (
    DEFAULT_PACING,
    HourPlan,
    PacingSpec,
    PacingState,
    plan_fraction,
    step_pacing,
)


def _seconds_into_hour(local: dt.datetime) -> float:
    return local.minute * 60 + local.second + local.microsecond / 1e6


def day_fraction(campaign: Campaign, local: dt.datetime) -> float:
    """Share of today's budget due by ``local`` time: even over the active hours, or
    along the campaign's ``pacing_curve``."""
    return plan_fraction(
        local.hour, _seconds_into_hour(local), campaign.pacing_curve, campaign.hours
    )


class DayPlan:
    """``day_fraction`` for one campaign's curve and hours, kept by the pacer so the
    per-hour sums (``HourPlan``) are computed once, not at every tick."""

    __slots__ = ("_plan",)

    def __init__(self, curve: Sequence[float], hours: Collection[int]) -> None:
        self._plan = HourPlan(curve, hours)

    def fraction(self, local: dt.datetime) -> float:
        """``day_fraction`` at ``local``."""
        return self._plan.fraction(local.hour, _seconds_into_hour(local))


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
