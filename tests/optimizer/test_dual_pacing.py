"""Dual pacing: expected spend per bid, the spend curve S(beta) and its inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.dual_pacing import (
    multiplier_for,
    multiplier_grid,
    spend_curve,
    spend_per_auction_by_bid,
)
from optimizer.value_function import market_price_pdf

PDF = market_price_pdf([0, 5, 9, 4, 2, 1, 0, 0, 0, 0, 0])
VALUES = np.array([0.001, 0.002, 0.004, 0.008, 0.003])


def test_spend_by_bid_sums_price_times_probability_up_to_the_bid() -> None:
    by_bid = spend_per_auction_by_bid(PDF, 10)
    assert by_bid[0] == 0.0
    assert by_bid[2] == pytest.approx(PDF[1] * 1 + PDF[2] * 2)
    assert by_bid[10] == pytest.approx(float(PDF @ np.arange(PDF.size)))


def test_spend_by_bid_cuts_prices_above_the_cap() -> None:
    by_bid = spend_per_auction_by_bid(PDF, 3)
    assert by_bid.size == 4
    assert by_bid[3] == pytest.approx(PDF[1] + 2 * PDF[2] + 3 * PDF[3])


def test_spend_curve_averages_over_values_of_the_bid_they_get() -> None:
    by_bid = spend_per_auction_by_bid(PDF, 10)
    beta = np.array([1000.0])
    expected = np.mean([by_bid[min(10, math.floor(v * 1000.0))] for v in VALUES.tolist()])
    assert spend_curve(VALUES, PDF, 10, beta)[0] == pytest.approx(expected)


def test_spend_curve_rises_with_beta_up_to_bidding_the_cap() -> None:
    grid = multiplier_grid(VALUES, 10)
    curve = spend_curve(VALUES, PDF, 10, grid)
    assert np.all(np.diff(grid) > 0)
    assert np.all(np.diff(curve) >= 0)
    assert curve[0] == 0.0  # the smallest beta bids 0 everywhere
    assert curve[-1] == pytest.approx(spend_per_auction_by_bid(PDF, 10)[10])


@given(target=st.floats(1e-6, 3.0))
def test_multiplier_for_inverts_the_spend_curve(target: float) -> None:
    grid = multiplier_grid(VALUES, 10)
    curve = spend_curve(VALUES, PDF, 10, grid)
    beta = multiplier_for(target, curve, grid)
    if target >= curve[-1]:
        assert beta == math.inf
        return
    i = int(np.searchsorted(grid, beta, side="right"))
    assert curve[i - 1] <= target <= curve[min(i, grid.size - 1)]


def test_multiplier_for_without_budget_is_zero() -> None:
    grid = multiplier_grid(VALUES, 10)
    assert multiplier_for(0.0, spend_curve(VALUES, PDF, 10, grid), grid) == 0.0


def test_multiplier_grid_centres_on_the_median_value() -> None:
    grid = multiplier_grid(VALUES, 300)
    centre = 300 / float(np.median(VALUES))
    assert grid[0] < centre < grid[-1]
    assert multiplier_grid(np.zeros(3), 300)[0] < 1.0 < multiplier_grid(np.zeros(3), 300)[-1]
