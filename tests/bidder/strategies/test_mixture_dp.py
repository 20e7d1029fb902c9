"""Mixture value function: reduces to RLB's, averages landscapes, gains from spread CTRs."""

from __future__ import annotations

import numpy as np
import pytest

from bidder.strategies.mixture_dp import solve_mixture_value
from optimizer.value_function import market_price_pdf, solve_value_function

CHEAP = market_price_pdf([0, 5, 9, 4, 2, 1, 0, 0, 0, 0, 0])
DEAR = market_price_pdf([0, 0, 0, 1, 2, 4, 9, 5, 3, 1, 1])
T, B = 30, 60


def test_mixture_value_one_class_matches_rlb_solver() -> None:
    single = solve_value_function(CHEAP, 0.01, T, B, 10)
    mixed = solve_mixture_value(np.array([1.0]), np.array([0.01]), CHEAP[None, :], T, B)
    np.testing.assert_allclose(mixed, single, rtol=0, atol=1e-15)


def test_mixture_value_equal_ctrs_average_the_landscapes() -> None:
    """With one CTR every class bids alike, so the classes act as their averaged pdf."""
    weights = np.array([0.3, 0.7])
    mixed = solve_mixture_value(weights, np.array([0.02, 0.02]), np.stack([CHEAP, DEAR]), T, B)
    average = solve_value_function(0.3 * CHEAP + 0.7 * DEAR, 0.02, T, B, 10)
    np.testing.assert_allclose(mixed, average, rtol=0, atol=1e-14)


def test_mixture_value_spread_ctrs_worth_at_least_their_mean() -> None:
    """Bidding per class can always copy the single bid at the mean CTR, so V cannot fall."""
    weights, thetas = np.array([0.5, 0.5]), np.array([0.002, 0.038])
    mixed = solve_mixture_value(weights, thetas, np.stack([DEAR, DEAR]), T, B)
    mean = solve_value_function(DEAR, 0.02, T, B, 10)
    assert (mixed >= mean - 1e-12).all()
    assert mixed[-1, B // 4] > mean[-1, B // 4]


@pytest.mark.parametrize(
    ("weights", "thetas", "pdfs", "message"),
    [
        ([1.0], [0.1, 0.2], [[1.0]], "shape"),
        ([0.5, 0.5], [0.1, 0.2], [[1.0]], "need 2 rows"),
        ([1.0], [-0.1], [[1.0]], "must be >= 0"),
        ([1.0], [0.1], [[0.5, -0.5]], "must be >= 0"),
    ],
)
def test_mixture_value_rejects_bad_inputs(
    weights: list[float], thetas: list[float], pdfs: list[list[float]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        solve_mixture_value(np.array(weights), np.array(thetas), np.array(pdfs), T, B)
