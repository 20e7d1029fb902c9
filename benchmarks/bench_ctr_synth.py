"""CTR model vs its done-means on the synthetic market: AUC ratio, calibration, baseline.

    .venv/bin/python -m benchmarks.bench_ctr_synth [--rows 4000000] [--seed 1]

Draws a market with ``rtb synth`` defaults (fixed ``--seed``, default world seed, no
requests.jsonl), trains it with :func:`bidder.model.train.train_model` and the default
:class:`~bidder.model.train.TrainConfig` (70/15/15 time split, isotonic calibration on the
validation split), and checks the issue's targets on the test split:

* ``auc_ratio``: model test AUC >= 0.98 x the AUC of the true CTR on the same rows;
* ``calibration_overall``: mean predicted / observed CTR within 1.00 +- 0.05;
* ``calibration_top5_deciles``: the same for each of the 5 highest-pCTR deciles
  (deciles by the model's predicted CTR);
* ``beats_baseline``: higher AUC and lower log loss than the logistic baseline.

Each calibration ratio comes with its Poisson standard error
:math:`\\mathrm{se} = r / \\sqrt{k}` (``k`` the observed clicks of the decile), the noise
floor of the measurement: the true CTR's own deciles are reported for comparison. Writes
``benchmarks/results/ctr-synth-<date>.json`` and prints one pass/fail line per target.

Why 4M rows: at the default 0.8 % CTR they hold ~32k clicks, ~4.7k in the test split and
340-1,700 in each of the top-5 test deciles (SE 2.5-5.5 %), so a +-5 % calibration target
is measurable at all; at 1M rows the deciles hold ~80-400 clicks (SE 5-11 %). The run
takes about 6 minutes on two cores (generation ~40 s, reading and training the rest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bidder.model.train import TrainConfig, train_model
from simulator.synth.generate import generate_market
from simulator.synth.market import DEFAULT_WORLD_SEED, TARGET_CTR

RESULTS = Path(__file__).resolve().parent / "results"
AUC_RATIO_MIN = 0.98
CALIBRATION_TOLERANCE = 0.05
TOP_DECILES = 5


def _ratio_with_se(cal: dict[str, Any]) -> dict[str, Any]:
    """``predicted / observed`` of a calibration cell with its Poisson standard error."""
    rows = int(cal.get("rows", 0))
    clicks = round(cal["observed"] * rows) if rows else None
    ratio = cal["ratio"]
    se = ratio / math.sqrt(clicks) if ratio is not None and clicks else None
    return {"ratio": ratio, "se": se, "clicks": clicks, "rows": rows or None}


def _summarise(test: dict[str, Any]) -> dict[str, Any]:
    cal = test["calibration"]
    overall = _ratio_with_se({**cal, "rows": test["rows"]})
    top = [{"decile": d["decile"], **_ratio_with_se(d)} for d in cal["deciles"][-TOP_DECILES:]]
    return {
        "auc": test["auc"],
        "logloss": test["logloss"],
        "ne": test["ne"],
        "calibration_overall": overall,
        "calibration_top_deciles": top,
    }


def _within(ratio: float | None) -> bool:
    return ratio is not None and abs(ratio - 1.0) <= CALIBRATION_TOLERANCE


def _targets(model: dict[str, Any], base: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    auc_ratio = model["auc"] / truth["auc"]
    top = [d["ratio"] for d in model["calibration_top_deciles"]]
    return {
        "auc_ratio": {"value": auc_ratio, "target": f">= {AUC_RATIO_MIN}",
                      "pass": auc_ratio >= AUC_RATIO_MIN},
        "calibration_overall": {
            "value": model["calibration_overall"]["ratio"],
            "target": f"1.00 +- {CALIBRATION_TOLERANCE}",
            "pass": _within(model["calibration_overall"]["ratio"]),
        },
        "calibration_top5_deciles": {
            "value": top,
            "target": f"each 1.00 +- {CALIBRATION_TOLERANCE}",
            "pass": all(_within(r) for r in top),
        },
        "beats_baseline_auc": {"value": [model["auc"], base["auc"]], "target": "model > baseline",
                               "pass": model["auc"] > base["auc"]},
        "beats_baseline_logloss": {
            "value": [model["logloss"], base["logloss"]],
            "target": "model < baseline",
            "pass": model["logloss"] < base["logloss"],
        },
    }  # fmt: skip


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Generate, train and evaluate; the result document (without ``created``)."""
    t0 = time.perf_counter()
    market = generate_market(args.rows, args.seed, work / "market", write_requests=False)
    t1 = time.perf_counter()
    config = TrainConfig(seed=args.train_seed, num_threads=args.threads)
    progress = sys.stderr if args.progress else None
    result = train_model(work / "market", "synthetic", work / "model", config, progress)
    t2 = time.perf_counter()
    report = result.report
    model = _summarise(report["model"]["test"])
    base = _summarise(report["baseline"]["test"])
    truth = _summarise(report["ground_truth"]["test"])
    return {
        "market": {
            "rows": market.rows,
            "clicks": market.clicks,
            "ctr": market.overall_ctr,
            "mean_true_ctr": market.mean_true_ctr,
            "truth_auc_all_rows": market.truth_auc,
            "seed": market.seed,
            "world_seed": market.world_seed,
            "target_ctr": TARGET_CTR,
        },
        "splits": report["data"],
        "training": {
            "config": asdict(config),
            "best_iteration": report["training"]["best_iteration"],
            "calibration": report["training"]["calibration"],
        },
        "test": {"model": model, "baseline": base, "ground_truth": truth},
        "model_uncalibrated": _summarise(report["model"]["test_uncalibrated"]),
        "targets": _targets(model, base, truth),
        "timings_s": {"generate": t1 - t0, "train_and_evaluate": t2 - t1},
    }


def _print(doc: dict[str, Any]) -> None:
    m = doc["market"]
    print(f"market: {m['rows']} rows, {m['clicks']} clicks, CTR {m['ctr']:.4%}")
    for who, s in doc["test"].items():
        top = "  ".join(
            f"{d['ratio']:.3f}+-{d['se']:.3f}" if d["se"] else "n/a"
            for d in s["calibration_top_deciles"]
        )
        ov = s["calibration_overall"]
        print(
            f"{who:>12}: auc {s['auc']:.4f}  logloss {s['logloss']:.6f}  "
            f"pred/obs {ov['ratio']:.3f}+-{ov['se']:.3f}  top-5 deciles {top}"
        )
    for name, t in doc["targets"].items():
        value = t["value"]
        shown = (
            f"{value:.4f}"
            if isinstance(value, float)
            else ", ".join(f"{v:.6g}" if v is not None else "n/a" for v in value)
        )
        print(f"{'PASS' if t['pass'] else 'FAIL'}  {name}: {shown}  (target {t['target']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="market rows (>= 1e6)")
    parser.add_argument("--seed", type=int, default=1, help="market seed")
    parser.add_argument("--train-seed", type=int, default=0, help="LightGBM / baseline seed")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads")
    parser.add_argument("--progress", action="store_true", help="training progress on stderr")
    parser.add_argument(
        "--out", help="result file (default benchmarks/results/ctr-synth-<date>.json)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ctr-synth-") as tmp:
        doc = run(args, Path(tmp))
    doc = {
        "benchmark": "ctr-synth",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "world_seed_default": DEFAULT_WORLD_SEED,
        **doc,
    }
    out = Path(args.out) if args.out else RESULTS / f"ctr-synth-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    _print(doc)
    print(f"wrote {out}")
    return 0 if all(t["pass"] for t in doc["targets"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
