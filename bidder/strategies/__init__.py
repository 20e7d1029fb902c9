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

__all__ = [
    "STRATEGY_NAMES",
    "BidContext",
    "BudgetAwareStrategy",
    "EpisodePolicy",
    "FloatArray",
    "MarketTrainStats",
    "Strategy",
    "StrategyError",
    "StrategySpec",
    "TrainStats",
    "build_spec",
    "build_strategy",
    "finish_bids",
    "param_names",
]
