"""The ``rlb`` replay protocol: iPinYou pCTR streams of Cai et al. (WSDM'17), exactly.

A stream is a sequence of auctions ``(click, market_price, pCTR)`` cut into episodes of
``T`` consecutive auctions (the last, shorter chunk is an episode too). Each episode
starts with the budget ``B = int(cost_train / imp_train * c0 * T)``; every bid is an
integer capped at ``max_bid`` and at the budget left, wins when ``bid >= price`` (ties
win) and pays the market price; a click counts only on a won impression.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bidder.strategies import (
    AuctionSample,
    BidContext,
    BudgetAwareStrategy,
    MarketTrainStats,
    SampledTrainStats,
    Strategy,
    TrainStats,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MONEY_UNIT = "fen_cpm"  # iPinYou prices: Chinese fen per 1000 impressions


@dataclass(frozen=True, slots=True)
class Stream:
    """Parsed auctions of one stream file; ``price`` in the log's unit (fen CPM)."""

    click: IntArray
    price: IntArray
    pctr: npt.NDArray[np.float64]
    path: Path
    sha256: str

    def __len__(self) -> int:
        return int(self.price.size)

    def slice(self, start: int, stop: int) -> Stream:
        """Auctions ``[start, stop)`` as a stream of the same file."""
        return Stream(
            self.click[start:stop],
            self.price[start:stop],
            self.pctr[start:stop],
            self.path,
            self.sha256,
        )


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Protocol settings: budget fraction ``c0``, episode length ``T``, bid cap."""

    budget_fraction: float
    episode_len: int = 1000
    max_bid: int = 300

    def __post_init__(self) -> None:
        if not self.budget_fraction > 0:
            raise ValueError(f"budget_fraction: must be > 0, got {self.budget_fraction}")
        if self.episode_len < 1:
            raise ValueError(f"episode_len: must be >= 1, got {self.episode_len}")
        if self.max_bid < 0:
            raise ValueError(f"max_bid: must be >= 0, got {self.max_bid}")


@dataclass(frozen=True, slots=True)
class EpisodeTotals:
    """Per-episode counts; arrays of shape ``(n_episodes,)``, money in the log's unit."""

    budget: int
    auctions: IntArray
    bids: IntArray
    impressions: IntArray
    clicks: IntArray
    spend: IntArray

    @property
    def n_episodes(self) -> int:
        return int(self.auctions.size)


def parse_stream(path: Path) -> Stream:
    """Read a ``click price pCTR`` stream, with or without its header and episode markers.

    Tab- or space-separated rows of three fields; a first line of two fields
    (``<feature dim> <T>``) and one-field episode-index lines are skipped.
    """
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    rows = [line for line in lines if len(line.split()) == 3]
    if not rows:
        raise ValueError(f"{path}: no `click price pCTR` rows found")
    values = np.array(b" ".join(rows).split(), dtype=np.float64).reshape(-1, 3)
    return Stream(
        click=values[:, 0].astype(np.int64),
        price=values[:, 1].astype(np.int64),
        pctr=np.ascontiguousarray(values[:, 2]),
        path=Path(path),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def load_train_stats(info_path: Path) -> TrainStats:
    """Training totals and market-price histogram from an ``rlb-dp/info/<camp>.info.json`` file."""
    info = json.loads(Path(info_path).read_text())
    return MarketTrainStats(
        impressions=int(info["imp_train"]),
        clicks=int(info["clk_train"]),
        cost=float(info["cost_train"]),
        price_counts=tuple(int(n) for n in info.get("price_counter_train", ())),
    )


def sampled_stats(stats: TrainStats, sample: Stream) -> SampledTrainStats:
    """``stats`` plus the labelled auctions of ``sample`` (a validation stream, never the scored one)."""
    counts = stats.price_counts if isinstance(stats, MarketTrainStats) else ()
    return SampledTrainStats(
        impressions=stats.impressions,
        clicks=stats.clicks,
        cost=stats.cost,
        price_counts=counts,
        sample=AuctionSample(
            click=sample.click.astype(np.float64),
            price=sample.price.astype(np.float64),
            pctr=sample.pctr,
        ),
    )


def episode_budget(stats: TrainStats, config: ReplayConfig) -> int:
    """``B = int(cost_train / imp_train * c0 * T)`` (1969 for 2997 at c0 = 1/32)."""
    return int(stats.cost / stats.impressions * config.budget_fraction * config.episode_len)


def replay(
    stream: Stream, strategy: Strategy, stats: TrainStats, config: ReplayConfig
) -> EpisodeTotals:
    """Run ``strategy`` over ``stream`` under the rlb protocol; per-episode totals."""
    if isinstance(strategy, BudgetAwareStrategy):
        return _replay_stateful(stream, strategy, stats, config)
    ctx = BidContext(max_bid=float(config.max_bid), whole_units=True)
    bids = strategy.bid(stream.pctr, ctx).astype(np.int64)
    won = win_mask(bids, stream.price, episode_budget(stats, config), config.episode_len)
    return _totals(stream, bids, won, episode_budget(stats, config), config.episode_len)


def _replay_stateful(
    stream: Stream, strategy: BudgetAwareStrategy, stats: TrainStats, config: ReplayConfig
) -> EpisodeTotals:
    """Auction by auction: the bid sees ``t`` auctions and ``b`` budget left (origin's ``run``)."""
    budget, episode_len = episode_budget(stats, config), config.episode_len
    policy = strategy.plan(budget, episode_len, config.max_bid)
    bids = np.zeros(len(stream), dtype=np.int64)
    won = np.zeros(len(stream), dtype=np.bool_)
    remaining = budget
    auctions = zip(stream.pctr.tolist(), stream.price.tolist(), strict=True)
    for i, (pctr, market) in enumerate(auctions):
        left = episode_len - i % episode_len
        if left == episode_len:
            remaining = budget
        bid = min(policy.bid_at(pctr, left, remaining), remaining, config.max_bid)
        bids[i] = bid
        if bid >= market:
            won[i] = True
            remaining -= market
    return _totals(stream, bids, won, budget, episode_len)


def win_mask(bids: IntArray, price: IntArray, budget: int, episode_len: int) -> BoolArray:
    """Which auctions are won when each episode of ``episode_len`` starts with ``budget``.

    The bid sent is ``min(bid, remaining)``; it wins iff ``min(bid, remaining) >= price``,
    that is iff ``bid >= price`` and ``remaining >= price``. Only auctions with
    ``bid >= price`` (candidates) can win, and they are taken greedily in order.
    """
    won = np.zeros(price.size, dtype=np.bool_)
    candidate = np.flatnonzero(bids >= price)
    bounds = np.searchsorted(candidate, np.arange(0, price.size + episode_len, episode_len))
    for lo, hi in itertools.pairwise(bounds.tolist()):
        if hi > lo:
            idx = candidate[lo:hi]
            won[idx[_walk_fast(price[idx], budget)]] = True
    return won


def _walk_fast(cand_price: IntArray, budget: int) -> IntArray:
    """Positions of the candidates won, in order, spending from ``budget``.

    Within a run where every candidate fits, spend is a cumulative sum: find the first
    candidate whose price exceeds what is left (it loses), drop every later candidate
    now too dear, and repeat on the rest. Same result as the sequential walk.
    """
    remaining = budget
    pos = np.flatnonzero(cand_price <= remaining)
    taken: list[IntArray] = []
    while pos.size:
        spent = np.cumsum(cand_price[pos])
        over = int(np.searchsorted(spent, remaining, side="right"))
        taken.append(pos[:over])
        if over == pos.size:
            break
        remaining -= int(spent[over - 1]) if over else 0
        rest = pos[over + 1 :]
        pos = rest[cand_price[rest] <= remaining]
    return np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)


def walk_reference(bids: IntArray, price: IntArray, budget: int, episode_len: int) -> BoolArray:
    """The origin's sequential loop, kept as the test oracle for :func:`win_mask`."""
    won = np.zeros(price.size, dtype=np.bool_)
    remaining = budget
    for i, (bid, market) in enumerate(zip(bids.tolist(), price.tolist(), strict=True)):
        if i % episode_len == 0:
            remaining = budget
        if min(bid, remaining) >= market:
            won[i] = True
            remaining -= market
    return won


def _totals(
    stream: Stream, bids: IntArray, won: BoolArray, budget: int, episode_len: int
) -> EpisodeTotals:
    starts = np.arange(0, len(stream), episode_len)

    def per_episode(values: npt.NDArray[np.int64] | BoolArray) -> IntArray:
        return np.add.reduceat(values.astype(np.int64), starts)

    return EpisodeTotals(
        budget=budget,
        auctions=per_episode(np.ones(len(stream), dtype=np.int64)),
        bids=per_episode(bids > 0),
        impressions=per_episode(won),
        clicks=per_episode(won & (stream.click > 0)),
        spend=per_episode(np.where(won, stream.price, 0)),
    )
