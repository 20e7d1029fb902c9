"""The RLB value function V(t, b) and its action: brute-force oracles and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.value_function import (
    market_price_pdf,
    optimal_bid,
    optimal_steps,
    solve_value_function,
)

PDF = market_price_pdf([0, 3, 5, 2, 0, 4, 1, 0, 2])  # prices 0..8


def brute_force_values(pdf: np.ndarray, theta: float, episode_len: int, budget: int, cap: int):
    """WSDM'17 eq. (3)-(5) literally: max over every bid a of the expected value."""
    values = np.zeros((episode_len, budget + 1))
    for t in range(1, episode_len):
        prev = values[t - 1]
        for b in range(1, budget + 1):
            best = -np.inf
            for a in range(min(b, cap, pdf.size - 1) + 1):
                win = sum(pdf[d] * (theta + prev[b - d]) for d in range(a + 1))
                best = max(best, win + pdf[a + 1 :].sum() * prev[b])
            values[t, b] = best
    return values


def origin_bid(row: np.ndarray, budget_left: int, theta: float, max_bid: int) -> int:
    """The origin's ``bid`` loop: raise the bid while the marginal value stays >= 0."""
    a = 0
    for delta in range(1, min(budget_left, max_bid) + 1):
        if theta + (row[budget_left - delta] - row[budget_left]) >= 0:
            a = delta
        else:
            break
    return a


def test_market_price_pdf_laplace_smooths_counts() -> None:
    pdf = market_price_pdf([0, 2, 1])
    assert pdf.tolist() == pytest.approx([1 / 6, 3 / 6, 2 / 6])


@pytest.mark.parametrize(
    ("counts", "laplace", "message"),
    [
        ([], 1.0, "non-empty"),
        ([1, -1], 1.0, ">= 0"),
        ([0, 0], 0.0, "positive total"),
    ],
)
def test_market_price_pdf_rejects_bad_histograms(
    counts: list[int], laplace: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        market_price_pdf(counts, laplace)


@pytest.mark.parametrize(
    ("budget", "cap"), [(0, 8), (7, 8), (25, 8), (25, 3), (60, 8), (200, 8), (200, 5)]
)
def test_solve_value_function_matches_brute_force_dp(budget: int, cap: int) -> None:
    got = solve_value_function(PDF, 0.05, 12, budget, cap)
    expected = brute_force_values(PDF, 0.05, 12, budget, cap)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_solve_value_function_saturates_at_unconstrained_max() -> None:
    values = solve_value_function(PDF, 0.01, 30, 400, 8)
    t = np.arange(30)
    np.testing.assert_allclose(values[:, -1], t * 0.01 * PDF.sum(), rtol=1e-12)
    assert (np.diff(values, axis=1) >= -1e-12).all()  # the origin's 1e-10 saturation cut
    assert (np.diff(values, axis=0) >= 0).all()


@pytest.mark.parametrize(
    ("theta", "episode_len", "budget", "cap", "message"),
    [
        (0.0, 10, 10, 8, "theta_avg"),
        (float("nan"), 10, 10, 8, "theta_avg"),
        (0.1, 0, 10, 8, "episode_len >= 1"),
        (0.1, 10, -1, 8, "budget >= 0"),
        (0.1, 10, 10, -1, "max_bid >= 0"),
    ],
)
def test_solve_value_function_rejects_bad_inputs(
    theta: float, episode_len: int, budget: int, cap: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        solve_value_function(PDF, theta, episode_len, budget, cap)


def test_solve_value_function_rejects_negative_pdf() -> None:
    with pytest.raises(ValueError, match="pdf"):
        solve_value_function(np.array([0.5, -0.1]), 0.1, 5, 5, 1)


@given(
    theta=st.floats(0.0, 0.2),
    budget_left=st.integers(0, 60),
    t=st.integers(1, 11),
    cap=st.integers(0, 8),
)
def test_optimal_bid_matches_origin_loop(theta: float, budget_left: int, t: int, cap: int) -> None:
    values = solve_value_function(PDF, 0.05, 12, 60, 8)
    row = values[t - 1]
    assert optimal_bid(row, budget_left, theta, cap) == origin_bid(row, budget_left, theta, cap)


def test_optimal_steps_match_scalar_bids() -> None:
    values = solve_value_function(PDF, 0.05, 12, 60, 8)
    for row in values:
        steps = optimal_steps(row, 0.05)
        assert steps.tolist() == [origin_bid(row, b, 0.05, 10**6) for b in range(row.size)]


@given(low=st.floats(0.0, 0.1), high=st.floats(0.0, 0.1), budget_left=st.integers(0, 60))
def test_optimal_bid_never_drops_as_theta_rises(low: float, high: float, budget_left: int) -> None:
    row = solve_value_function(PDF, 0.05, 12, 60, 8)[6]
    low, high = sorted((low, high))
    assert optimal_bid(row, budget_left, low, 8) <= optimal_bid(row, budget_left, high, 8)
    assert 0 <= optimal_bid(row, budget_left, high, 8) <= min(budget_left, 8)
