"""The Lagrangian relaxation of the episode budget problem: one price per unit of value.

Relax "spend at most ``b`` over the next ``t`` auctions" to its expectation. With the
market price ``delta ~ m`` independent of an auction's value ``v`` (as in RLB), bidding
``a(v) = min(a_max, floor(v * beta))`` is optimal for the relaxed knapsack (Zhang et al.,
"Optimal Real-Time Bidding for Display Advertising", KDD'14, section 4; the dual
variable is ``lambda = 1 / beta``), and the constraint is tight at the ``beta`` with

    t * S(beta) = b,    S(beta) = E_v[ sum_{delta <= a(v)} m(delta) delta ]

(expected spend per auction). ``S`` is non-decreasing in ``beta``, so it is tabulated
once on a grid of ``beta`` and inverted by interpolation; re-solving at every auction
with the current ``(t, b)`` is the usual fix of the relaxation's open-loop error.

Prices, budgets and bids are whole units of the caller's price; values are any positive
scale (``beta`` absorbs it).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

GRID_SIZE = 512  # beta grid points
GRID_SPAN_OCTAVES = (-14.0, 4.0)  # beta / (max_bid / median value), in powers of two


def spend_per_auction_by_bid(pdf: FloatArray, max_bid: int) -> FloatArray:
    """``C(a) = sum_{delta <= a} m(delta) delta`` for ``a = 0 .. max_bid``."""
    cut = np.zeros(max_bid + 1, dtype=np.float64)
    part = pdf[: max_bid + 1]
    cut[: part.size] = part
    out: FloatArray = np.cumsum(cut * np.arange(max_bid + 1))
    return out


def multiplier_grid(values: FloatArray, max_bid: int) -> FloatArray:
    """Increasing ``beta`` values around ``max_bid / median(value)`` (positive values only)."""
    positive = values[values > 0]
    centre = max_bid / float(np.median(positive)) if positive.size else 1.0
    lo, hi = GRID_SPAN_OCTAVES
    out: FloatArray = centre * np.exp2(np.linspace(lo, hi, GRID_SIZE))
    return out


def spend_curve(
    values: FloatArray, pdf: FloatArray, max_bid: int, multipliers: FloatArray
) -> FloatArray:
    """``S(beta)`` for every ``beta`` of ``multipliers``: mean over ``values`` of ``C(a(v))``."""
    by_bid = spend_per_auction_by_bid(pdf, max_bid)
    bids = np.minimum(np.floor(np.outer(multipliers, values)), max_bid).astype(np.int64)
    out: FloatArray = by_bid[bids].mean(axis=1)
    return out


def multiplier_for(spend_per_auction: float, curve: FloatArray, multipliers: FloatArray) -> float:
    """The smallest tabulated-and-interpolated ``beta`` with ``S(beta) = spend_per_auction``.

    ``inf`` when even the largest ``beta`` spends less (bid the cap), 0 for no budget.
    """
    if spend_per_auction <= 0.0:
        return 0.0
    if spend_per_auction >= curve[-1]:
        return float("inf")
    hi = int(np.searchsorted(curve, spend_per_auction, side="left"))
    if hi == 0:
        return float(multipliers[0])
    lo_spend, hi_spend = float(curve[hi - 1]), float(curve[hi])
    share = (spend_per_auction - lo_spend) / (hi_spend - lo_spend)
    return float(multipliers[hi - 1] + share * (multipliers[hi] - multipliers[hi - 1]))
