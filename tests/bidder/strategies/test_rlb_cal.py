"""rlb_cal: RLB on running-calibrated, shrunk pCTRs; limits SS-MDP (alpha 0) and errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bidder.strategies import MarketTrainStats, StrategyError, TrainStats, build_strategy
from simulator.rlb import ReplayConfig, Stream, load_train_stats, parse_stream, replay

STATS = MarketTrainStats(
    impressions=1000, clicks=20, cost=5000.0, price_counts=(0, 0, 3, 9, 12, 8, 5, 4, 3, 2, 1)
)
ALPHA_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)  # benchmarks/bench_budget_strategies.py
GRID = [(t, b) for t in (1, 5, 20, 40) for b in range(0, 51, 5)]


def test_rlb_cal_alpha_zero_bids_like_ss_mdp() -> None:
    cal = build_strategy("rlb_cal", {"alpha": 0.0}, STATS).plan(50, 40, 300)
    ss = build_strategy("ss_mdp", {}, STATS).plan(50, 40, 300)
    pctrs = [0.001, 0.3, 0.02, 0.0]
    assert [cal.bid_at(p, t, b) for p in pctrs for t, b in GRID] == [
        ss.bid_at(p, t, b) for p in pctrs for t, b in GRID
    ]


def test_rlb_cal_values_auction_at_training_ctr_times_relative_pctr() -> None:
    """With alpha = 1 an auction at twice the running mean pCTR bids like RLB at 2 * CTR."""
    cal = build_strategy("rlb_cal", {"alpha": 1.0}, STATS).plan(50, 40, 300)
    rlb = build_strategy("rlb", {}, STATS).plan(50, 40, 300)
    assert cal.bid_at(0.1, 40, 50) == rlb.bid_at(STATS.avg_ctr, 40, 50)  # mean so far 0.1
    # running mean is now (0.1 + 0.3 + 0.2) / 3 = 0.2; ratio 0.2 / 0.2 = 1 then 0.4 / 0.2 ...
    assert cal.bid_at(0.3, 30, 40) == rlb.bid_at(STATS.avg_ctr * 1.5, 30, 40)


def test_rlb_cal_fresh_calibration_per_plan() -> None:
    strategy = build_strategy("rlb_cal", {"alpha": 1.0}, STATS)
    first = strategy.plan(50, 40, 300)
    bids = [first.bid_at(p, 20, 30) for p in (0.01, 0.05, 0.2)]
    second = strategy.plan(50, 40, 300)
    assert [second.bid_at(p, 20, 30) for p in (0.01, 0.05, 0.2)] == bids


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        (-0.5, "rlb_cal.alpha: must be a finite number >= 0, got -0.5"),
        (math.nan, "rlb_cal.alpha: must be a finite number >= 0, got nan"),
        (math.inf, "rlb_cal.alpha: must be a finite number >= 0, got inf"),
    ],
)
def test_rlb_cal_rejects_bad_alpha(alpha: float, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        build_strategy("rlb_cal", {"alpha": alpha}, STATS)


@pytest.fixture(scope="module")
def streams_2997(shared_data: Path) -> tuple[Stream, Stream, TrainStats]:
    rlb_dp = shared_data / "ipinyou" / "rlb-dp"
    stats = load_train_stats(rlb_dp / "info" / "2997.info.json")
    validation = parse_stream(rlb_dp / "streams" / "2997.validation.txt")
    return validation, parse_stream(rlb_dp / "streams" / "2997.test.txt"), stats


def test_rlb_cal_tuned_on_2997_validation_scores_on_test(
    streams_2997: tuple[Stream, Stream, TrainStats],
) -> None:
    """At c0 = 1/32 validation picks alpha = 1.5 (170 clicks, least spend); test: 79 (RLB: 78)."""
    validation, test, stats = streams_2997
    config = ReplayConfig(1 / 32)
    scores = []
    for alpha in ALPHA_GRID:
        strategy = build_strategy("rlb_cal", {"alpha": alpha}, stats)
        totals = replay(validation, strategy, stats, config)
        scores.append((int(totals.clicks.sum()), -int(totals.spend.sum()), alpha))
    clicks, _, alpha = max(scores)
    assert (clicks, alpha) == (170, 1.5)
    totals = replay(test, build_strategy("rlb_cal", {"alpha": alpha}, stats), stats, config)
    assert (int(totals.clicks.sum()), int(totals.spend.sum())) == (79, 306023)
