"""Benchmark: off-policy estimates of the Open Bandit Dataset's ``bts`` policy from ``random`` logs.

For each campaign (all, men, women) the value of Bernoulli Thompson sampling is estimated
from the uniform-random log with IPS, SNIPS and cross-fitted DR, the evaluation policy being
the per-position item frequencies observed in the ``bts`` log; the truth is the ``bts`` log's
CTR. A percentile bootstrap resampling both logs gives a 95% interval of
``estimate - observed``, which should contain 0.

Run: ``.venv/bin/python benchmarks/bench_ope_obd.py [--resamples 2000] [--seed 0]``;
writes ``benchmarks/results/ope-obd-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import cast

import numpy as np

from bidder.settings import data_dir
from optimizer.ope import Estimator, check_against_on_policy
from simulator.obd import load_obd

RESULTS = Path(__file__).resolve().parent / "results"
CAMPAIGNS = ("all", "men", "women")


def run(root: Path, n_resamples: int, seed: int) -> list[dict[str, object]]:
    """One row per (campaign, estimator); seeds fan out from ``seed`` before any draw."""
    seeds = np.random.SeedSequence(seed).spawn(len(CAMPAIGNS) * len(Estimator))
    out: list[dict[str, object]] = []
    for c_index, campaign in enumerate(CAMPAIGNS):
        logged = load_obd(root, "random", campaign)
        on_policy = load_obd(root, "bts", campaign)
        for e_index, estimator in enumerate(Estimator):
            rng = np.random.default_rng(seeds[c_index * len(Estimator) + e_index])
            check = check_against_on_policy(
                estimator, logged, on_policy, rng, n_resamples=n_resamples
            )
            out.append(
                {
                    "campaign": campaign,
                    "estimator": estimator.value,
                    "estimate": check.estimate,
                    "observed_bts_ctr": check.observed,
                    "relative_error": check.relative_error,
                    "diff_ci95": [check.diff_lower, check.diff_upper],
                    "contains_zero": check.contains_zero,
                    "random_clicks": int(logged.rewards.sum()),
                    "bts_clicks": int(on_policy.rewards.sum()),
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.resamples < 2000:
        parser.error("the benchmark needs >= 2000 resamples")
    root = data_dir() / "open-bandit-dataset"
    rows = run(root, args.resamples, args.seed)
    print(f"{'campaign':8} {'est':6} {'estimate':>9} {'bts CTR':>9} {'rel err':>8}  95% CI diff")
    for r in rows:
        lo, hi = cast(list[float], r["diff_ci95"])
        print(
            f"{r['campaign']:8} {r['estimator']:6} {r['estimate']:9.5f} "
            f"{r['observed_bts_ctr']:9.5f} {r['relative_error']:8.3f}  "
            f"[{lo:+.5f}, {hi:+.5f}] {'contains 0' if r['contains_zero'] else 'EXCLUDES 0'}"
        )
    today = dt.date.today().isoformat()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"ope-obd-{today}.json"
    payload = {"date": today, "n_resamples": args.resamples, "seed": args.seed, "rows": rows}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
