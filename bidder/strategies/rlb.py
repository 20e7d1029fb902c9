"""Budget-aware strategies: the RLB dynamic-programming bidder and its episode seam.

A budget-aware strategy bids on the state of an episode, ``t`` auctions left and ``b``
budget left, which the vectorised :class:`~bidder.strategies.base.Strategy` never sees.
The caller calls ``plan(budget, episode_len, max_bid)`` once per episode shape and asks
the returned :class:`EpisodePolicy` for one bid per auction, in order.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import (
    BidContext,
    FloatArray,
    Strategy,
    StrategyError,
    TrainStats,
    finish_bids,
)
from optimizer.value_function import market_price_pdf, optimal_bid, solve_value_function

CACHE_ENV = "RTB_CACHE_DIR"  # optional folder of solved value functions (.npy)


@dataclass(frozen=True, slots=True)
class MarketTrainStats(TrainStats):
    """Training totals plus the training market-price histogram (the bid landscape).

    ``price_counts[p]`` is how many training impressions had market price ``p``
    (whole price units, iPinYou ``price_counter_train``).
    """

    price_counts: tuple[int, ...] = field(default=())

    def problems(self) -> list[Problem]:
        found = TrainStats.problems(self)
        if not self.price_counts or min(self.price_counts) < 0:
            found.append(
                Problem("train_stats.price_counts", "must be a non-empty histogram of counts >= 0")
            )
        return found


class EpisodePolicy(Protocol):
    """Bids of one episode shape: callers ask in auction order, passing the state.

    Callers guarantee ``1 <= auctions_left <= episode_len`` and
    ``0 <= budget_left <= budget`` of the plan; implementations return a whole bid in
    ``[0, min(max_bid, budget_left)]``.
    """

    def bid_at(self, pctr: float, auctions_left: int, budget_left: int) -> int: ...


@runtime_checkable
class BudgetAwareStrategy(Protocol):
    """A strategy whose bid depends on the auctions and budget left in the episode.

    ``plan`` may be slow (it may solve a dynamic program) and is called once per
    episode shape; the vectorised ``bid`` answers for a fresh episode of the last plan.
    """

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Mapping[str, float]: ...

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray: ...

    def plan(self, budget: int, episode_len: int, max_bid: int) -> EpisodePolicy: ...


def landscape_of(stats: TrainStats, strategy: str) -> FloatArray:
    """The Laplace-smoothed training market-price pdf, or a StrategyError naming ``strategy``."""
    if not isinstance(stats, MarketTrainStats) or not stats.price_counts:
        raise StrategyError(
            [
                Problem(
                    "train_stats.price_counts",
                    f"{strategy} needs the training market-price histogram (price_counter_train)",
                )
            ]
        )
    return market_price_pdf(stats.price_counts)


@dataclass(frozen=True, slots=True)
class RlbSpec:
    """RLB of Cai et al. (WSDM'17): the DP action with the auction's own pCTR (no parameter)."""

    NAME: ClassVar[str] = "rlb"
    PARAMS: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[Problem]:
        return []

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        landscape = landscape_of(stats, self.NAME)
        return DpStrategy(self.NAME, {}, landscape, stats.avg_ctr, lambda: _same)


def _same(pctr: float) -> float:
    return pctr


ThetaMap = Callable[[float], float]


class DpStrategy:
    """Bid ``a(t, b, theta)`` of the value function solved with ``theta_avg`` and ``landscape``.

    ``new_theta_map()`` gives each plan a fresh map from an auction's pCTR to the click
    value ``theta`` of eq. (6) (identity for RLB, the constant ``theta_avg`` for SS-MDP);
    a map may keep state over the auctions it sees, in order.
    """

    def __init__(
        self,
        name: str,
        params: Mapping[str, float],
        landscape: FloatArray,
        theta_avg: float,
        new_theta_map: Callable[[], ThetaMap],
    ) -> None:
        self.name = name
        self.params = dict(params)
        self._landscape = landscape
        self._theta_avg = theta_avg
        self._new_theta_map = new_theta_map
        self._last: _DpPolicy | None = None

    def plan(self, budget: int, episode_len: int, max_bid: int) -> EpisodePolicy:
        """Solve (or load) ``V(t, b)`` for this episode shape; WSDM'17 section 3.2."""
        values = value_table(self._landscape, self._theta_avg, episode_len, budget, max_bid)
        self._last = _DpPolicy(values, max_bid, self._new_theta_map())
        return self._last

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """Bids at the start of an episode (``t = T``, ``b = B``) of the last plan."""
        return episode_start_bids(self.name, self._last, pctr, ctx)


class PlannedPolicy(EpisodePolicy, Protocol):
    """An ``EpisodePolicy`` that knows its episode shape (``V(t, b)``'s last row)."""

    episode_len: int
    budget: int


def episode_start_bids(
    name: str, policy: PlannedPolicy | None, pctr: FloatArray, ctx: BidContext
) -> FloatArray:
    """``policy``'s bids at the start of its episode (``t = T``, ``b = B``), finished."""
    if policy is None:
        raise ValueError(f"{name}: call plan(budget, episode_len, max_bid) first")
    t, b = policy.episode_len, policy.budget
    raw = np.array([policy.bid_at(float(p), t, b) for p in pctr], dtype=np.float64)
    return finish_bids(raw, ctx)


class _DpPolicy:
    def __init__(self, values: FloatArray, max_bid: int, theta_of: ThetaMap) -> None:
        self._values = values
        self._max_bid = max_bid
        self._theta_of = theta_of
        self.episode_len = int(values.shape[0])
        self.budget = int(values.shape[1]) - 1

    def bid_at(self, pctr: float, auctions_left: int, budget_left: int) -> int:
        """WSDM'17 eq. (6) on row ``V(t-1, .)``."""
        row = self._values[auctions_left - 1]
        return optimal_bid(row, budget_left, self._theta_of(pctr), self._max_bid)


def value_table(
    landscape: FloatArray, theta_avg: float, episode_len: int, budget: int, max_bid: int
) -> FloatArray:
    """``V(t, b)``, memoised in-process and, when ``RTB_CACHE_DIR`` is set, on disk (.npy)."""
    key = hashlib.sha256(
        np.ascontiguousarray(landscape[: max_bid + 1]).tobytes()
        + repr((theta_avg, episode_len, budget, max_bid)).encode()
    ).hexdigest()[:24]
    return _memo(key, landscape.tobytes(), theta_avg, episode_len, budget, max_bid)


def clear_value_cache() -> None:
    """Forget the value functions memoised in this process (the disk cache stays)."""
    _memo.cache_clear()


@functools.lru_cache(maxsize=4)
def _memo(
    key: str, landscape: bytes, theta_avg: float, episode_len: int, budget: int, max_bid: int
) -> FloatArray:
    folder = os.environ.get(CACHE_ENV)
    path = Path(folder) / f"value-T{episode_len}-B{budget}-{key}.npy" if folder else None
    if path is not None and path.is_file():
        cached: FloatArray = np.load(path)
        cached.setflags(write=False)
        return cached
    pdf = np.frombuffer(landscape, dtype=np.float64)
    values = solve_value_function(pdf, theta_avg, episode_len, budget, max_bid)
    values.setflags(write=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, values)
        tmp.replace(path)
    return values
