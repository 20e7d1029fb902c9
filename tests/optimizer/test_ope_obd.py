"""OPE on the Open Bandit Dataset: estimates of ``bts`` from ``random`` logs cover its CTR."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from optimizer.ope import Estimator, LoggedFeedback, check_against_on_policy


def _load(root: Path, behavior: str, campaign: str) -> LoggedFeedback:
    with (root / behavior / campaign / f"{campaign}.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (root / behavior / campaign / "item_context.csv").open() as f:
        n_items = sum(1 for _ in csv.DictReader(f))
    return LoggedFeedback(
        actions=np.array([int(r["item_id"]) for r in rows], dtype=np.int64),
        positions=np.array([int(r["position"]) - 1 for r in rows], dtype=np.int64),
        rewards=np.array([float(r["click"]) for r in rows]),
        pscores=np.array([float(r["propensity_score"]) for r in rows]),
        n_actions=n_items,
        n_positions=3,
    )


@pytest.mark.parametrize("campaign", ["all", "men", "women"])
def test_ope_obd_difference_interval_contains_zero(shared_data: Path, campaign: str) -> None:
    root = shared_data / "open-bandit-dataset"
    logged, on_policy = _load(root, "random", campaign), _load(root, "bts", campaign)
    for seed, estimator in enumerate(Estimator):
        check = check_against_on_policy(
            estimator, logged, on_policy, np.random.default_rng(seed), n_resamples=2000
        )
        assert check.contains_zero, (
            f"{campaign}/{estimator.value}: estimate {check.estimate:.5f}, observed "
            f"{check.observed:.5f}, 95% CI of the difference "
            f"[{check.diff_lower:+.5f}, {check.diff_upper:+.5f}]"
        )
