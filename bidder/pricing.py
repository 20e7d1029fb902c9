"""Pricing: pCTR -> bid price in micros per impression (value, multipliers, cap, floor).

For one candidate with click probability ``p`` the value of an impression is

    fixed_cpm        v = fixed_cpm_micros                   (ignores p)
    value_per_click  v = value_per_click_micros * p
    target_cpc       v = target_cpc_micros * p              (expected cost per click = target)
    target_cpa       v = target_cpa_micros * p * prior_cvr

and the bid is ``floor(min(v * pacing * plan, max_bid))``. The bid never decreases as
``p`` rises and never exceeds the cap; a bid under the floor is no bid.
"""

from __future__ import annotations

import math

from bidder.config.model import BidStrategy, BidStrategyKind, Campaign


def value_micros(strategy: BidStrategy, pctr: float) -> float:
    """Value of one impression in micros for click probability ``pctr``."""
    kind = strategy.kind
    if kind is BidStrategyKind.FIXED_CPM:
        return float(strategy.fixed_cpm_micros)
    if kind is BidStrategyKind.VALUE_PER_CLICK:
        return strategy.value_per_click_micros * pctr
    if kind is BidStrategyKind.TARGET_CPC:
        return strategy.target_cpc_micros * pctr
    return strategy.target_cpa_micros * pctr * strategy.prior_cvr


def price_micros(
    campaign: Campaign, pctr: float, pacing_multiplier: float, plan_multiplier: float
) -> int:
    """Bid price in micros (0 = no bid), before the floor check.

    Parameters
    ----------
    campaign : the line item (strategy and ``max_bid_micros``).
    pctr : calibrated click probability in [0, 1]; non-finite values price at 0.
    pacing_multiplier, plan_multiplier : >= 0; non-finite values price at 0.
    """
    raw = value_micros(campaign.strategy, pctr) * pacing_multiplier * plan_multiplier
    if not math.isfinite(raw) or raw <= 0.0:
        return 0
    return int(min(raw, float(campaign.max_bid_micros)))


def clears_floor(price: int, floor_micros: int) -> bool:
    """A bid must be positive and at least the floor (OpenRTB: bids below bidfloor are lost)."""
    return price > 0 and price >= floor_micros
