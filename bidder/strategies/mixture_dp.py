"""The RLB value function over a mixture of auction classes, each with its own CTR and landscape.

RLB (Cai et al., WSDM'17, eq. (5)) replaces every future auction's click value by the
training CTR ``theta_avg`` and prices them all on one market-price pdf ``m``. Here an
auction falls in class ``k`` with probability ``w_k``; its click value is ``theta_k`` and
its market price follows ``m_k``, so pCTR and price may depend on each other
(the expectation over ``p(theta)`` that eq. (3) takes before the approximation):

    V(0, b) = 0
    V(t, b) = V(t-1, b) + sum_k w_k max_a sum_{delta<=a} m_k(delta) (theta_k + V(t-1, b-delta)
                                                                   - V(t-1, b))

The inner maximum is reached at ``a_k(b) = max{a <= b : theta_k + V(t-1, b-a) - V(t-1, b)
>= 0}`` (the same argument as eq. (6): ``V(t-1, .)`` is non-decreasing), so a bid for an
auction of click value ``theta`` is read from row ``V(t-1, .)`` exactly as in RLB
(:func:`optimizer.value_function.optimal_bid`). One class reproduces
:func:`optimizer.value_function.solve_value_function`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bidder.strategies.base import FloatArray
from optimizer.value_function import optimal_steps, solve_rows


def solve_mixture_value(
    weights: FloatArray, thetas: FloatArray, pdfs: FloatArray, episode_len: int, budget: int
) -> FloatArray:
    """``V(t, b)`` for ``t = 0 .. episode_len-1``, ``b = 0 .. budget``; shape ``(T, B+1)``.

    Parameters
    ----------
    weights : (K,) class probabilities ``w_k`` (summing to 1).
    thetas : (K,) click values ``theta_k >= 0``.
    pdfs : (K, P) market-price pdfs ``m_k(delta)`` for ``delta = 0 .. P-1``; callers cut
        them at the bid cap (``P = max_bid + 1``): dearer prices are never won.

    Rows that reach the unconstrained maximum ``t * sum_k w_k theta_k sum_delta m_k(delta)``
    within ``1e-10`` are flat from there on, as in the single-class solver.

    Raises
    ------
    ValueError
        For shapes that disagree, negative inputs or non-positive ``episode_len``.
    """
    if weights.ndim != 1 or thetas.shape != weights.shape or pdfs.ndim != 2:
        raise ValueError("weights, thetas: shape (K,); pdfs: shape (K, P)")
    if pdfs.shape[0] != weights.size or pdfs.shape[1] == 0:
        raise ValueError(f"pdfs: need {weights.size} rows and >= 1 price, got {pdfs.shape}")
    if (weights < 0).any() or (thetas < 0).any() or (pdfs < 0).any():
        raise ValueError("weights, thetas and pdfs: must be >= 0")
    if episode_len < 1 or budget < 0:
        raise ValueError(f"need episode_len >= 1, budget >= 0; got {episode_len}, {budget}")
    return _solve(weights, thetas, np.ascontiguousarray(pdfs), episode_len, budget)


def _solve(
    weights: FloatArray, thetas: FloatArray, pdfs: FloatArray, episode_len: int, budget: int
) -> FloatArray:
    cdfs = np.cumsum(pdfs, axis=1)
    return solve_rows(
        lambda prev: _next_row(prev, weights, thetas, pdfs, cdfs),
        float(np.sum(weights * thetas * pdfs.sum(axis=1))),
        pdfs.shape[1] - 1,
        episode_len,
        budget,
    )


def _next_row(
    prev: FloatArray, weights: FloatArray, thetas: FloatArray, pdfs: FloatArray, cdfs: FloatArray
) -> FloatArray:
    """One backup: ``prev + sum_k w_k (cdf_k(a_k) (theta_k - prev) + sum_{d<=a_k} m_k(d) prev(b-d))``."""
    size = prev.size
    steps = [np.minimum(optimal_steps(prev, float(theta)), pdfs.shape[1] - 1) for theta in thetas]
    width = max(int(step.max()) for step in steps) + 1
    # window[b, delta] = V(b - delta), zero-padded below b = 0
    reverse = np.concatenate([prev[::-1], np.zeros(width - 1)])
    window = sliding_window_view(reverse, width)[::-1]
    budgets = np.arange(size)
    row = prev.copy()
    shared = None  # one landscape for every class: one cumulative sum serves them all
    if (pdfs == pdfs[0]).all():
        shared = window * pdfs[0, :width]
        np.cumsum(shared, axis=1, out=shared)
    for k, step in enumerate(steps):
        if weights[k] == 0.0:
            continue
        terms = shared
        if terms is None:
            w_k = int(step.max()) + 1
            terms = window[:, :w_k] * pdfs[k, :w_k]
            np.cumsum(terms, axis=1, out=terms)
        row += weights[k] * (cdfs[k, step] * (thetas[k] - prev) + terms[budgets, step])
    row[0] = 0.0
    return row
