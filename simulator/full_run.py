"""One full-path replay end to end: config + log -> Runtime on a SimClock -> report dict."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from bidder.config.load import load_config
from bidder.config.model import Budget, Config, PacingMode
from bidder.experiments import abtest_report
from bidder.metrics import Metrics
from bidder.optimizing import OptimizerService
from bidder.runtime import Runtime, build_runtime
from bidder.scoring import PriorScorer, Scorer
from optimizer.pacing import plan_fraction
from optimizer.plan import Plan
from simulator.clock import SimClock
from simulator.ipinyou import MICROS_PER_FEN_CPM, MarketRow, market_rows
from simulator.replay import AuctionType, OutcomeModel, Replayer, ReplayResult, Tally

MONEY_UNIT = "fen_cpm"  # iPinYou: sums of CPM prices in fen, as the logs and papers report
COUNTERFACTUAL_NOTE = (
    "Clicks are observed only where the logged bidder showed the same creative we chose; "
    "wins with another creative count as impressions with an unknown click "
    "(unknown_clicks). Real iPinYou impression logs hold only auctions the logged bidder "
    "won, so every auction has an observed market price; a synthetic market knows the "
    "click of every row and its ground-truth CTR (expected_clicks)."
)


@dataclass(frozen=True, slots=True)
class MoneyUnit:
    """How a report states money: iPinYou logs in fen per CPM, bid logs in engine micros."""

    name: str
    micros_per_unit: float

    def of(self, micros: int | float) -> float:
        return round(micros / self.micros_per_unit, 3)


FEN_CPM = MoneyUnit(MONEY_UNIT, MICROS_PER_FEN_CPM)
ENGINE_MICROS = MoneyUnit("micros", 1.0)


def load_rows(log: Path) -> list[MarketRow]:
    """All rows in time order (real logs are not sorted by timestamp)."""
    rows = list(market_rows(log))
    rows.sort(key=lambda r: r.ts_s)
    return rows


def budget_config(
    config: Config, rows: list[MarketRow], fraction: float, pacing: PacingMode | None
) -> Config:
    """Every campaign gets ``fraction`` of the log's total market cost, spread over its days."""
    cost_micros = sum(r.market_price_micros for r in rows)
    total = max(int(cost_micros * fraction), 1)
    days = max(math.ceil((rows[-1].ts_s - rows[0].ts_s) / 86400.0), 1) if rows else 1
    daily = max(total // days, 1)
    campaigns = tuple(
        dataclasses.replace(
            c,
            budget=Budget(total_micros=total, daily_micros=daily),
            pacing=pacing if pacing is not None else c.pacing,
        )
        for c in config.campaigns
    )
    return dataclasses.replace(config, campaigns=campaigns)


def run_full_replay(
    log: Path,
    config_path: Path,
    *,
    budget_fraction: float,
    auction: AuctionType,
    seed: int,
    version: str,
    scorer: Scorer | None = None,
    pacing: PacingMode | None = None,
    progress: Callable[[int], None] | None = None,
    synthetic: bool = False,
    config: Config | None = None,
    rows: list[MarketRow] | None = None,
    outcomes: OutcomeModel | None = None,
    plan: Plan | None = None,
    optimize: bool = True,
    bidlog: bool = False,
) -> dict[str, Any]:
    """Replay ``log`` through ``config_path`` (or a ready ``config``) and report.

    ``synthetic`` scores creatives the log did not show with the market's truth
    (``outcomes`` may be passed ready-made, with ``rows``); ``plan`` is the initial plan
    (fixed unless a campaign's optimizer is enabled and ``optimize``).
    """
    unit = FEN_CPM
    if bidlog:
        from simulator.bidlog import market_rows_from_bidlog

        rows = rows if rows is not None else market_rows_from_bidlog(log)
        unit = ENGINE_MICROS
    rows = rows if rows is not None else load_rows(log)
    base = config if config is not None else load_config(config_path)
    # a bid log replays under the config's own budgets; logs of a market get a fraction of it
    config = base if bidlog else budget_config(base, rows, budget_fraction, pacing)
    if synthetic and outcomes is None:
        from simulator.synth_outcomes import SynthOutcomes, world_from_meta

        outcomes = SynthOutcomes(world_from_meta(log.parent), rows, seed)
    clock = SimClock(rows[0].ts_s if rows else 0.0)
    runtime = build_runtime(
        config,
        scorer or PriorScorer(),
        clock=clock,
        metrics=Metrics(CollectorRegistry()),
        persist=False,
    )
    if plan is not None:
        runtime.set_plan(plan)
    service = None
    if optimize and any(c.optimizer.enabled for c in config.campaigns):
        service = OptimizerService(runtime, seed=config.optimizer.seed + seed)
    replayer = Replayer(runtime, clock, auction, optimizer=service, outcomes=outcomes)
    result = replayer.run(rows)
    budget_micros = config.campaigns[0].budget.total_micros if config.campaigns else 0
    report = build_report(
        result,
        log=log,
        config=config,
        budget_micros=budget_micros,
        budget_fraction=budget_fraction,
        auction=auction,
        seed=seed,
        version=version,
        model_version=runtime.auction.scorer.version,
        unit=unit,
    )
    report.update(optimizer_report(runtime, service, result, config, unit))
    return report


def optimizer_report(
    runtime: Runtime,
    service: OptimizerService | None,
    result: ReplayResult,
    config: Config,
    unit: MoneyUnit = FEN_CPM,
) -> dict[str, Any]:
    """Plan logs, A/B lifts and per-campaign hourly spend against its pacing plan."""
    logs = [] if service is None else [entry.render_json_line() for entry in service.logs]
    return {
        "plan_logs": logs,
        "plan_version": runtime.plan.version,
        "abtests": abtest_report(config.campaigns, runtime.notices.arms.snapshot()),
        "pacing": {
            c.id: pacing_figures(
                result.campaign_spend_by_hour.get(c.id, []),
                c.budget,
                unit,
                curve=c.pacing_curve,
                hours=c.hours,
            )
            for c in config.campaigns
        },
    }


def pacing_figures(
    cumulative_micros: list[int],
    budget: Budget,
    unit: MoneyUnit = FEN_CPM,
    *,
    curve: Sequence[float] = (),
    hours: Collection[int] = (),
) -> dict[str, Any]:
    """Each whole day's cumulative spend at every hour vs the campaign's pacing plan,
    ``daily * plan_fraction(h)`` (``daily * (h + 1) / 24`` for an even day).

    ``cumulative_micros[i]`` is the campaign's spend after ``i + 1`` elapsed hours (the log
    starts at local midnight). ``max_abs_deviation`` is ``max |spend_h - plan_h| / plan_h``
    over every day and hour, ``max_abs_deviation_of_daily`` the same over the daily budget;
    ``exhausted_hour_by_day`` the first hour (1-24) by which a day spent 99.9 % of its
    budget (None: never).
    """
    _money = unit.of
    daily = budget.daily_micros
    days: list[dict[str, Any]] = []
    for d in range(len(cumulative_micros) // 24):
        before = cumulative_micros[d * 24 - 1] if d > 0 else 0
        spent = [cumulative_micros[d * 24 + h] - before for h in range(24)]
        plan = [daily * plan_fraction(h, 3600.0, curve, hours) for h in range(24)]
        # an hour the plan gives nothing (outside the active hours) is compared to the day
        deviation = [(s_ - p_) / (p_ or daily) for s_, p_ in zip(spent, plan, strict=True)]
        days.append(
            {
                "spend_by_hour": [_money(x) for x in spent],
                "deviation_by_hour": [round(x, 6) for x in deviation],
                "max_abs_deviation": round(max(abs(x) for x in deviation), 6),
                "max_abs_deviation_of_daily": round(
                    max(abs(s_ - p_) for s_, p_ in zip(spent, plan, strict=True)) / daily, 6
                ),
                "exhausted_hour": next(
                    (h + 1 for h, x in enumerate(spent) if x >= 0.999 * daily), None
                ),
            }
        )
    return {
        "daily_budget": _money(daily),
        "days": days,
        "max_abs_deviation": max((d["max_abs_deviation"] for d in days), default=None),
        "max_abs_deviation_of_daily": max(
            (d["max_abs_deviation_of_daily"] for d in days), default=None
        ),
        "exhausted_hour_by_day": [d["exhausted_hour"] for d in days],
    }


def tally_kpis(t: Tally, unit: MoneyUnit = FEN_CPM) -> dict[str, Any]:
    _money = unit.of
    return {
        "auctions": t.auctions,
        "bids": t.bids,
        "impressions": t.impressions,
        "clicks": t.clicks,
        "unknown_clicks": t.unknown_clicks,
        "expected_clicks": round(t.expected_clicks, 6),
        "spend": _money(t.spend_micros),
        "win_rate": round(t.impressions / t.bids, 6) if t.bids else None,
        "ctr": round(t.clicks / t.impressions, 6) if t.impressions else None,
        "cpm": round(_money(t.spend_micros) / t.impressions, 6) if t.impressions else None,
        "ecpc": round(_money(t.spend_micros) / t.clicks / 1000, 6) if t.clicks else None,
    }


def build_report(
    result: ReplayResult,
    *,
    log: Path,
    config: Config,
    budget_micros: int,
    budget_fraction: float,
    auction: AuctionType,
    seed: int,
    version: str,
    model_version: str,
    unit: MoneyUnit = FEN_CPM,
) -> dict[str, Any]:
    report = tally_kpis(result.total, unit)
    report["auctions"] = result.total.auctions
    report.update(
        {
            "budget": unit.of(budget_micros),
            "budget_fraction": budget_fraction,
            "money_unit": unit.name,
            "counterfactual_bids": result.counterfactual_bids,
            "auction_type": auction.value,
            "seed": seed,
            "input": {"file": log.name, "sha256": _sha256(log)},
            "code_version": version,
            "config_version": config.version,
            "model_version": model_version,
            "strategies": {
                c.id: {
                    "type": c.strategy.kind.value,
                    "value_per_click_micros": c.strategy.value_per_click_micros,
                    "prior_ctr": c.strategy.prior_ctr,
                    "max_bid_micros": c.max_bid_micros,
                    "pacing": c.pacing.value,
                }
                for c in config.campaigns
            },
            "invalid_requests": result.invalid,
            "creative_mismatch": result.creative_mismatch,
            "nobid_reasons": dict(sorted(result.nobid_reasons.items())),
            "per_hour": {
                f"{h:02d}": tally_kpis(t, unit) for h, t in sorted(result.by_hour.items())
            },
            "per_arm": {arm: tally_kpis(t, unit) for arm, t in sorted(result.by_arm.items())},
            "spend_by_elapsed_hour": [unit.of(m) for m in result.spend_by_hour_index],
            "counterfactual": COUNTERFACTUAL_NOTE,
        }
    )
    return report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
