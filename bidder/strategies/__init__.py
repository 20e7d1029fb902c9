"""Bidder pricing strategies: pCTR to bid price, built by name from numeric params."""

from bidder.strategies.base import (
    BidContext,
    FloatArray,
    Strategy,
    StrategyError,
    TrainStats,
    finish_bids,
)
from bidder.strategies.registry import (
    STRATEGY_NAMES,
    StrategySpec,
    build_spec,
    build_strategy,
    param_names,
)
from bidder.strategies.rlb import BudgetAwareStrategy, EpisodePolicy, MarketTrainStats
from bidder.strategies.rlb_cond import SAMPLE_STRATEGIES, AuctionSample, SampledTrainStats

__all__ = [
    "SAMPLE_STRATEGIES",
    "STRATEGY_NAMES",
    "AuctionSample",
    "BidContext",
    "BudgetAwareStrategy",
    "EpisodePolicy",
    "FloatArray",
    "MarketTrainStats",
    "SampledTrainStats",
    "Strategy",
    "StrategyError",
    "StrategySpec",
    "TrainStats",
    "build_spec",
    "build_strategy",
    "finish_bids",
    "param_names",
]
