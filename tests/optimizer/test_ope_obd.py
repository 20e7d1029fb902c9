"""OPE on the Open Bandit Dataset: estimates of ``bts`` from ``random`` logs cover its CTR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optimizer.ope import Estimator, check_against_on_policy
from simulator.obd import load_obd


@pytest.mark.parametrize("campaign", ["all", "men", "women"])
def test_ope_obd_difference_interval_contains_zero(shared_data: Path, campaign: str) -> None:
    root = shared_data / "open-bandit-dataset"
    logged, on_policy = load_obd(root, "random", campaign), load_obd(root, "bts", campaign)
    for seed, estimator in enumerate(Estimator):
        check = check_against_on_policy(
            estimator, logged, on_policy, np.random.default_rng(seed), n_resamples=2000
        )
        assert check.contains_zero, (
            f"{campaign}/{estimator.value}: estimate {check.estimate:.5f}, observed "
            f"{check.observed:.5f}, 95% CI of the difference "
            f"[{check.diff_lower:+.5f}, {check.diff_upper:+.5f}]"
        )
