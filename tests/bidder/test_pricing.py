"""Pricing properties: monotone in pCTR, capped, never under the floor."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from bidder.config.model import BidStrategy, BidStrategyKind, Budget, Campaign, Creative
from bidder.pricing import clears_floor, price_micros, value_micros

CREATIVE = Creative(id="c", format="banner", w=300, h=250, markup="<a/>")


def campaign(kind: BidStrategyKind, max_bid_micros: int = 5000) -> Campaign:
    strategy = BidStrategy(
        kind=kind,
        fixed_cpm_micros=2000,
        value_per_click_micros=1_500_000,
        target_cpc_micros=1_000_000,
        target_cpa_micros=40_000_000,
        prior_cvr=0.03,
    )
    return Campaign(
        id="x",
        advertiser_domain="a.com",
        budget=Budget(10**9, 10**8),
        max_bid_micros=max_bid_micros,
        creatives=(CREATIVE,),
        strategy=strategy,
    )


kinds = st.sampled_from(list(BidStrategyKind))
probs = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
mults = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


@given(kinds, probs, probs, mults, mults)
def test_pricing_price_never_drops_as_pctr_rises(
    kind: BidStrategyKind, p1: float, p2: float, pacing: float, plan: float
) -> None:
    c = campaign(kind)
    lo, hi = sorted((p1, p2))
    assert price_micros(c, lo, pacing, plan) <= price_micros(c, hi, pacing, plan)


@given(kinds, probs, mults, mults, st.integers(min_value=1, max_value=10**7))
def test_pricing_price_never_exceeds_cap(
    kind: BidStrategyKind, p: float, pacing: float, plan: float, cap: int
) -> None:
    c = campaign(kind, max_bid_micros=cap)
    price = price_micros(c, p, pacing, plan)
    assert 0 <= price <= cap


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=0, max_value=10**7))
def test_pricing_floor_rule(price: int, floor: int) -> None:
    assert clears_floor(price, floor) == (price > 0 and price >= floor)


def test_pricing_strategies_values() -> None:
    p = 0.002
    assert value_micros(campaign(BidStrategyKind.FIXED_CPM).strategy, p) == 2000
    assert value_micros(campaign(BidStrategyKind.VALUE_PER_CLICK).strategy, p) == 3000
    assert value_micros(campaign(BidStrategyKind.TARGET_CPC).strategy, p) == 2000
    assert round(value_micros(campaign(BidStrategyKind.TARGET_CPA).strategy, p)) == 2400


def test_pricing_non_finite_inputs_price_zero() -> None:
    c = campaign(BidStrategyKind.VALUE_PER_CLICK)
    assert price_micros(c, float("nan"), 1.0, 1.0) == 0
    assert price_micros(c, 0.5, float("inf"), 0.0) == 0
    assert price_micros(dataclasses.replace(c, max_bid_micros=0), 0.5, 1.0, 1.0) == 0
