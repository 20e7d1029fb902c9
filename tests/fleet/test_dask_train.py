"""`lightgbm.dask` training on a local two-worker cluster matches single-process training."""

from __future__ import annotations

from pathlib import Path

import pytest

from bidder.model.train import TrainConfig, train_model
from bidder.model.train_dask import train_model_dask
from rtb.dask_cluster import dask_client
from simulator.synth import generate_market

pytestmark = pytest.mark.slow

AUC_TOLERANCE = 0.02
LOGLOSS_TOLERANCE = 0.03  # relative


def test_dask_train_metrics_match_single_process(tmp_path: Path) -> None:
    market = tmp_path / "market"
    generate_market(40_000, 1, market, write_requests=False)
    config = TrainConfig(seed=1, num_boost_round=80, early_stopping_rounds=10_000,
                         num_threads=1, baseline=False)  # fmt: skip
    single = train_model(market, "synthetic", tmp_path / "one", config, progress=None)
    with dask_client("local", 2) as client:
        dask = train_model_dask(market, "synthetic", tmp_path / "dask", client, config, 2, None)
    one, two = single.report["model"]["test"], dask.report["model"]["test"]
    print(f"\ntest AUC single {one['auc']:.4f} dask {two['auc']:.4f}; "
          f"logloss single {one['logloss']:.5f} dask {two['logloss']:.5f}")  # fmt: skip
    assert abs(one["auc"] - two["auc"]) <= AUC_TOLERANCE
    assert abs(one["logloss"] - two["logloss"]) <= LOGLOSS_TOLERANCE * one["logloss"]
    assert dask.report["training"]["dask"] == {"partitions": 2, "workers": 2}
    assert (dask.model_dir / "model.txt").is_file()
