"""`rtb train`: train, calibrate and report a LightGBM CTR model into a model directory."""

from __future__ import annotations

import argparse
import sys

from bidder.errors import ModelError
from bidder.model.dataset import FORMATS

NAME = "train"
HELP = "train and calibrate the LightGBM CTR model"
EPILOG = """examples:
  rtb train --data var/market --format synthetic --out models/default/
  rtb train --data ../shared/data/ipinyou/camp2259-raw --format ipinyou --out models/ipinyou/
  rtb train --data ../shared/data/ctr-samples/criteo-kaggle2014-3idiots --format criteo \\
      --out models/criteo/ --seed 3

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


def run(args: argparse.Namespace) -> int:
    from bidder.model.train import TrainConfig, train_model

    config = TrainConfig(
        seed=args.seed,
        rows=args.rows,
        calibration=args.calibration,
        num_threads=args.threads,
        baseline=not args.no_baseline,
    )
    try:
        result = train_model(
            args.data, args.format, args.out, config, None if args.quiet else sys.stderr
        )
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
