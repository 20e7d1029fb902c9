"""Budget shares from policy draws: sampled greedy fill, then an exact constrained projection.

Two stages (the same machinery serves arm shares and creative rotation weights):

1. **Target** ``t``: for every joint draw ``v^(i)`` of reward per unit spend (shape
   ``(n, K)`` from ``Policy.select``) solve the fractional knapsack "spend the whole budget,
   best arms first, at most ``cap_a`` on arm ``a``"; ``t`` is the mean of those solutions.
   With no caps this is probability matching, ``t_a = P(a is best)`` (Thompson sampling's
   allocation rule; Chapelle & Li 2011); with caps it is the posterior mean of the
   sampled-oracle allocation (top-k / multiple-play Thompson sampling; Komiyama, Honda &
   Nakagawa 2015).
2. **Projection** of ``t`` onto the feasible set
   ``S = {s : l <= s <= u, sum(s) = 1}`` with ``l_a = max(floor, min_a, s_prev_a - max_move)``
   and ``u_a = min(max_share, max_a, s_prev_a + max_move)``. The Euclidean projection is
   ``s_a(lam) = clip(t_a - lam, l_a, u_a)`` for the Lagrange multiplier ``lam`` with
   ``g(lam) = sum_a s_a(lam) = 1`` (KKT conditions of ``min ||s - t||^2`` on ``S``; Held,
   Wolfe & Crowder 1974). ``g`` is continuous, non-increasing and piecewise linear with
   breakpoints ``t_a - l_a`` and ``t_a - u_a``: bisection over the sorted breakpoints finds
   the segment where ``g`` crosses 1, and linear interpolation inside it gives ``lam``
   exactly (``O(K log K)``).

The exploration floor is lowered to ``1/K`` when ``K * floor > 1``. When the move limit
cannot hold together with the floors and caps (new arms, changed floors) it is dropped for
that step and ``Allocation.move_limited`` is False.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from optimizer.policies import MICROS_PER_UNIT, Selection

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AllocationSpec:
    """Constraints on shares; ``target_cpc_micros`` (optional) sets ``spend_fraction``."""

    floor: float = 0.0
    max_share: float = 1.0
    max_move: float = 1.0
    n_samples: int = 1000
    target_cpc_micros: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.floor <= 1:
            raise ValueError(f"floor must be in [0, 1], got {self.floor}")
        if not 0 < self.max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], got {self.max_share}")
        if self.floor > self.max_share:
            raise ValueError(f"floor must be <= max_share, got {self.floor} > {self.max_share}")
        if not 0 < self.max_move <= 1:
            raise ValueError(f"max_move must be in (0, 1], got {self.max_move}")
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {self.n_samples}")
        if self.target_cpc_micros is not None and self.target_cpc_micros <= 0:
            raise ValueError(f"target_cpc_micros must be > 0, got {self.target_cpc_micros}")


@dataclass(frozen=True, slots=True)
class Allocation:
    """Shares per arm (sum 1) and the policy's probability that each arm is the best.

    ``spend_fraction`` is the expected share of the budget on arms whose sampled cost per
    reward meets ``target_cpc_micros`` (1.0 without a target): a pacing layer may spend
    only that fraction.
    """

    arm_to_share: Mapping[str, float] = field(default_factory=dict)
    arm_to_probability: Mapping[str, float] = field(default_factory=dict)
    spend_fraction: float = 1.0
    move_limited: bool = True


def target_shares(values: FloatArray, caps: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Mean over draws of the greedy fill of ``caps`` in decreasing value (random tie-break).

    ``values`` has shape ``(n, K)``, ``caps`` shape ``(K,)`` with ``sum(caps) >= 1``.
    """
    n, k = values.shape
    order = np.lexsort((rng.random((n, k)), -values), axis=-1)
    sorted_caps = caps[order]
    before = np.cumsum(sorted_caps, axis=1) - sorted_caps
    fill = np.clip(1.0 - before, 0.0, sorted_caps)
    alloc = np.zeros((n, k))
    np.put_along_axis(alloc, order, fill, axis=1)
    out: FloatArray = alloc.mean(axis=0)
    return out


def project(target: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Euclidean projection of ``target`` onto ``{lower <= s <= upper, sum(s) = 1}``.

    Raises ``ValueError`` when the set is empty.
    """
    if target.shape != lower.shape or target.shape != upper.shape or target.ndim != 1:
        raise ValueError("target, lower and upper must be 1-d arrays of one length")
    if (lower > upper).any():
        raise ValueError("lower must be <= upper for every arm")
    if lower.sum() > 1 + 1e-12 or upper.sum() < 1 - 1e-12:
        raise ValueError(
            f"infeasible: need sum(lower) <= 1 <= sum(upper), got {lower.sum()}, {upper.sum()}"
        )
    return _project_kernel(target, lower, upper)


def _project_kernel(t: FloatArray, lo: FloatArray, up: FloatArray) -> FloatArray:
    breakpoints = np.unique(np.concatenate([t - lo, t - up]))

    def g(lam: float) -> float:
        return float(np.clip(t - lam, lo, up).sum())

    left, right = 0, len(breakpoints) - 1  # g(left) >= 1 >= g(right)
    while right - left > 1:
        mid = (left + right) // 2
        if g(breakpoints[mid]) >= 1.0:
            left = mid
        else:
            right = mid
    g_left, g_right = g(breakpoints[left]), g(breakpoints[right])
    lam = float(breakpoints[left])
    if g_left > g_right:
        span = breakpoints[right] - breakpoints[left]
        lam += (g_left - 1.0) * span / (g_left - g_right)
    out: FloatArray = np.clip(t - lam, lo, up)
    return out


def bounds(
    arms: tuple[str, ...],
    spec: AllocationSpec,
    prev: Mapping[str, float] | None = None,
    arm_to_min: Mapping[str, float] | None = None,
    arm_to_max: Mapping[str, float] | None = None,
) -> tuple[FloatArray, FloatArray, bool]:
    """Lower and upper share per arm, and whether the move limit is part of them."""
    k = len(arms)
    floor = min(spec.floor, 1.0 / k)
    lo = np.array([max(floor, (arm_to_min or {}).get(a, 0.0)) for a in arms])
    up = np.array([min(spec.max_share, (arm_to_max or {}).get(a, 1.0)) for a in arms])
    up = np.maximum(up, lo)
    if prev is None or spec.max_move >= 1:
        return lo, up, prev is not None
    before = np.array([prev.get(a, 0.0) for a in arms])
    lo_move = np.maximum(lo, before - spec.max_move)
    up_move = np.minimum(up, before + spec.max_move)
    if (lo_move <= up_move).all() and lo_move.sum() <= 1 <= up_move.sum():
        return lo_move, up_move, True
    return lo, up, False


def allocate(
    selection: Selection,
    spec: AllocationSpec,
    rng: np.random.Generator,
    prev: Mapping[str, float] | None = None,
    arm_to_min: Mapping[str, float] | None = None,
    arm_to_max: Mapping[str, float] | None = None,
) -> Allocation:
    """Shares for ``selection.arms`` under ``spec`` (see the module docstring).

    ``prev`` holds the shares of the previous step (arms missing count as 0);
    ``arm_to_min`` / ``arm_to_max`` are per-arm bounds on top of ``spec``.
    Raises ``ValueError`` when the per-arm bounds admit no allocation.
    """
    arms = selection.arms
    if not arms:
        return Allocation()
    lo, up, move_limited = bounds(arms, spec, prev, arm_to_min, arm_to_max)
    caps = np.array([min(spec.max_share, (arm_to_max or {}).get(a, 1.0)) for a in arms])
    if caps.sum() < 1 - 1e-12:
        raise ValueError(f"infeasible: per-arm caps sum to {caps.sum():.6g} < 1")
    target = target_shares(selection.values, caps, rng)
    shares = project(target, lo, up)
    spend_fraction = 1.0
    if spec.target_cpc_micros is not None:
        min_value = MICROS_PER_UNIT / spec.target_cpc_micros
        spend_fraction = float((selection.values >= min_value).mean(axis=0) @ shares)
    probability = selection.probability_best()
    return Allocation(
        arm_to_share=dict(zip(arms, shares.tolist(), strict=True)),
        arm_to_probability=dict(zip(arms, probability.tolist(), strict=True)),
        spend_fraction=spend_fraction,
        move_limited=move_limited,
    )
