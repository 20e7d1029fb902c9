"""Pacer: runs the pacing controller for every campaign on the bidder's clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bidder.config.model import Campaign, PacingMode
from bidder.ledger.base import Ledger
from optimizer.pacing import DEFAULT_PACING, PacingSpec, PacingState, plan_fraction, step_pacing


def day_fraction(campaign: Campaign, local: dt.datetime) -> float:
    """Share of today's budget due by ``local`` time: even over the active hours, or
    along the campaign's ``pacing_curve``."""
    seconds_into_hour = local.minute * 60 + local.second + local.microsecond / 1e6
    return plan_fraction(local.hour, seconds_into_hour, campaign.pacing_curve, campaign.hours)


class Pacer:
    """Per-campaign multipliers read by ``decide`` (a dict lookup), updated by ``tick``."""

    def __init__(self, spec: PacingSpec = DEFAULT_PACING) -> None:
        self.spec = spec
        self._state: dict[str, PacingState] = {}
        self._multiplier: dict[str, float] = {}
        self._last_s: float | None = None

    def multiplier(self, campaign_id: str) -> float:
        return self._multiplier.get(campaign_id, 1.0)

    def state(self, campaign_id: str) -> PacingState | None:
        return self._state.get(campaign_id)

    def tick(
        self, campaigns: tuple[Campaign, ...], ledger: Ledger, tz: ZoneInfo, now_s: float
    ) -> None:
        dt_s = 1.0 if self._last_s is None else max(now_s - self._last_s, 0.0)
        self._last_s = now_s
        local = dt.datetime.fromtimestamp(now_s, tz)
        multipliers: dict[str, float] = {}
        for campaign in campaigns:
            if campaign.pacing is PacingMode.ASAP:
                multipliers[campaign.id] = 1.0
                continue
            spend = ledger.campaign_spend(campaign.id, now_s)
            state = self._state.get(campaign.id, PacingState())
            state = step_pacing(
                state,
                spend.today_micros,
                campaign.budget.daily_micros,
                day_fraction(campaign, local),
                dt_s,
                self.spec,
            )
            self._state[campaign.id] = state
            multipliers[campaign.id] = state.multiplier
        self._multiplier = multipliers
