"""Budget-constrained bidding as a finite-horizon MDP: the value function V(t, b) and its action.

State: ``t`` auctions left in the episode and ``b`` budget left (whole price units).
Each auction has a market price ``delta ~ m`` (the bid landscape) and a click
probability ``theta``; bidding ``a`` wins when ``a >= delta`` and pays ``delta``.
With the pCTR of future auctions replaced by its mean ``theta_avg``,

    V(0, b) = 0
    V(t, b) = max_{0 <= a <= min(b, a_max)}  sum_{delta=0}^{a} m(delta) (theta_avg + V(t-1, b-delta))
                                            + sum_{delta>a}    m(delta)  V(t-1, b)

(Cai et al., "Real-Time Bidding by Reinforcement Learning in Display Advertising",
WSDM'17, section 3.2, eq. (3)-(5)). Because ``V(t-1, .)`` is non-decreasing in ``b``,
the summand ``theta + V(t-1, b-delta) - V(t-1, b)`` falls as ``delta`` grows, so the
optimal bid is the largest ``a`` keeping it non-negative (eq. (6)):

    a(t, b, theta) = max{ a <= min(b, a_max) : theta + V(t-1, b-a) - V(t-1, b) >= 0 }.

Prices, budgets and bids are integers of the caller's price unit; nothing here knows
what the unit is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SATURATION_TOLERANCE = 1e-10  # the origin's ``up_precision``


def market_price_pdf(counts: Sequence[int] | IntArray, laplace: float = 1.0) -> FloatArray:
    """Laplace-smoothed market-price pdf from a histogram of whole prices.

    ``m(delta) = (n(delta) + laplace) / (sum_k n(k) + K * laplace)`` for
    ``delta = 0 .. K-1``; the origin's ``calc_m_pdf`` (Cai et al., WSDM'17 code).

    Raises
    ------
    ValueError
        For an empty histogram, negative counts or a non-positive total.
    """
    values = np.asarray(counts, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("counts: must be a non-empty 1-d histogram")
    if (values < 0).any() or laplace < 0:
        raise ValueError("counts and laplace: must be >= 0")
    total = values.sum() + values.size * laplace
    if not total > 0:
        raise ValueError("counts: need a positive total (or laplace > 0)")
    pdf: FloatArray = (values + laplace) / total
    return pdf


def solve_value_function(
    pdf: FloatArray, theta_avg: float, episode_len: int, budget: int, max_bid: int
) -> FloatArray:
    """``V(t, b)`` for ``t = 0 .. episode_len-1`` and ``b = 0 .. budget``, shape ``(T, B+1)``.

    Row ``t`` holds the expected clicks of the last ``t`` auctions with budget ``b``
    under the optimal policy (WSDM'17 eq. (5)); the bid with ``t`` auctions left
    reads row ``t - 1``. Like the origin's
    ``calc_optimal_value_function_with_approximation_i``, once ``V(t, b)`` is within
    ``1e-10`` of the unconstrained maximum ``t * theta_avg * sum_{delta<=a_max} m(delta)``
    the row is set to that maximum for every larger budget, and ``V(t, 0)`` is kept 0.
    Prices above ``max_bid`` can never be won, so ``pdf`` beyond it is ignored.

    Cost is ``O(T * B * k)`` with ``k`` the largest optimal bid of a row; rows past the
    saturated budget are not computed.

    Raises
    ------
    ValueError
        For a non-positive ``theta_avg``, ``episode_len`` or an invalid pdf, budget or cap.
    """
    if not (np.isfinite(theta_avg) and theta_avg > 0):
        raise ValueError(f"theta_avg: must be a finite number > 0, got {theta_avg}")
    if episode_len < 1 or budget < 0 or max_bid < 0:
        raise ValueError(
            f"need episode_len >= 1, budget >= 0, max_bid >= 0; got "
            f"{episode_len}, {budget}, {max_bid}"
        )
    if pdf.ndim != 1 or pdf.size == 0 or (pdf < 0).any():
        raise ValueError("pdf: must be a non-empty 1-d array of non-negative numbers")
    return _solve(np.ascontiguousarray(pdf[: max_bid + 1]), theta_avg, episode_len, budget)


def _solve(pdf: FloatArray, theta: float, episode_len: int, budget: int) -> FloatArray:
    cdf = np.cumsum(pdf)
    return solve_rows(
        lambda prev: _next_row(prev, pdf, cdf, theta),
        theta * float(pdf.sum()),
        pdf.size - 1,
        episode_len,
        budget,
    )


def solve_rows(
    next_row: Callable[[FloatArray], FloatArray],
    value_per_auction: float,
    max_price: int,
    episode_len: int,
    budget: int,
) -> FloatArray:
    """``V(t, b)`` row by row from a backup ``next_row(V(t-1, 0..hi)) -> V(t, 0..hi)``.

    A row that reaches the unconstrained maximum ``t * value_per_auction`` (within
    ``SATURATION_TOLERANCE``) is flat from there on, so the next backup only needs the
    budgets up to that point plus ``max_price``. Shared by the single-class solver and
    the class mixture (``bidder.strategies.mixture_dp``).
    """
    values = np.zeros((episode_len, budget + 1), dtype=np.float64)
    v_max = 0.0
    flat_from = 0  # values[t-1, b] == v_max for every b >= flat_from
    for t in range(1, episode_len):
        prev = values[t - 1]
        hi = budget if flat_from > budget else min(budget, flat_from + max_price)
        row = next_row(prev[: hi + 1])
        v_max += value_per_auction
        hit = np.flatnonzero(np.abs(row[1:] - v_max) < SATURATION_TOLERANCE)
        if hit.size == 0 and hi < budget:  # cannot happen in exact arithmetic; stay exact
            row = next_row(prev)
            hi = budget
            hit = np.flatnonzero(np.abs(row[1:] - v_max) < SATURATION_TOLERANCE)
        values[t, : hi + 1] = row
        flat_from = budget + 1
        if hit.size:
            flat_from = int(hit[0]) + 2
            values[t, flat_from:] = v_max
    return values


def _next_row(prev: FloatArray, pdf: FloatArray, cdf: FloatArray, theta: float) -> FloatArray:
    """One backup of eq. (5) for budgets ``0 .. prev.size-1``, bids at most ``pdf.size-1``.

    ``V'(b) = V(b) + sum_{delta<=a(b)} m(delta) (theta + V(b-delta) - V(b))`` with the
    inner sum read from row-wise cumulative sums of ``m(delta) V(b-delta)``.
    """
    size = prev.size
    step = np.minimum(optimal_steps(prev, theta), pdf.size - 1)
    width = int(step.max()) + 1
    # window[b, delta] = V(b - delta), zero-padded below b = 0
    reverse = np.concatenate([prev[::-1], np.zeros(width - 1)])
    terms = sliding_window_view(reverse, width)[::-1] * pdf[:width]
    np.cumsum(terms, axis=1, out=terms)
    budgets = np.arange(size)
    row = prev + cdf[step] * (theta - prev) + terms[budgets, step]
    row[0] = 0.0
    return row


def optimal_steps(values: FloatArray, theta: float) -> IntArray:
    """``max{a <= b : theta + V(b-a) - V(b) >= 0}`` for every ``b`` (no bid cap).

    Vectorised over ``b`` with a binary search on the non-decreasing ``V``, then fixed
    up so the decision uses the origin's exact floating-point test
    ``(V(b-a) - V(b)) + theta >= 0``.
    """
    budgets = np.arange(values.size)
    first = np.searchsorted(values, values - theta, side="left").astype(np.int64)
    np.minimum(first, budgets, out=first)
    while True:  # first = smallest index j with (V(j) - V(b)) + theta >= 0
        fails = (values[first] - values) + theta < 0
        lower = np.maximum(first - 1, 0)
        holds_below = (first > 0) & ((values[lower] - values) + theta >= 0)
        if not (fails.any() or holds_below.any()):
            return budgets - first
        first = first + fails - holds_below


def optimal_bid(row: FloatArray, budget_left: int, theta: float, max_bid: int) -> int:
    """``a(t, b, theta)`` of WSDM'17 eq. (6), read from ``row = V(t-1, .)``.

    The largest ``a <= min(b, max_bid)`` with ``theta + V(t-1, b-d) - V(t-1, b) >= 0``
    for every ``d = 1 .. a`` (the origin's ``bid``); 0 when the budget is spent.
    Callers guarantee ``0 <= budget_left < row.size``.
    """
    top = min(budget_left, max_bid)
    if top <= 0:
        return 0
    here = float(row[budget_left])
    lo = budget_left - top
    j = int(np.searchsorted(row[lo:budget_left], here - theta, side="left")) + lo
    while j < budget_left and (float(row[j]) - here) + theta < 0:
        j += 1
    while j > lo and (float(row[j - 1]) - here) + theta >= 0:
        j -= 1
    return budget_left - j
