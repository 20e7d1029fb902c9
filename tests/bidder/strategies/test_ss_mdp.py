"""SS-MDP (the WSDM'17 baseline): the published 2997 replay and pCTR-free bids."""

from __future__ import annotations

import numpy as np
import pytest

from bidder.strategies import StrategyError, TrainStats, build_strategy
from bidder.strategies.rlb import MarketTrainStats
from simulator.rlb import ReplayConfig, Stream, replay

STATS = MarketTrainStats(
    impressions=1000, clicks=20, cost=5000.0, price_counts=(0, 0, 3, 9, 12, 8, 5, 4, 3, 2, 1)
)


# (c0, clicks, impressions, cost): 1/32 is the origin's published row
PUBLISHED = [
    (1 / 64, 52, 24994, 153194),
    (1 / 32, 80, 40395, 306637),
    (1 / 16, 115, 58866, 613597),
    (1 / 8, 179, 81808, 1226466),
]


@pytest.mark.parametrize(("c0", "clicks", "impressions", "cost"), PUBLISHED)
def test_ss_mdp_reproduces_origin_on_2997_test(
    test_stream: tuple[Stream, TrainStats], c0: float, clicks: int, impressions: int, cost: int
) -> None:
    stream, stats = test_stream
    totals = replay(stream, build_strategy("ss_mdp", {}, stats), stats, ReplayConfig(c0))
    assert (int(totals.clicks.sum()), int(totals.impressions.sum())) == (clicks, impressions)
    assert int(totals.spend.sum()) == cost


def test_ss_mdp_bid_ignores_pctr() -> None:
    policy = build_strategy("ss_mdp", {}, STATS).plan(budget=50, episode_len=40, max_bid=300)
    for left, budget_left in [(40, 50), (10, 3), (1, 50), (25, 0)]:
        bids = {policy.bid_at(p, left, budget_left) for p in (0.0, 0.001, 0.3, 1.0)}
        assert len(bids) == 1


def test_ss_mdp_matches_rlb_at_average_pctr() -> None:
    ss = build_strategy("ss_mdp", {}, STATS).plan(budget=50, episode_len=40, max_bid=300)
    rlb = build_strategy("rlb", {}, STATS).plan(budget=50, episode_len=40, max_bid=300)
    avg = STATS.avg_ctr
    grid = [(t, b) for t in range(1, 41) for b in range(51)]
    assert [ss.bid_at(0.9, t, b) for t, b in grid] == [rlb.bid_at(avg, t, b) for t, b in grid]


def test_ss_mdp_needs_price_histogram() -> None:
    with pytest.raises(StrategyError, match="ss_mdp needs the training market-price histogram"):
        build_strategy("ss_mdp", {}, TrainStats(1000, 20, 5000.0))


def test_ss_mdp_same_bids_every_episode() -> None:
    strategy = build_strategy("ss_mdp", {}, STATS)
    first = strategy.plan(budget=50, episode_len=40, max_bid=300)
    second = strategy.plan(budget=50, episode_len=40, max_bid=300)
    assert np.array_equal(
        [first.bid_at(0.1, 7, b) for b in range(51)], [second.bid_at(0.2, 7, b) for b in range(51)]
    )
