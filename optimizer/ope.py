"""Off-policy evaluation: IPS, SNIPS and cross-fitted DR, percentile bootstrap, promotion gate.

Logged data ``(x_i, p_i, a_i, r_i, pi_0(a_i | x_i, p_i))``, ``i = 1..n``, from a logging
policy ``pi_0``, and a context-free evaluation policy given per position as a table
``pi_e[p, a]`` (shape ``(n_positions, n_actions)``). With weights
``w_i = pi_e(a_i | p_i) / pi_0(a_i | x_i, p_i)`` the estimators of ``V(pi_e) = E[r]`` are

    IPS    V = (1/n) sum_i w_i r_i                                 (Horvitz & Thompson 1952)
    SNIPS  V = sum_i w_i r_i / sum_i w_i                           (Swaminathan & Joachims 2015)
    DR     V = (1/n) sum_i [ sum_a pi_e(a|p_i) q^(-k(i))(a, p_i)
                             + w_i (r_i - q^(-k(i))(a_i, p_i)) ]   (Dudík, Langford & Li 2011)

DR's reward model is cross-fitted (Chernozhukov et al. 2018): rows are split into K folds
and ``q^(-k)`` is fitted on the other folds only, so no row is scored by a model that saw
it. The model is a per-(action, position) CTR shrunk towards the position's CTR,

    q(a, p) = (clicks(a, p) + m * ctr(p)) / (n(a, p) + m).

Every estimator is ``sum_i num_i / sum_i den_i`` over per-row terms, so one percentile
bootstrap (Efron & Tibshirani 1993, §13) resamples rows and recomputes the ratio.
Shapes and names follow st-tech/zr-obp ``ope/estimators.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_CHUNK = 100


class Estimator(Enum):
    IPS = "ips"
    SNIPS = "snips"
    DR = "dr"


@dataclass(frozen=True, slots=True, eq=False)
class LoggedFeedback:
    """Logged bandit feedback; ``positions`` are 0-based slot indexes (all 0 for one slot)."""

    actions: IntArray = field(repr=False)
    positions: IntArray = field(repr=False)
    rewards: FloatArray = field(repr=False)
    pscores: FloatArray = field(repr=False)
    n_actions: int
    n_positions: int = 1

    def __post_init__(self) -> None:
        n = len(self.actions)
        for name in ("positions", "rewards", "pscores"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must have length {n}, got {len(getattr(self, name))}")
        if n == 0:
            raise ValueError("feedback must have at least one row")
        if self.actions.min() < 0 or self.actions.max() >= self.n_actions:
            raise ValueError(f"actions must be in [0, {self.n_actions})")
        if self.positions.min() < 0 or self.positions.max() >= self.n_positions:
            raise ValueError(f"positions must be in [0, {self.n_positions})")
        if not ((self.pscores > 0) & (self.pscores <= 1)).all():
            raise ValueError("pscores must be in (0, 1]")
        if not np.isfinite(self.rewards).all():
            raise ValueError("rewards must be finite")

    def __len__(self) -> int:
        return len(self.actions)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A policy value with its percentile-bootstrap interval at ``level``."""

    value: float
    lower: float
    upper: float
    level: float = 0.95


def action_distribution(
    actions: IntArray, positions: IntArray, n_actions: int, n_positions: int
) -> FloatArray:
    """Observed frequency of each action per position, shape ``(n_positions, n_actions)``.

    This is how to take a policy's action distribution from its own log: empirical
    frequencies, not the mean of its logged propensities (which are noisy per-row
    estimates and biased as a distribution).
    """
    counts = np.bincount(positions * n_actions + actions, minlength=n_positions * n_actions)
    table = counts.reshape(n_positions, n_actions).astype(float)
    totals = table.sum(axis=1, keepdims=True)
    out: FloatArray = np.divide(table, totals, out=np.zeros_like(table), where=totals > 0)
    return out


def _check_distribution(feedback: LoggedFeedback, dist: FloatArray) -> None:
    if dist.shape != (feedback.n_positions, feedback.n_actions):
        raise ValueError(
            f"action distribution must have shape {(feedback.n_positions, feedback.n_actions)}, "
            f"got {dist.shape}"
        )
    if (dist < 0).any() or not np.allclose(dist.sum(axis=1), 1.0):
        raise ValueError("action distribution rows must be non-negative and sum to 1")


def smoothed_ctr_table(
    feedback: LoggedFeedback, rows: IntArray, smoothing: float = 10.0
) -> FloatArray:
    """``q(a, p)`` fitted on ``rows`` of ``feedback`` (see the module docstring)."""
    a, p, r = feedback.actions[rows], feedback.positions[rows], feedback.rewards[rows]
    size = feedback.n_positions * feedback.n_actions
    cell = p * feedback.n_actions + a
    n_cell = np.bincount(cell, minlength=size).reshape(feedback.n_positions, -1)
    clicks_cell = np.bincount(cell, weights=r, minlength=size).reshape(feedback.n_positions, -1)
    n_pos = n_cell.sum(axis=1, keepdims=True)
    ctr_pos = (clicks_cell.sum(axis=1, keepdims=True) + 0.5) / (n_pos + 1.0)
    out: FloatArray = (clicks_cell + smoothing * ctr_pos) / (n_cell + smoothing)
    return out


def cross_fit(
    feedback: LoggedFeedback, n_folds: int, rng: np.random.Generator, smoothing: float = 10.0
) -> tuple[IntArray, FloatArray]:
    """Fold of each row and the out-of-fold tables ``q^(-k)``, shape ``(K, P, A)``."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    n = len(feedback)
    folds: IntArray = rng.permutation(n) % n_folds
    tables = np.stack(
        [
            smoothed_ctr_table(feedback, np.flatnonzero(folds != k), smoothing)
            for k in range(n_folds)
        ]
    )
    return folds, tables


def row_terms(
    estimator: Estimator,
    feedback: LoggedFeedback,
    dist: FloatArray,
    folds: IntArray | None = None,
    tables: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per-row ``(num, den)`` with ``estimate = sum(num) / sum(den)``; trusts its inputs.

    DR needs ``folds`` and ``tables`` from :func:`cross_fit`.
    """
    w = dist[feedback.positions, feedback.actions] / feedback.pscores
    if estimator is Estimator.IPS:
        return w * feedback.rewards, np.ones_like(w)
    if estimator is Estimator.SNIPS:
        return w * feedback.rewards, w
    assert folds is not None and tables is not None
    direct_by_fold = np.einsum("pa,kpa->kp", dist, tables)
    direct = direct_by_fold[folds, feedback.positions]
    q_logged = tables[folds, feedback.positions, feedback.actions]
    return direct + w * (feedback.rewards - q_logged), np.ones_like(w)


def percentile_interval(samples: FloatArray, level: float = 0.95) -> tuple[float, float]:
    """The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of ``samples``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def bootstrap_ratio(
    num: FloatArray, den: FloatArray, rng: np.random.Generator, n_resamples: int
) -> FloatArray:
    """``sum(num[idx]) / sum(den[idx])`` for ``n_resamples`` row resamples with replacement."""
    n = len(num)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _CHUNK):
        stop = min(start + _CHUNK, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    return out


def estimate_policy_value(
    estimator: Estimator,
    feedback: LoggedFeedback,
    dist: FloatArray,
    rng: np.random.Generator,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    n_folds: int = 5,
) -> Estimate:
    """Value of ``dist`` from ``feedback`` with a percentile bootstrap interval.

    The bootstrap resamples rows of the per-row terms (the cross-fitted reward model is
    held fixed). ``rng`` draws the DR folds first, then the resamples.
    """
    _check_distribution(feedback, dist)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    folds, tables = cross_fit(feedback, n_folds, rng) if estimator is Estimator.DR else (None, None)
    num, den = row_terms(estimator, feedback, dist, folds, tables)
    samples = bootstrap_ratio(num, den, rng, n_resamples)
    lower, upper = percentile_interval(samples, level)
    return Estimate(float(num.sum() / den.sum()), lower, upper, level)


class GateRule(Enum):
    LOWER_BEATS_VALUE = "lower-beats-value"
    LOWER_BEATS_UPPER = "lower-beats-upper"


@dataclass(frozen=True, slots=True)
class GateSpec:
    """Promote when ``new.lower > bar * (1 + min_lift)``; ``bar`` is the current policy's
    value (``LOWER_BEATS_VALUE``) or its upper bound (``LOWER_BEATS_UPPER``, stricter)."""

    rule: GateRule = GateRule.LOWER_BEATS_VALUE
    min_lift: float = 0.0

    def __post_init__(self) -> None:
        if self.min_lift < 0:
            raise ValueError(f"min_lift must be >= 0, got {self.min_lift}")


def gate(new_estimate: Estimate, current_estimate: Estimate, spec: GateSpec | None = None) -> bool:
    """Whether to promote the new policy over the current one."""
    spec = spec if spec is not None else GateSpec()
    if spec.rule is GateRule.LOWER_BEATS_VALUE:
        bar = current_estimate.value
    else:
        bar = current_estimate.upper
    return new_estimate.lower > bar * (1 + spec.min_lift)


@dataclass(frozen=True, slots=True)
class OnPolicyCheck:
    """An off-policy estimate against the evaluation policy's own on-policy log.

    ``diff_lower``/``diff_upper`` bound ``estimate - observed`` at ``level``; an unbiased
    estimator's interval should contain 0.
    """

    estimator: Estimator
    estimate: float
    observed: float
    diff_lower: float
    diff_upper: float
    level: float

    @property
    def relative_error(self) -> float:
        return abs(self.estimate - self.observed) / self.observed

    @property
    def contains_zero(self) -> bool:
        return self.diff_lower <= 0.0 <= self.diff_upper


def check_against_on_policy(
    estimator: Estimator,
    logged: LoggedFeedback,
    on_policy: LoggedFeedback,
    rng: np.random.Generator,
    *,
    n_resamples: int = 2000,
    level: float = 0.95,
    n_folds: int = 5,
) -> OnPolicyCheck:
    """Estimate the on-policy log's policy from ``logged`` and bootstrap the difference.

    The evaluation policy is the per-position action frequency observed in ``on_policy``
    and the truth is its mean reward. Each bootstrap resample redraws *both* logs: rows
    of ``on_policy`` (action distribution and observed reward) and rows of ``logged``
    (the estimate; the cross-fitted DR model is held fixed).
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if (logged.n_actions, logged.n_positions) != (on_policy.n_actions, on_policy.n_positions):
        raise ValueError("logged and on_policy must share n_actions and n_positions")
    shape = (logged.n_actions, logged.n_positions)
    dist = action_distribution(on_policy.actions, on_policy.positions, *shape)
    folds, tables = cross_fit(logged, n_folds, rng) if estimator is Estimator.DR else (None, None)
    num, den = row_terms(estimator, logged, dist, folds, tables)
    estimate = float(num.sum() / den.sum())
    observed = float(on_policy.rewards.mean())
    diffs = np.empty(n_resamples)
    n_log, n_on = len(logged), len(on_policy)
    for b in range(n_resamples):
        on = rng.integers(0, n_on, n_on)
        dist_b = action_distribution(on_policy.actions[on], on_policy.positions[on], *shape)
        num_b, den_b = row_terms(estimator, logged, dist_b, folds, tables)
        idx = rng.integers(0, n_log, n_log)
        diffs[b] = num_b[idx].sum() / den_b[idx].sum() - on_policy.rewards[on].mean()
    lower, upper = percentile_interval(diffs, level)
    return OnPolicyCheck(estimator, estimate, observed, lower, upper, level)
