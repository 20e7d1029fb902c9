"""dual / dual_cal: whole bids within the caps, monotone in pCTR and budget, fitted slope."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.strategies import (
    AuctionSample,
    BidContext,
    MarketTrainStats,
    SampledTrainStats,
    StrategyError,
    TrainStats,
    build_strategy,
)
from bidder.strategies.dual import WARMUP_REFRESH, DualStrategy
from bidder.strategies.rlb import EpisodePolicy
from simulator.rlb import (
    ReplayConfig,
    Stream,
    load_train_stats,
    parse_stream,
    replay,
    sampled_stats,
)

COUNTS = (0, 0, 3, 9, 12, 8, 5, 4, 3, 2, 1)
STATS = MarketTrainStats(impressions=1000, clicks=20, cost=5000.0, price_counts=COUNTS)
T, B, MAX_BID = 1000, 400, 300


def built(name: str, stats: TrainStats) -> DualStrategy:
    strategy = build_strategy(name, {}, stats)
    assert isinstance(strategy, DualStrategy)
    return strategy


def warmed_policy(seed: int = 0) -> EpisodePolicy:
    """A policy past its warm-up, in mid-episode, so ``S(beta)`` stays fixed while queried."""
    policy = built("dual", STATS).plan(B, T, MAX_BID)
    rng = np.random.default_rng(seed)
    for p in 0.01 * np.exp(rng.normal(0.0, 1.0, 2 * WARMUP_REFRESH)):
        policy.bid_at(float(p), T - 1, B)
    return policy


@given(
    pctr=st.floats(0.0, 1.0),
    auctions_left=st.integers(1, T),
    budget_left=st.integers(0, B),
)
def test_dual_bid_is_whole_and_within_cap_and_budget(
    pctr: float, auctions_left: int, budget_left: int
) -> None:
    bid = warmed_policy().bid_at(pctr, auctions_left, budget_left)
    assert isinstance(bid, int)
    assert 0 <= bid <= min(MAX_BID, budget_left)


@given(
    pctrs=st.lists(st.floats(0.0, 0.2), min_size=2, max_size=20),
    auctions_left=st.integers(2, T - 1),
    budget_left=st.integers(0, B),
)
def test_dual_bid_never_drops_as_pctr_rises(
    pctrs: list[float], auctions_left: int, budget_left: int
) -> None:
    policy = warmed_policy()
    bids = [policy.bid_at(p, auctions_left, budget_left) for p in sorted(pctrs)]
    assert bids == sorted(bids)


@given(
    budgets=st.lists(st.integers(0, B), min_size=2, max_size=20),
    auctions_left=st.integers(2, T - 1),
)
def test_dual_bid_never_drops_as_budget_left_rises(budgets: list[int], auctions_left: int) -> None:
    policy = warmed_policy()
    bids = [policy.bid_at(0.01, auctions_left, b) for b in sorted(budgets)]
    assert bids == sorted(bids)


def test_dual_bids_the_cap_when_budget_outlasts_any_spend() -> None:
    """Bidding the cap costs 4.93 per auction on ``COUNTS``: 10 auctions and 300 left bid it."""
    assert warmed_policy().bid_at(0.0001, 10, 300) == MAX_BID


def test_dual_fresh_history_per_plan() -> None:
    strategy = built("dual", STATS)
    first = strategy.plan(B, T, MAX_BID)
    bids = [first.bid_at(p, T - i, B) for i, p in enumerate((0.01, 0.05, 0.2))]
    second = strategy.plan(B, T, MAX_BID)
    assert [second.bid_at(p, T - i, B) for i, p in enumerate((0.01, 0.05, 0.2))] == bids


def test_dual_vectorised_bid_is_episode_start_bid() -> None:
    strategy = built("dual", STATS)
    with pytest.raises(ValueError, match="plan"):
        strategy.bid(np.array([0.01]), BidContext(max_bid=300.0))
    strategy.plan(B, T, MAX_BID)
    bids = strategy.bid(np.array([0.01, 0.02]), BidContext(max_bid=300.0))
    assert np.array_equal(bids, np.floor(bids))


def synthetic_sample(slope: float, n: int = 40_000, seed: int = 5) -> AuctionSample:
    rng = np.random.default_rng(seed)
    pctr = 0.01 * np.exp(rng.normal(0.0, 1.0, n))
    click = rng.random(n) < 1.0 / (1.0 + np.exp(4.0 - slope * np.log(pctr / 0.01)))
    price = rng.integers(2, 11, n).astype(np.float64)
    return AuctionSample(click.astype(np.float64), price, pctr)


def test_dual_cal_fits_the_logistic_slope_as_its_exponent() -> None:
    sample = synthetic_sample(slope=2.0)
    stats = SampledTrainStats(
        impressions=1000, clicks=20, cost=5000.0, price_counts=COUNTS, sample=sample
    )
    assert built("dual_cal", stats).exponent == pytest.approx(2.0, abs=0.15)


def test_dual_cal_needs_a_labelled_sample() -> None:
    with pytest.raises(StrategyError, match="dual_cal needs a labelled sample"):
        build_strategy("dual_cal", {}, STATS)


def test_dual_needs_the_training_landscape() -> None:
    with pytest.raises(StrategyError, match="dual needs the training market-price histogram"):
        build_strategy("dual", {}, TrainStats(impressions=10, clicks=1, cost=5.0))


def test_dual_replay_on_2997_validation_stays_within_budget(shared_data: Path) -> None:
    """Under the protocol every episode spends at most its budget; most of it is used."""
    rlb_dp = shared_data / "ipinyou" / "rlb-dp"
    stats = load_train_stats(rlb_dp / "info" / "2997.info.json")
    stream = parse_stream(rlb_dp / "streams" / "2997.validation.txt").slice(0, 20_000)
    totals = replay(stream, build_strategy("dual", {}, stats), stats, ReplayConfig(1 / 32))
    assert (totals.spend <= totals.budget).all()
    assert totals.spend.sum() >= 0.9 * totals.budget * totals.n_episodes
    fitted = sampled_stats(stats, stream)
    cal = replay(stream, build_strategy("dual_cal", {}, fitted), fitted, ReplayConfig(1 / 32))
    assert (cal.spend <= cal.budget).all()


def test_dual_on_2997_test_reproduces_the_benchmark_cell(
    test_stream: tuple[Stream, TrainStats],
) -> None:
    """budget-strategies-2026-12-03b: dual at c0 = 1/64 wins 54 clicks for 152,952 (RLB: 54)."""
    stream, stats = test_stream
    totals = replay(stream, build_strategy("dual", {}, stats), stats, ReplayConfig(1 / 64))
    assert (int(totals.clicks.sum()), int(totals.spend.sum())) == (54, 152_952)
