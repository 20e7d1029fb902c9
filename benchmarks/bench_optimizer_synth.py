"""Benchmark: the optimiser in the real replay path vs the oracle and the uniform split.

For each seed, ``rtb synth`` draws a one-week market (one campaign ``synth-1`` with three
creatives, the default world) and the same rows are replayed three times through
parse -> decide -> notices -> ledger on the simulated clock, with even pacing and the same
budget (``--budget-fraction`` of the log's market cost):

- ``uniform``: no plan (every arm bought, creatives rotated evenly);
- ``bandit``: ``OptimizerService`` every ``--step`` simulated seconds (Thompson sampling,
  grouping from ``--grouping``), learning only from the replay's own notices and clicks;
- ``oracle``: a fixed plan from the truth (``TruthModel`` expected CTR of every row under
  every creative): rotation on the best creative, and the media (exchange) arms kept in
  decreasing true clicks per unit of market cost until their winnable cost at the base bid
  covers the budget (``oracle_knapsack``); ``oracle_creative`` keeps every media. The
  oracle is the better of the two.

Clicks are *expected* clicks (sum of the true CTR of won impressions; every creative has a
known CTR through ``simulator/synth_outcomes.py``) plus the drawn clicks. Ratios are also
given at equal spend (clicks per unit spent). Writes
``benchmarks/results/optimizer-synth-<date>.{json,png}`` (regret curve: cumulative expected
clicks of oracle minus bandit per elapsed hour).

Run: ``.venv/bin/python benchmarks/bench_optimizer_synth.py [--seeds 5] [--rows 70000]``; the
reported numbers (docs/optimizer.md): ``--seeds 5 --rows 300000 --budget-fraction 0.25
--grouping creative --step 900 --floor 0.2 --no-knapsack --tag=-pooled-floor0.2``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from prometheus_client import CollectorRegistry

from bidder.config.load import load_config
from bidder.config.model import ArmDimension, Config, PacingMode
from bidder.decision import Bid, Decision
from bidder.metrics import Metrics
from bidder.optimizing import OptimizerService
from bidder.runtime import build_runtime
from bidder.scoring import PriorScorer
from optimizer.plan import Plan
from simulator.clock import SimClock
from simulator.full_run import budget_config, load_rows
from simulator.ipinyou import MICROS_PER_FEN_CPM, MarketRow
from simulator.replay import AuctionType, Replayer, ReplayResult
from simulator.synth import generate_market
from simulator.synth_outcomes import SynthOutcomes, world_from_meta

mpl.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIG = ROOT / "simulator" / "configs" / "synthetic.yaml"
CAMPAIGN = "synth-1"


class TimedReplayer(Replayer):
    """A Replayer that also records cumulative expected clicks at each elapsed hour."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.start_s: float | None = None
        self.hourly: list[float] = []
        self._result: ReplayResult | None = None

    def _settle(self, decision: Decision, bid: Bid, row: MarketRow, result: ReplayResult) -> None:
        if self.start_s is None:
            self.start_s = row.ts_s
        hour = int((row.ts_s - self.start_s) // 3600)
        while len(self.hourly) <= hour:
            self.hourly.append(result.total.expected_clicks)
        super()._settle(decision, bid, row, result)


def campaign_config(
    grouping: tuple[ArmDimension, ...], enabled: bool, step_s: int, floor: float = 0.2
) -> Config:
    config = load_config(CONFIG)
    campaign = config.campaign(CAMPAIGN)
    assert campaign is not None
    settings = dataclasses.replace(
        campaign.optimizer, enabled=enabled, grouping=grouping, step_interval_s=step_s, floor=floor
    )
    campaign = dataclasses.replace(campaign, optimizer=settings, pacing=PacingMode.EVEN)
    return dataclasses.replace(config, campaigns=(campaign,))


def oracle_plans(
    rows: list[MarketRow], outcomes: SynthOutcomes, config: Config, budget_micros: int
) -> dict[str, Plan]:
    """Fixed truth plans (see the module docstring); arms are ``exchange|creative``."""
    ctr = outcomes.ctr[:, 0, :]  # (n, M) for synth-1
    m_count = ctr.shape[1]
    creatives = [f"cr-1-{m + 1}" for m in range(m_count)]
    best = int(np.argmax(ctr.mean(axis=0)))
    weights = {cr: (1.0 if m == best else 0.0) for m, cr in enumerate(creatives)}
    campaign = config.campaigns[0]
    base_bid_micros = campaign.strategy.value_per_click_micros * campaign.strategy.prior_ctr
    exchanges = sorted({r.exchange for r in rows})
    price = np.array([r.market_price_micros for r in rows], dtype=float)
    ex = np.array([exchanges.index(r.exchange) for r in rows])
    density, cost = [], []
    for e in range(len(exchanges)):
        sel = ex == e
        density.append(ctr[sel, best].sum() / max(price[sel].sum(), 1.0))
        cost.append(price[sel & (price <= base_bid_micros)].sum())
    order = sorted(range(len(exchanges)), key=lambda e: -density[e])
    participation: dict[str, float] = {}
    covered = 0.0
    for e in order:
        q = 1.0 if covered < budget_micros else 0.0
        if 0 < budget_micros - covered < cost[e]:
            q = max((budget_micros - covered) / cost[e], 0.05)
        covered += cost[e]
        participation[exchanges[e]] = q
    arms = [f"{x}|{cr}" for x in exchanges for cr in creatives]
    raw = {a: participation[a.split("|")[0]] for a in arms}
    total = sum(raw.values())
    knapsack = {a: v / total for a, v in raw.items()}
    return {
        "oracle_knapsack": Plan(1, {}, {CAMPAIGN: knapsack}, {CAMPAIGN: weights}),
        "oracle_creative": Plan(1, {}, {}, {CAMPAIGN: weights}),
    }


def replay(
    rows: list[MarketRow],
    outcomes: SynthOutcomes,
    config: Config,
    plan: Plan | None,
    seed: int,
) -> dict[str, Any]:
    clock = SimClock(rows[0].ts_s)
    runtime = build_runtime(
        config, PriorScorer(), clock=clock, metrics=Metrics(CollectorRegistry()), persist=False
    )
    if plan is not None:
        runtime.set_plan(plan)
    service = None
    if config.campaigns[0].optimizer.enabled:
        service = OptimizerService(runtime, seed=seed)
    replayer = TimedReplayer(
        runtime, clock, AuctionType.SECOND_PRICE, optimizer=service, outcomes=outcomes
    )
    result = replayer.run(rows)
    t = result.total
    return {
        "expected_clicks": round(t.expected_clicks, 3),
        "clicks": t.clicks,
        "impressions": t.impressions,
        "spend_fen_cpm": t.spend_micros / MICROS_PER_FEN_CPM,
        "spend_micros": t.spend_micros,
        "expected_clicks_per_1k_cny": round(t.expected_clicks / max(t.spend_micros, 1) * 1e9, 4),
        "hourly_expected_clicks": [round(x, 3) for x in replayer.hourly],
        "plan_versions": runtime.plan.version,
        "final_plan": {k: dict(v) for k, v in runtime.plan.arm_shares.items()},
        "final_creative_weights": {k: dict(v) for k, v in runtime.plan.creative_weights.items()},
    }


def run_seed(
    seed: int,
    rows_n: int,
    fraction: float,
    grouping: tuple[str, ...],
    step_s: int,
    knapsack: bool = True,
    floor: float = 0.2,
) -> dict[str, Any]:
    dims = tuple(ArmDimension(g) for g in grouping)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate_market(
            rows_n, seed, out, campaigns=1, creatives_per_campaign=3, write_requests=False
        )
        rows = load_rows(out / "log.tsv")
        outcomes = SynthOutcomes(world_from_meta(out), rows, seed)
    base = campaign_config(dims, enabled=False, step_s=step_s)
    config = budget_config(base, rows, fraction, PacingMode.EVEN)
    budget = config.campaigns[0].budget.total_micros
    results: dict[str, Any] = {}
    results["uniform"] = replay(rows, outcomes, config, None, seed)
    for name, plan in oracle_plans(rows, outcomes, config, budget).items():
        if name == "oracle_knapsack" and not knapsack:
            continue
        results[name] = replay(rows, outcomes, config, plan, seed)
    bandit_config = budget_config(
        campaign_config(dims, enabled=True, step_s=step_s, floor=floor),
        rows,
        fraction,
        PacingMode.EVEN,
    )
    results["bandit"] = replay(rows, outcomes, bandit_config, None, seed)
    oracle_name = max(
        (k for k in ("oracle_knapsack", "oracle_creative") if k in results),
        key=lambda k: results[k]["expected_clicks"],
    )
    results["oracle"] = dict(results[oracle_name], chosen=oracle_name)
    b, o, u = (results[k] for k in ("bandit", "oracle", "uniform"))
    summary = {
        "seed": seed,
        "budget_micros": budget,
        "bandit_over_oracle": b["expected_clicks"] / o["expected_clicks"],
        "bandit_over_uniform": b["expected_clicks"] / u["expected_clicks"],
        "bandit_over_oracle_per_spend": b["expected_clicks_per_1k_cny"]
        / o["expected_clicks_per_1k_cny"],
        "bandit_over_uniform_per_spend": b["expected_clicks_per_1k_cny"]
        / u["expected_clicks_per_1k_cny"],
        "spend_ratio_bandit_over_uniform": b["spend_micros"] / max(u["spend_micros"], 1),
    }
    return {"summary": summary, "runs": results}


def plot(per_seed: list[dict[str, Any]], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for item in per_seed:
        runs = item["runs"]
        o = np.array(runs["oracle"]["hourly_expected_clicks"])
        b = np.array(runs["bandit"]["hourly_expected_clicks"])
        u = np.array(runs["uniform"]["hourly_expected_clicks"])
        n = min(len(o), len(b), len(u))
        seed = item["summary"]["seed"]
        axes[0].plot(o[:n] - b[:n], label=f"bandit, seed {seed}")
        axes[0].plot(o[:n] - u[:n], linestyle=":", color="grey")
        axes[1].plot(b[:n], label=f"bandit {seed}")
        axes[1].plot(o[:n], linestyle="--", color="black", alpha=0.4)
    axes[0].set_title("regret: oracle - policy cumulative expected clicks (dotted: uniform)")
    axes[0].set_xlabel("elapsed hour")
    axes[0].legend(fontsize=7)
    axes[1].set_title("cumulative expected clicks (dashed: oracle)")
    axes[1].set_xlabel("elapsed hour")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=70_000, help="rows per one-week market")
    parser.add_argument("--budget-fraction", type=float, default=1 / 8)
    parser.add_argument("--grouping", default="exchange,creative")
    parser.add_argument("--step", type=int, default=3600, help="optimiser step, simulated s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--floor", type=float, default=0.2, help="optimizer.floor of the bandit")
    parser.add_argument("--tag", default="")
    parser.add_argument(
        "--no-knapsack", action="store_true", help="skip the media-knapsack oracle replay"
    )
    args = parser.parse_args()
    grouping = tuple(args.grouping.split(","))
    seeds = list(range(1, args.seeds + 1))
    with ProcessPoolExecutor(args.workers) as pool:
        per_seed = list(
            pool.map(
                run_seed,
                seeds,
                [args.rows] * len(seeds),
                [args.budget_fraction] * len(seeds),
                [grouping] * len(seeds),
                [args.step] * len(seeds),
                [not args.no_knapsack] * len(seeds),
                [args.floor] * len(seeds),
            )
        )
    keys = ("bandit_over_oracle", "bandit_over_uniform", "bandit_over_oracle_per_spend",
            "bandit_over_uniform_per_spend")  # fmt: skip
    mean = {k: float(np.mean([p["summary"][k] for p in per_seed])) for k in keys}
    report = {
        "benchmark": "optimizer-synth",
        "date": dt.date.today().isoformat(),
        "rows_per_market": args.rows,
        "budget_fraction": args.budget_fraction,
        "grouping": list(grouping),
        "step_s": args.step,
        "floor": args.floor,
        "oracles": ["oracle_creative"] + ([] if args.no_knapsack else ["oracle_knapsack"]),
        "targets": {"bandit_over_oracle": 0.95, "bandit_over_uniform": 1.3},
        "mean": mean,
        "met": {
            "bandit_over_oracle": mean["bandit_over_oracle"] >= 0.95,
            "bandit_over_uniform": mean["bandit_over_uniform"] >= 1.3,
        },
        "per_seed": per_seed,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"optimizer-synth{args.tag}-{report['date']}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    plot(per_seed, RESULTS / f"{stem}.png")
    for p in per_seed:
        s = p["summary"]
        print(
            f"seed {s['seed']}: bandit/oracle {s['bandit_over_oracle']:.3f} "
            f"bandit/uniform {s['bandit_over_uniform']:.3f} "
            f"(per spend {s['bandit_over_oracle_per_spend']:.3f}, "
            f"{s['bandit_over_uniform_per_spend']:.3f})"
        )
    print("mean", json.dumps(mean))


if __name__ == "__main__":
    main()
