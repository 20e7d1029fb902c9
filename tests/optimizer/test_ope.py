"""Off-policy estimators: validation, unbiasedness on a synthetic log, cross-fitting, gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from optimizer.ope import (
    Estimate,
    Estimator,
    GateRule,
    GateSpec,
    LoggedFeedback,
    action_distribution,
    check_against_on_policy,
    cross_fit,
    estimate_policy_value,
    gate,
    percentile_interval,
    smoothed_ctr_table,
)

N_ACTIONS, N_POSITIONS = 5, 2
CTR = np.array([[0.01, 0.02, 0.05, 0.1, 0.2], [0.005, 0.01, 0.03, 0.05, 0.1]])


def _uniform_log(n: int, rng: np.random.Generator) -> LoggedFeedback:
    actions = rng.integers(0, N_ACTIONS, n)
    positions = rng.integers(0, N_POSITIONS, n)
    rewards = (rng.random(n) < CTR[positions, actions]).astype(float)
    return LoggedFeedback(actions, positions, rewards, np.full(n, 1 / N_ACTIONS), N_ACTIONS, 2)


def _feedback(**overrides: Any) -> LoggedFeedback:
    base: dict[str, Any] = {
        "actions": np.array([0, 1]),
        "positions": np.array([0, 0]),
        "rewards": np.array([0.0, 1.0]),
        "pscores": np.array([0.5, 0.5]),
        "n_actions": 2,
        "n_positions": 1,
    }
    return LoggedFeedback(**(base | overrides))


DIST = np.array([[0.5, 0.5]])


@pytest.mark.parametrize(
    ("factory", "exc", "message"),
    [
        (lambda: _feedback(rewards=np.array([0.0])), ValueError, "rewards must have length 2"),
        (lambda: _feedback(actions=np.array([0, 2])), ValueError, r"actions must be in \[0, 2\)"),
        (lambda: _feedback(positions=np.array([0, 1])), ValueError, r"positions must be in"),
        (lambda: _feedback(pscores=np.array([0.0, 1.0])), ValueError, r"pscores must be in"),
        (lambda: _feedback(rewards=np.array([np.nan, 1])), ValueError, "rewards must be finite"),
        (
            lambda: _feedback(
                actions=np.array([], dtype=np.int64),
                positions=np.array([], dtype=np.int64),
                rewards=np.array([]),
                pscores=np.array([]),
            ),
            ValueError,
            "at least one row",
        ),
        (
            lambda: estimate_policy_value(
                Estimator.IPS, _feedback(), np.array([[1.0]]), np.random.default_rng(0)
            ),
            ValueError,
            r"must have shape \(1, 2\)",
        ),
        (
            lambda: estimate_policy_value(
                Estimator.IPS, _feedback(), np.array([[0.7, 0.7]]), np.random.default_rng(0)
            ),
            ValueError,
            "rows must be non-negative and sum to 1",
        ),
        (
            lambda: estimate_policy_value(
                Estimator.IPS, _feedback(), DIST, np.random.default_rng(0), n_resamples=0
            ),
            ValueError,
            "n_resamples must be >= 1",
        ),
        (lambda: cross_fit(_feedback(), 1, np.random.default_rng(0)), ValueError, "n_folds"),
        (lambda: percentile_interval(np.ones(3), 1.0), ValueError, r"level must be in \(0, 1\)"),
        (lambda: GateSpec(min_lift=-0.1), ValueError, "min_lift must be >= 0"),
        (
            lambda: check_against_on_policy(
                Estimator.IPS,
                _feedback(),
                _feedback(n_actions=3, actions=np.array([0, 2])),
                np.random.default_rng(0),
            ),
            ValueError,
            "must share n_actions and n_positions",
        ),
    ],
)
def test_ope_rejects_invalid_input(factory: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        factory()


@pytest.mark.parametrize("estimator", list(Estimator))
def test_estimator_recovers_synthetic_policy_value(estimator: Estimator) -> None:
    rng = np.random.default_rng(3)
    feedback = _uniform_log(40_000, rng)
    target = np.array([[0.0, 0.0, 0.2, 0.3, 0.5], [0.1, 0.1, 0.1, 0.2, 0.5]])
    truth = float((target * CTR).sum(axis=1).mean())
    est = estimate_policy_value(estimator, feedback, target, rng, n_resamples=500)
    assert est.lower < truth < est.upper
    assert abs(est.value - truth) / truth < 0.1


def test_dr_reward_model_is_cross_fitted() -> None:
    rng = np.random.default_rng(0)
    feedback = _uniform_log(2_000, rng)
    folds, tables = cross_fit(feedback, 4, np.random.default_rng(1))
    for k in range(4):
        rewards = feedback.rewards.copy()
        rewards[folds == k] = 1 - rewards[folds == k]  # change only fold k's rewards
        flipped = LoggedFeedback(
            feedback.actions, feedback.positions, rewards, feedback.pscores, N_ACTIONS, 2
        )
        refit = smoothed_ctr_table(flipped, np.flatnonzero(folds != k))
        np.testing.assert_array_equal(refit, tables[k])


def test_action_distribution_is_observed_frequency_per_position() -> None:
    dist = action_distribution(np.array([0, 0, 1, 2]), np.array([0, 0, 0, 1]), 3, 3)
    np.testing.assert_allclose(dist, [[2 / 3, 1 / 3, 0], [0, 0, 1], [0, 0, 0]])


def test_on_policy_check_covers_the_truth_on_synthetic_logs() -> None:
    rng = np.random.default_rng(5)
    logged = _uniform_log(20_000, rng)
    actions = np.full(20_000, 4)
    positions = rng.integers(0, 2, 20_000)
    rewards = (rng.random(20_000) < CTR[positions, actions]).astype(float)
    on_policy = LoggedFeedback(actions, positions, rewards, np.ones(20_000), N_ACTIONS, 2)
    check = check_against_on_policy(Estimator.DR, logged, on_policy, rng, n_resamples=300)
    assert check.contains_zero
    assert check.relative_error < 0.2


@pytest.mark.parametrize(
    ("new", "current", "spec", "promote"),
    [
        (Estimate(0.12, 0.11, 0.13), Estimate(0.10, 0.09, 0.11), GateSpec(), True),
        (Estimate(0.12, 0.09, 0.15), Estimate(0.10, 0.09, 0.11), GateSpec(), False),
        (
            Estimate(0.12, 0.105, 0.13),
            Estimate(0.10, 0.09, 0.11),
            GateSpec(rule=GateRule.LOWER_BEATS_UPPER),
            False,
        ),
        (Estimate(0.12, 0.105, 0.13), Estimate(0.10, 0.09, 0.11), GateSpec(min_lift=0.1), False),
    ],
)
def test_gate_promotes_only_when_lower_bound_beats_current(
    new: Estimate, current: Estimate, spec: GateSpec, promote: bool
) -> None:
    assert gate(new, current, spec) is promote
