"""Training on a Dask cluster: the same pipeline as ``bidder.model.train``, with the booster
fitted by ``lightgbm.dask`` on row partitions spread over the workers.

Only the booster fit is distributed: reading, the time split, the encoder, calibration,
the baseline and the report run here, with the single-process code. LightGBM's Dask
interface has no early stopping, so the booster trains ``num_boost_round`` rounds (set
``TrainConfig.num_boost_round`` accordingly); its parameters are the single-process
ones (``train._fit_booster`` builds them and hands them to ``_DaskLightGBM.train``).
Distributed (data-parallel) trees are not bit-identical to single-machine trees, so
metrics match within a tolerance, not exactly.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from bidder.features import FeatureEncoder
from bidder.model.calibration import fit_calibration
from bidder.model.dataset import Table, read_table
from bidder.model.train import (
    TrainConfig,
    TrainResult,
    _data_summary,
    _evaluate_all,
    _fit_booster,
    _say,
    _Split,
    _split,
    _write_model_dir,
)


class _Data:
    """Stands in for ``lightgbm.Dataset``: keeps the arrays for the Dask fit."""

    def __init__(self, x: Any, label: Any = None, **kwargs: Any) -> None:
        self.x = x
        self.label = label
        self.kwargs = kwargs


class _DaskLightGBM:
    """The slice of the ``lightgbm`` module ``train._fit_booster`` uses, fitting on Dask."""

    Dataset = _Data

    def __init__(self, client: Any, partitions: int) -> None:
        self.client = client
        self.partitions = partitions

    @staticmethod
    def early_stopping(*args: Any, **kwargs: Any) -> None:
        return None  # lightgbm.dask trains a fixed number of rounds

    def train(self, params: dict[str, Any], train_set: _Data, num_boost_round: int,
              **kwargs: Any) -> Any:  # fmt: skip
        import dask.array as da
        from lightgbm.dask import DaskLGBMClassifier

        rows = len(train_set.x)
        chunk = -(-rows // self.partitions)
        dx = da.from_array(train_set.x, chunks=(chunk, train_set.x.shape[1]))  # type: ignore[no-untyped-call]
        dy = da.from_array(np.asarray(train_set.label), chunks=chunk)  # type: ignore[no-untyped-call]
        model_params = {k: v for k, v in params.items() if k not in ("objective", "verbose")}
        model = DaskLGBMClassifier(
            client=self.client, n_estimators=num_boost_round, verbose=-1, **model_params
        )
        model.fit(
            dx,
            dy,
            feature_name=train_set.kwargs.get("feature_name", "auto"),
            categorical_feature=train_set.kwargs.get("categorical_feature", "auto"),
        )
        return model.booster_


def train_model_dask(
    data: str | Path,
    fmt: str,
    out: str | Path,
    client: Any,
    config: TrainConfig | None = None,
    partitions: int = 2,
    progress: TextIO | None = sys.stderr,
) -> TrainResult:
    """``train.train_model`` with the booster fitted on ``client``'s Dask cluster."""
    cfg = config or TrainConfig()
    _say(progress, f"reading {fmt} data from {data}")
    return train_table_dask(read_table(data, fmt, cfg.rows), fmt, out, client, cfg,
                            partitions, progress)  # fmt: skip


def train_table_dask(
    table: Table,
    fmt: str,
    out: str | Path,
    client: Any,
    config: TrainConfig | None = None,
    partitions: int = 2,
    progress: TextIO | None = sys.stderr,
) -> TrainResult:
    """``train.train_table`` with the booster fitted on Dask (``partitions`` row chunks)."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    cfg = config or TrainConfig()
    splits = _split(table, cfg)
    train, valid, test = splits
    if len(np.unique(train.label)) < 2:
        raise ValueError("the training split has a single class: more rows are needed")
    _say(progress, f"rows train/valid/test = {len(train)}/{len(valid)}/{len(test)}; "
                   f"{partitions} partitions on Dask")  # fmt: skip
    encoder = FeatureEncoder.fit(
        table.spec,
        train.columns,
        train.tags,
        min_count=cfg.min_count,
        max_categories=cfg.max_categories,
        max_tags=cfg.max_tags,
    )
    encoded = [_Split(encoder.encode_columns(t.columns, t.numeric, t.tags), t) for t in splits]
    lgb = _DaskLightGBM(client, partitions)
    booster = _fit_booster(lgb, encoder, encoded[0], encoded[1], cfg, None)
    raw = [booster.predict(s.x, raw_score=True) for s in encoded]
    calibration = fit_calibration(raw[1], valid.label, cfg.calibration)
    report = _evaluate_all(encoder, booster, calibration, encoded, raw, cfg, progress)
    report["data"] = _data_summary(table, fmt, splits)
    report["training"] = {
        "best_iteration": booster.best_iteration or booster.current_iteration(),
        "calibration": calibration.method,
        "config": asdict(cfg),
        "dask": {"partitions": partitions, "workers": len(client.scheduler_info()["workers"])},
    }
    model_dir = _write_model_dir(Path(out), booster, encoder, calibration, encoded[2].x, report)
    _say(progress, f"wrote {model_dir}")
    return TrainResult(model_dir, report)
