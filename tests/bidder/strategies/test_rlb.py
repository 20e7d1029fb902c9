"""RLB (Cai et al., WSDM'17): the published 2997 replay, budget-aware bids, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bidder.strategies import BidContext, StrategyError, TrainStats, build_strategy
from bidder.strategies.rlb import (
    CACHE_ENV,
    BudgetAwareStrategy,
    MarketTrainStats,
    clear_value_cache,
    value_table,
)
from optimizer.value_function import market_price_pdf
from simulator.rlb import ReplayConfig, Stream, parse_stream, replay

COUNTS = (0, 0, 3, 9, 12, 8, 5, 4, 3, 2, 1, 1)
STATS = MarketTrainStats(impressions=1000, clicks=20, cost=5000.0, price_counts=COUNTS)


# (c0, clicks, impressions, cost): 1/32 is the origin's published row; the others are
# the origin's algorithm run on the same stream (WSDM'17 code, bid_ss.py settings)
PUBLISHED = [
    (1 / 64, 54, 23889, 152082),
    (1 / 32, 78, 39680, 304375),
    (1 / 16, 119, 57267, 609392),
    (1 / 8, 176, 77791, 1220832),
]


@pytest.mark.parametrize(("c0", "clicks", "impressions", "cost"), PUBLISHED)
def test_rlb_reproduces_origin_on_2997_test(
    test_stream: tuple[Stream, TrainStats], c0: float, clicks: int, impressions: int, cost: int
) -> None:
    stream, stats = test_stream
    totals = replay(stream, build_strategy("rlb", {}, stats), stats, ReplayConfig(c0))
    assert (int(totals.clicks.sum()), int(totals.impressions.sum())) == (clicks, impressions)
    assert int(totals.spend.sum()) == cost
    assert (totals.spend <= totals.budget).all()


def test_rlb_is_budget_aware_and_spends_within_budget() -> None:
    strategy = build_strategy("rlb", {}, STATS)
    assert isinstance(strategy, BudgetAwareStrategy)
    policy = strategy.plan(budget=40, episode_len=20, max_bid=8)
    for left in range(1, 21):
        for budget_left in range(41):
            assert 0 <= policy.bid_at(0.5, left, budget_left) <= min(budget_left, 8)


def test_rlb_bid_rises_with_pctr_and_with_budget_left() -> None:
    policy = build_strategy("rlb", {}, STATS).plan(budget=60, episode_len=50, max_bid=300)
    pctrs = [0.0, 0.005, 0.02, 0.05, 0.2, 1.0]
    by_pctr = [policy.bid_at(p, 40, 30) for p in pctrs]
    assert by_pctr == sorted(by_pctr)
    assert by_pctr[0] == 0 < by_pctr[-1]
    by_budget = [policy.bid_at(0.02, 40, b) for b in range(61)]
    assert by_budget == sorted(by_budget)


def test_rlb_vectorised_bid_is_episode_start_bid() -> None:
    strategy = build_strategy("rlb", {}, STATS)
    policy = strategy.plan(budget=60, episode_len=50, max_bid=300)
    pctr = np.array([0.0, 0.01, 0.05, 0.5])
    bids = strategy.bid(pctr, BidContext(max_bid=300.0))
    assert bids.tolist() == [float(policy.bid_at(p, 50, 60)) for p in pctr.tolist()]


def test_rlb_bid_before_plan_raises() -> None:
    with pytest.raises(ValueError, match="call plan"):
        build_strategy("rlb", {}, STATS).bid(np.array([0.1]), BidContext(max_bid=300.0))


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        (TrainStats(1000, 20, 5000.0), "rlb needs the training market-price histogram"),
        (MarketTrainStats(1000, 20, 5000.0, (1, -2)), "price_counts: must be a non-empty"),
        (MarketTrainStats(0, 20, 5000.0, COUNTS), "impressions: must be > 0"),
    ],
)
def test_rlb_build_rejects_unusable_train_stats(stats: TrainStats, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        build_strategy("rlb", {}, stats)


def test_rlb_takes_no_params() -> None:
    with pytest.raises(StrategyError, match=r"rlb\.b0: unknown parameter"):
        build_strategy("rlb", {"b0": 1.0}, STATS)


def test_rlb_replay_matches_origin_run_loop(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 2_500  # two full episodes of 1000 and a short one
    rows = zip(
        (rng.random(n) < 0.05).tolist(),
        rng.integers(0, 12, n).tolist(),
        (rng.random(n) * 0.1).tolist(),
        strict=True,
    )
    log = tmp_path / "synthetic.txt"
    log.write_text("".join(f"{int(c)}\t{p}\t{t!r}\n" for c, p, t in rows))
    stream = parse_stream(log)
    config = ReplayConfig(budget_fraction=1 / 4)
    totals = replay(stream, build_strategy("rlb", {}, STATS), stats=STATS, config=config)
    policy = build_strategy("rlb", {}, STATS).plan(totals.budget, 1000, 300)
    clicks = spend = 0
    for i, (click, price, pctr) in enumerate(
        zip(stream.click.tolist(), stream.price.tolist(), stream.pctr.tolist(), strict=True)
    ):
        if i % 1000 == 0:
            left, budget_left = 1000, totals.budget
        bid = min(policy.bid_at(pctr, left, budget_left), budget_left, 300)
        if bid >= price:
            clicks, spend, budget_left = clicks + click, spend + price, budget_left - price
        left -= 1
    assert totals.budget == int(5.0 / 4 * 1000)
    assert (int(totals.clicks.sum()), int(totals.spend.sum())) == (clicks, spend)


def test_rlb_value_table_disk_cache_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    landscape = market_price_pdf(COUNTS)
    clear_value_cache()
    solved = value_table(landscape, 0.02, 30, 45, 300)
    (saved,) = tmp_path.glob("value-T30-B45-*.npy")
    clear_value_cache()
    loaded = value_table(landscape, 0.02, 30, 45, 300)
    clear_value_cache()
    assert np.array_equal(solved, loaded)
    assert not loaded.flags.writeable
    assert saved.stat().st_size > 30 * 46 * 8
