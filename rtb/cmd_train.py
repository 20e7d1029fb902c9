"""`rtb train`: train, calibrate and report a LightGBM CTR model into a model directory."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from bidder.errors import ModelError
from bidder.model.dataset import FORMATS

NAME = "train"
HELP = "train and calibrate the LightGBM CTR model"
EPILOG = """examples:
  rtb train --data var/market --format synthetic --out models/default/
  rtb train --data ../shared/data/ipinyou/camp2259-raw --format ipinyou --out models/ipinyou/
  rtb train --data ../shared/data/ctr-samples/criteo-kaggle2014-3idiots --format criteo \\
      --out models/criteo/ --seed 3
  rtb train --data var/market --format synthetic --out models/dask/ --dask local --dask-workers 2
  rtb train --data var/market --format synthetic --out models/dask/ --dask tcp://sched:8786

The model directory holds model.txt, encoder.json, calibration.json, canary.json,
metadata.json, report.json, reliability.png and report.html. Splits are 70/15/15 in
time order; calibration is fitted on the validation split, metrics on the test split.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="data file or folder")
    parser.add_argument("--format", required=True, choices=FORMATS, help="data format")
    parser.add_argument("--out", required=True, help="model directory to (re)write")
    parser.add_argument("--seed", type=int, default=0, help="LightGBM and baseline seed")
    parser.add_argument("--rows", type=int, default=None, help="use only the first N rows")
    parser.add_argument(
        "--calibration",
        choices=("auto", "isotonic", "platt"),
        default="auto",
        help="calibration map (auto: isotonic with >= 200 validation clicks, else Platt)",
    )
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads")
    parser.add_argument("--no-baseline", action="store_true", help="skip the logistic baseline")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--dask",
        metavar="SCHEDULER",
        default=None,
        help="fit the booster with lightgbm.dask: a scheduler address or 'local'",
    )
    parser.add_argument("--dask-workers", type=int, default=2, help="workers of --dask local")
    parser.add_argument(
        "--dask-partitions", type=int, default=None, help="row partitions (default: workers)"
    )
    parser.add_argument(
        "--dask-rounds",
        type=int,
        default=300,
        help="boosting rounds under --dask (lightgbm.dask has no early stopping)",
    )


def run(args: argparse.Namespace) -> int:
    from bidder.model.train import TrainConfig, train_model

    config = TrainConfig(
        seed=args.seed,
        rows=args.rows,
        calibration=args.calibration,
        num_threads=args.threads,
        baseline=not args.no_baseline,
    )
    progress = None if args.quiet else sys.stderr
    try:
        if args.dask:
            result = _train_dask(
                args, dataclasses.replace(config, num_boost_round=args.dask_rounds)
            )
        else:
            result = train_model(args.data, args.format, args.out, config, progress)
    except (ModelError, ValueError) as exc:
        print(f"rtb train: {exc}", file=sys.stderr)
        return 1
    for name in ("model", "baseline", "ground_truth"):
        test = result.report.get(name, {}).get("test")
        if test:
            auc = "n/a" if test["auc"] is None else f"{test['auc']:.4f}"
            ratio = test["calibration"]["ratio"]
            ratio_s = "n/a" if ratio is None else f"{ratio:.3f}"
            print(f"{name:>12}: test auc {auc}  logloss {test['logloss']:.5f}  pred/obs {ratio_s}")
    print(f"model written to {result.model_dir}")
    return 0


def _train_dask(args: argparse.Namespace, config: Any) -> Any:
    from bidder.model.train_dask import train_model_dask
    from rtb.dask_cluster import dask_client

    partitions = args.dask_partitions or args.dask_workers
    with dask_client(args.dask, args.dask_workers) as client:
        return train_model_dask(
            args.data, args.format, args.out, client, config, partitions,
            None if args.quiet else sys.stderr,
        )  # fmt: skip
