"""Benchmark: even pacing in the full replay of a synthetic market (3 campaigns, one week).

``rtb synth`` draws the market; the replay runs ``simulator/configs/synthetic.yaml`` (even
pacing, optimiser on or off) at ``--budget-fraction`` of the market cost, so each campaign's
daily budget is a fraction of what it could buy. For every campaign and day it reports the
cumulative spend at each hour against the plan ``daily * h / 24``: the largest deviation
relative to the plan at that hour and relative to the daily budget, and the hour by which a
day's budget was exhausted (targets: within 5 % of plan; never before hour 22).

Writes ``benchmarks/results/pacing-f<budget fraction>-<date>.json``.
Run: ``.venv/bin/python benchmarks/bench_pacing.py [--rows 100000] [--optimizer off]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from simulator.full_run import run_full_replay
from simulator.replay import AuctionType
from simulator.synth import generate_market

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIG = ROOT / "simulator" / "configs" / "synthetic.yaml"


def measure(rows: int, seed: int, fraction: float, optimize: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate_market(rows, seed, out, write_requests=False)
        report = run_full_replay(
            out / "log.tsv",
            CONFIG,
            budget_fraction=fraction,
            auction=AuctionType.SECOND_PRICE,
            seed=seed,
            version="bench",
            synthetic=True,
            optimize=optimize,
        )
    pacing = report["pacing"]
    full_days = {
        c: [d for d in p["days"]] for c, p in pacing.items()
    }  # every day of the week is whole (the log starts and ends at local midnight)
    return {
        "seed": seed,
        "spend": report["spend"],
        "budget_per_campaign": report["budget"],
        "campaigns": {
            c: {
                "daily_budget": p["daily_budget"],
                "max_abs_deviation": p["max_abs_deviation"],
                "max_abs_deviation_of_daily": p["max_abs_deviation_of_daily"],
                "max_abs_deviation_after_hour_2": max(
                    abs(x) for d in full_days[c] for x in d["deviation_by_hour"][2:]
                ),
                "max_abs_deviation_at_day_end": max(
                    abs(d["deviation_by_hour"][-1]) for d in full_days[c]
                ),
                "exhausted_hour_by_day": p["exhausted_hour_by_day"],
                "days": p["days"],
            }
            for c, p in pacing.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget-fraction", type=float, default=1 / 8)
    parser.add_argument("--optimizer", choices=("on", "off"), default="on")
    args = parser.parse_args()
    result = measure(args.rows, args.seed, args.budget_fraction, args.optimizer == "on")
    campaigns = result["campaigns"]
    summary = {
        "max_abs_deviation": max(c["max_abs_deviation"] for c in campaigns.values()),
        "max_abs_deviation_after_hour_2": max(
            c["max_abs_deviation_after_hour_2"] for c in campaigns.values()
        ),
        "max_abs_deviation_of_daily": max(
            c["max_abs_deviation_of_daily"] for c in campaigns.values()
        ),
        "max_abs_deviation_at_day_end": max(
            c["max_abs_deviation_at_day_end"] for c in campaigns.values()
        ),
        "earliest_exhaustion_hour": min(
            (h for c in campaigns.values() for h in c["exhausted_hour_by_day"] if h is not None),
            default=None,
        ),
    }
    report = {
        "benchmark": "pacing",
        "date": dt.date.today().isoformat(),
        "rows": args.rows,
        "budget_fraction": args.budget_fraction,
        "optimizer": args.optimizer,
        "targets": {"max_abs_deviation": 0.05, "no_exhaustion_before_hour": 22},
        "summary": summary,
        "result": result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"pacing-f{args.budget_fraction:g}-{report['date']}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
