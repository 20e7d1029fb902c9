"""Benchmark: pacing in the full replay, real iPinYou logs or a synthetic market.

``--market ipinyou`` replays the whole days (Oct 23-25) of the iPinYou advertiser 2259 test
log through ``simulator/configs/ipinyou-2259.yaml``; ``--market synth`` a one-week
``rtb synth`` market through ``simulator/configs/synthetic.yaml`` (3 campaigns, optimiser on
or off). Each campaign's daily budget is ``--budget-fraction`` of the market cost per day.

``--plan traffic`` paces along a traffic curve learned from history only
(``optimizer.pacing.traffic_curve`` of the auctions per local hour): the iPinYou *training*
log (Oct 19-22), or for the synthetic market another week drawn from the same world (market
seed + 1000); never the evaluated days. ``--plan even`` is the uniform plan ``daily * h / 24``.

For every campaign and day it measures the cumulative spend at the end of each local hour
``h`` against the plan ``daily * f(h)``: ``|spend_h - plan_h| / daily`` (the target: <= 0.05
at every hour), the same relative to ``plan_h``, and the hour (1-24) by which the day spent
99.9 % of its budget (target: none before hour 22).

Writes ``benchmarks/results/pacing-<market>-<plan>-f<budget fraction>-<date>.json``.
Run: ``.venv/bin/python benchmarks/bench_pacing.py [--market ipinyou] [--plan traffic]
[--budget-fraction 0.125] [--rows 100000] [--optimizer on]``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from bidder.config.load import load_config
from bidder.config.model import Config
from bidder.settings import data_dir
from optimizer.pacing import traffic_curve
from simulator.full_run import load_rows, run_full_replay
from simulator.ipinyou import IPINYOU_TZ, MarketRow
from simulator.replay import AuctionType
from simulator.synth import generate_market

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SYNTH_CONFIG = ROOT / "simulator" / "configs" / "synthetic.yaml"
IPINYOU_CONFIG = ROOT / "simulator" / "configs" / "ipinyou-2259.yaml"
IPINYOU_FIRST_WHOLE_DAY = dt.datetime(
    2013, 10, 23, tzinfo=IPINYOU_TZ
)  # test log: Oct 22 is partial
HISTORY_SEED_OFFSET = 1000
UNIFORM_WEIGHT = 0.25  # fixed a priori, not tuned on the evaluated days
TARGET_OF_DAILY = 0.05
TARGET_NO_EXHAUSTION_BEFORE_HOUR = 22


def learned_curve(history: list[MarketRow]) -> tuple[float, ...]:
    """The traffic curve of the history rows (auctions per local hour, Beijing time)."""
    counts = collections.Counter(
        dt.datetime.fromtimestamp(r.ts_s, IPINYOU_TZ).hour for r in history
    )
    return traffic_curve([counts[h] for h in range(24)], UNIFORM_WEIGHT)


def with_curve(config: Config, curve: tuple[float, ...]) -> Config:
    campaigns = tuple(dataclasses.replace(c, pacing_curve=curve) for c in config.campaigns)
    return dataclasses.replace(config, campaigns=campaigns)


def day_figures(
    spend_by_hour: list[float], daily: float, curve: tuple[float, ...]
) -> dict[str, Any]:
    """One day's cumulative spend per hour against ``daily * f(h)``."""
    plan = [daily * (sum(curve[: h + 1]) if curve else (h + 1) / 24) for h in range(24)]
    of_daily = [(s - p) / daily for s, p in zip(spend_by_hour, plan, strict=True)]
    return {
        "spend_by_hour": spend_by_hour,
        "plan_by_hour": [round(p, 3) for p in plan],
        "deviation_of_daily_by_hour": [round(x, 6) for x in of_daily],
        "max_abs_deviation_of_daily": round(max(abs(x) for x in of_daily), 6),
        "max_abs_deviation_of_plan": round(
            max(abs(s - p) / p for s, p in zip(spend_by_hour, plan, strict=True) if p > 0), 6
        ),
        "exhausted_hour": next(
            (h + 1 for h, s in enumerate(spend_by_hour) if s >= 0.999 * daily), None
        ),
    }


def campaign_figures(pacing: dict[str, Any], curve: tuple[float, ...]) -> dict[str, Any]:
    daily = pacing["daily_budget"]
    days = [day_figures(d["spend_by_hour"], daily, curve) for d in pacing["days"]]
    return {
        "daily_budget": daily,
        "max_abs_deviation_of_daily": max(d["max_abs_deviation_of_daily"] for d in days),
        "max_abs_deviation_of_plan": max(d["max_abs_deviation_of_plan"] for d in days),
        "max_abs_deviation_of_daily_by_hour": [
            round(max(abs(d["deviation_of_daily_by_hour"][h]) for d in days), 6) for h in range(24)
        ],
        "exhausted_hour_by_day": [d["exhausted_hour"] for d in days],
        "spent_of_daily_by_day": [round(d["spend_by_hour"][-1] / daily, 4) for d in days],
        "days": days,
    }


def replay(
    log: Path, config: Config, rows: list[MarketRow], fraction: float, seed: int, **kw: Any
) -> dict[str, Any]:
    return run_full_replay(
        log,
        log,
        config=config,
        rows=rows,
        budget_fraction=fraction,
        auction=AuctionType.SECOND_PRICE,
        seed=seed,
        version="bench",
        **kw,
    )


def measure_ipinyou(
    fraction: float, plan: str, seed: int
) -> tuple[dict[str, Any], tuple[float, ...]]:
    folder = data_dir() / "ipinyou" / "camp2259-raw"
    start_s = IPINYOU_FIRST_WHOLE_DAY.timestamp()
    rows = [r for r in load_rows(folder / "test.log.txt") if r.ts_s >= start_s]
    curve = learned_curve(load_rows(folder / "train.log.txt")) if plan == "traffic" else ()
    config = with_curve(load_config(IPINYOU_CONFIG), curve)
    return replay(folder / "test.log.txt", config, rows, fraction, seed), curve


def measure_synth(
    rows: int, fraction: float, plan: str, seed: int, optimize: bool
) -> tuple[dict[str, Any], tuple[float, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        out, history = Path(tmp) / "market", Path(tmp) / "history"
        generate_market(rows, seed, out, write_requests=False)
        curve: tuple[float, ...] = ()
        if plan == "traffic":
            generate_market(rows, seed + HISTORY_SEED_OFFSET, history, write_requests=False)
            curve = learned_curve(load_rows(history / "log.tsv"))
        config = with_curve(load_config(SYNTH_CONFIG), curve)
        log = out / "log.tsv"
        report = replay(
            log, config, load_rows(log), fraction, seed, synthetic=True, optimize=optimize
        )
    return report, curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--market", choices=("ipinyou", "synth"), default="ipinyou")
    parser.add_argument("--plan", choices=("even", "traffic"), default="traffic")
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic market rows")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget-fraction", type=float, default=1 / 8)
    parser.add_argument("--optimizer", choices=("on", "off"), default="on")
    args = parser.parse_args()
    if args.market == "ipinyou":
        report, curve = measure_ipinyou(args.budget_fraction, args.plan, args.seed)
    else:
        report, curve = measure_synth(
            args.rows, args.budget_fraction, args.plan, args.seed, args.optimizer == "on"
        )
    campaigns = {c: campaign_figures(p, curve) for c, p in report["pacing"].items()}
    summary = {
        "max_abs_deviation_of_daily": max(
            c["max_abs_deviation_of_daily"] for c in campaigns.values()
        ),
        "max_abs_deviation_of_daily_by_campaign": {
            c: v["max_abs_deviation_of_daily"] for c, v in campaigns.items()
        },
        "earliest_exhaustion_hour": min(
            (h for c in campaigns.values() for h in c["exhausted_hour_by_day"] if h is not None),
            default=None,
        ),
    }
    summary["meets_target"] = summary["max_abs_deviation_of_daily"] <= TARGET_OF_DAILY and (
        summary["earliest_exhaustion_hour"] is None
        or summary["earliest_exhaustion_hour"] >= TARGET_NO_EXHAUSTION_BEFORE_HOUR
    )
    result = {
        "benchmark": "pacing",
        "date": dt.date.today().isoformat(),
        "market": args.market,
        "plan": args.plan,
        "curve": [round(w, 6) for w in curve],
        "uniform_weight": UNIFORM_WEIGHT if curve else None,
        "rows": args.rows if args.market == "synth" else None,
        "seed": args.seed,
        "budget_fraction": args.budget_fraction,
        "optimizer": args.optimizer if args.market == "synth" else "off (not enabled in config)",
        "targets": {
            "max_abs_deviation_of_daily": TARGET_OF_DAILY,
            "no_exhaustion_before_hour": TARGET_NO_EXHAUSTION_BEFORE_HOUR,
        },
        "summary": summary,
        "campaigns": campaigns,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"pacing-{args.market}-{args.plan}-f{args.budget_fraction:g}-{result['date']}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
