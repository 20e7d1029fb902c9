"""``dual``: the Lagrangian bidder ``bid = pCTR * beta(t, b)``, re-solved at every auction.

RLB's value function prices the budget as if every future auction were worth the
training CTR; the relaxed knapsack (:mod:`optimizer.dual_pacing`) prices it on the
spread of the values actually seen. Its price per unit of value ``beta`` makes the
expected spend of the ``t`` auctions left equal to the budget left ``b``, with the
values of future auctions drawn from the pCTRs of the last ``WINDOW_AUCTIONS`` auctions
of the stream (causal, no labels; the level of the pCTRs cancels) and market prices
from the training landscape.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import BidContext, FloatArray, Strategy, TrainStats
from bidder.strategies.rlb import EpisodePolicy, episode_start_bids, landscape_of
from bidder.strategies.rlb_cond import RATIO_FLOOR, fit_logistic, running_ratio, sample_of
from optimizer.dual_pacing import multiplier_for, multiplier_grid, spend_curve

WINDOW_AUCTIONS = 10_000  # pCTRs kept as the distribution of future values (10 episodes)
WARMUP_REFRESH = 1_000  # below this many pCTRs seen, refresh S(beta) at every power of two


@dataclass(frozen=True, slots=True)
class DualSpec:
    """The dual-threshold bidder; no parameter (window and grid are fixed constants)."""

    NAME: ClassVar[str] = "dual"
    PARAMS: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[Problem]:
        return []

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        return DualStrategy(self.NAME, landscape_of(stats, self.NAME))


class DualStrategy:
    """Plans :class:`_DualPolicy` episodes on one market-price pdf."""

    params: dict[str, float]

    def __init__(self, name: str, landscape: FloatArray, exponent: float = 1.0) -> None:
        self.name = name
        self.params = {}
        self._landscape = landscape
        self._exponent = exponent
        self._last: _DualPolicy | None = None

    @property
    def exponent(self) -> float:
        """Values are ``pCTR ** exponent`` (1 for ``dual``, the fitted slope for ``dual_cal``)."""
        return self._exponent

    def plan(self, budget: int, episode_len: int, max_bid: int) -> EpisodePolicy:
        """A fresh policy (empty pCTR history) for episodes of this shape."""
        self._last = _DualPolicy(self._landscape, budget, episode_len, max_bid, self._exponent)
        return self._last

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """Bids at the start of an episode (``t = T``, ``b = B``) of the last plan."""
        return episode_start_bids(self.name, self._last, pctr, ctx)


class _DualPolicy:
    """Keeps the last ``WINDOW_AUCTIONS`` pCTRs; refreshes ``S(beta)`` per episode."""

    def __init__(
        self, landscape: FloatArray, budget: int, episode_len: int, max_bid: int, exponent: float
    ) -> None:
        self._landscape = landscape
        self._exponent = exponent
        self._max_bid = max_bid
        self.budget = budget
        self.episode_len = episode_len
        self._history: deque[float] = deque(maxlen=WINDOW_AUCTIONS)
        self._seen = 0
        self._curve: FloatArray = np.zeros(1)
        self._multipliers: FloatArray = np.zeros(1)

    def _refresh(self) -> None:
        values = np.fromiter(self._history, dtype=np.float64, count=len(self._history))
        self._multipliers = multiplier_grid(values, self._max_bid)
        self._curve = spend_curve(values, self._landscape, self._max_bid, self._multipliers)

    def bid_at(self, pctr: float, auctions_left: int, budget_left: int) -> int:
        value = pctr**self._exponent
        self._history.append(value)
        self._seen += 1
        warming = self._seen <= WARMUP_REFRESH and self._seen & (self._seen - 1) == 0
        if warming or auctions_left == self.episode_len:
            self._refresh()
        top = min(budget_left, self._max_bid)
        if top <= 0:
            return 0
        beta = multiplier_for(budget_left / auctions_left, self._curve, self._multipliers)
        if not np.isfinite(beta):
            return top
        return int(min(top, np.floor(value * beta)))


@dataclass(frozen=True, slots=True)
class DualCalSpec:
    """``dual`` on calibrated values ``pCTR ** slope``; ``slope`` fitted on a labelled sample.

    The click probability of an auction is modelled as ``sigmoid(a + slope * log r)``
    with ``r`` its pCTR relative to the running mean (:func:`running_ratio`), fitted by
    maximum likelihood on the sample's clicks (the validation stream). For small CTRs
    that is ``proportional to pCTR ** slope``; the constant cancels in ``beta``.
    """

    NAME: ClassVar[str] = "dual_cal"
    PARAMS: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[Problem]:
        return []

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        landscape = landscape_of(stats, self.NAME)
        sample = sample_of(stats, self.NAME)
        feature = np.log(np.maximum(running_ratio(sample.pctr), RATIO_FLOOR))
        _, slope = fit_logistic(feature, sample.click)
        return DualStrategy(self.NAME, landscape, max(0.0, slope))
