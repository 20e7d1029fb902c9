"""The pricing-strategy seam: pCTR in, bid prices out, in the caller's price unit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bidder.errors import Problem

FloatArray = npt.NDArray[np.float64]


class StrategyError(ValueError):
    """A strategy name or parameter set that cannot be built; every problem is listed."""

    code = "bad_strategy"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass(frozen=True, slots=True)
class TrainStats:
    """Training-period totals of a campaign, prices in the caller's unit.

    ``impressions``, ``clicks`` and ``cost`` are the won impressions, their clicks and
    the sum of their market prices (iPinYou: fen per CPM).
    """

    impressions: int
    clicks: int
    cost: float

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for name in ("impressions", "clicks", "cost"):
            value = getattr(self, name)
            if not value > 0:
                found.append(Problem(f"train_stats.{name}", f"must be > 0, got {value}"))
        return found

    @property
    def avg_ctr(self) -> float:
        """Clicks per impression over training."""
        return self.clicks / self.impressions

    @property
    def cost_per_impression(self) -> float:
        """Mean market price over training (a CPM when prices are CPMs)."""
        return self.cost / self.impressions


@dataclass(frozen=True, slots=True)
class BidContext:
    """What the caller tells a strategy about its price unit.

    ``max_bid`` caps every bid; with ``whole_units`` bids are truncated to integers
    of the price unit (iPinYou logs bid whole fen CPM).
    """

    max_bid: float
    whole_units: bool = True


class Strategy(Protocol):
    """A pure pricing strategy: vectorised pCTR to bid price.

    Callers guarantee ``pctr`` is a 1-d float64 array of probabilities in ``[0, 1]``.
    Implementations return a float64 array of the same shape with bids in
    ``[0, ctx.max_bid]``, whole numbers when ``ctx.whole_units``; they keep no state
    between calls except a stochastic strategy's injected ``Generator``. They never
    see the remaining budget: the caller caps bids at what it can still spend.
    ``name`` and ``params`` describe the strategy for reports.
    """

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Mapping[str, float]: ...

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray: ...


def finish_bids(raw: FloatArray, ctx: BidContext) -> FloatArray:
    """Truncate raw prices to whole units (when asked), then clip to ``[0, max_bid]``.

    Truncating before the cap matches ``min(int(x), max_bid)`` of the iPinYou
    reference code (Cai et al., WSDM'17, ``bid_ls.py``).
    """
    out = np.floor(raw) if ctx.whole_units else raw.astype(np.float64, copy=True)
    np.clip(out, 0.0, ctx.max_bid, out=out)
    return out
