"""RLB with click values and market prices learned per pCTR class on a labelled sample.

``rlb_cond`` and ``rlb_mix`` take no tuned parameter: everything they use is fitted on a
labelled sample of auctions (``click, market price, pCTR``; in the rlb protocol the
campaign's validation stream, never the stream being scored), passed in as
:class:`SampledTrainStats`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import (
    BidContext,
    FloatArray,
    Strategy,
    StrategyError,
    TrainStats,
)
from bidder.strategies.mixture_dp import solve_mixture_value
from bidder.strategies.rlb import (
    EpisodePolicy,
    MarketTrainStats,
    episode_start_bids,
    landscape_of,
)
from optimizer.value_function import market_price_pdf, optimal_bid

N_CLASSES = 5  # equal-mass pCTR classes of the DP's p(theta) and m(delta | theta)
RATIO_FLOOR = 1e-3  # relative pCTRs below this are treated as this (log scale)
_NEWTON_STEPS = 50
# strategies that need ``SampledTrainStats`` with a labelled sample
SAMPLE_STRATEGIES = ("rlb_cond", "rlb_mix", "dual_cal")


@dataclass(frozen=True, slots=True, eq=False)
class AuctionSample:
    """Labelled auctions in stream order: ``click`` (0/1), ``price`` (whole units), ``pctr``."""

    click: FloatArray
    price: FloatArray
    pctr: FloatArray

    def problems(self) -> list[Problem]:
        n = self.pctr.size
        if n < N_CLASSES or self.click.size != n or self.price.size != n:
            return [Problem("train_stats.sample", f"need >= {N_CLASSES} rows of equal length")]
        if self.click.sum() <= 0:
            return [Problem("train_stats.sample", "needs at least one click")]
        return []


@dataclass(frozen=True, slots=True)
class SampledTrainStats(MarketTrainStats):
    """Training totals and landscape plus a labelled auction sample (validation)."""

    sample: AuctionSample | None = field(default=None)

    def problems(self) -> list[Problem]:
        found = MarketTrainStats.problems(self)
        if self.sample is not None:
            found += self.sample.problems()
        return found


def sample_of(stats: TrainStats, strategy: str) -> AuctionSample:
    """The labelled sample of ``stats``, or a StrategyError naming ``strategy``."""
    if not isinstance(stats, SampledTrainStats) or stats.sample is None:
        raise StrategyError(
            [
                Problem(
                    "train_stats.sample",
                    f"{strategy} needs a labelled sample (click, price, pCTR rows)",
                )
            ]
        )
    return stats.sample


def running_ratio(pctr: FloatArray) -> FloatArray:
    """``pCTR_i / mean_{j<=i} pCTR_j``: each pCTR relative to the mean of those seen so far.

    Needs no labels and is causal, so it can be computed online; it removes a shift in
    the level of the pCTRs between the sample and the stream bid on.
    """
    seen = np.arange(1, pctr.size + 1, dtype=np.float64)
    total = np.cumsum(pctr)
    out: FloatArray = np.where(total > 0, pctr * seen / np.where(total > 0, total, 1.0), 1.0)
    return out


def _feature(ratio: FloatArray) -> FloatArray:
    out: FloatArray = np.log(np.maximum(ratio, RATIO_FLOOR))
    return out


def fit_logistic(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Maximum-likelihood ``(a, b)`` of ``P(click) = 1 / (1 + exp(-(a + b x)))`` (Newton)."""
    rate = float(np.clip(y.mean(), 1e-9, 1 - 1e-9))
    coef = np.array([np.log(rate / (1 - rate)), 0.0])
    design = np.column_stack([np.ones_like(x), x])
    for _ in range(_NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(design @ coef)))
        grad = design.T @ (y - p)
        hess = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        coef += step
        if np.abs(step).max() < 1e-10:
            break
    return float(coef[0]), float(coef[1])


@dataclass(frozen=True, slots=True)
class PctrClasses:
    """The fitted model: calibration ``(a, b)`` and the DP's classes (weights, CTRs, pdfs)."""

    intercept: float
    slope: float
    weights: FloatArray
    thetas: FloatArray
    pdfs: FloatArray

    def theta(self, ratio: float) -> float:
        """Calibrated click probability of an auction of relative pCTR ``ratio``."""
        x = np.log(max(ratio, RATIO_FLOOR))
        return float(1.0 / (1.0 + np.exp(-(self.intercept + self.slope * x))))


def fit_classes(
    sample: AuctionSample, train_pdf: FloatArray, conditional_prices: bool
) -> PctrClasses:
    """Calibrate pCTR on the sample's clicks and cut it into ``N_CLASSES`` equal-mass classes.

    ``theta_k`` is the mean calibrated CTR of class ``k``; ``m_k`` is the Laplace-smoothed
    histogram of the class's market prices (``conditional_prices``) or the training pdf.
    """
    x = _feature(running_ratio(sample.pctr))
    intercept, slope = fit_logistic(x, sample.click)
    theta = 1.0 / (1.0 + np.exp(-(intercept + slope * x)))
    edges = np.quantile(x, np.linspace(0.0, 1.0, N_CLASSES + 1)[1:-1])
    label = np.searchsorted(edges, x, side="right")
    size = max(train_pdf.size, int(sample.price.max()) + 1)
    weights, thetas, pdfs = [], [], []
    for k in range(N_CLASSES):
        mine = label == k
        if not mine.any():
            continue
        weights.append(float(mine.mean()))
        thetas.append(float(theta[mine].mean()))
        if conditional_prices:
            counts = np.bincount(sample.price[mine].astype(np.int64), minlength=size)
            pdfs.append(market_price_pdf(counts))
        else:
            pdfs.append(np.pad(train_pdf, (0, size - train_pdf.size)))
    return PctrClasses(intercept, slope, np.array(weights), np.array(thetas), np.array(pdfs))


@dataclass(frozen=True, slots=True)
class RlbCondSpec:
    """RLB whose DP takes the expectation over pCTR classes fitted on a labelled sample.

    The value function (:mod:`bidder.strategies.mixture_dp`) sums over ``N_CLASSES``
    equal-mass classes of the relative pCTR (:func:`running_ratio`), each with the
    calibrated CTR of its auctions (a logistic fit of click on the log relative pCTR)
    and its own market-price pdf. An auction is valued at its own calibrated CTR and
    bid with RLB's action, eq. (6) of Cai et al., WSDM'17.
    """

    NAME: ClassVar[str] = "rlb_cond"
    PARAMS: ClassVar[tuple[str, ...]] = ()
    CONDITIONAL_PRICES: ClassVar[bool] = True

    def problems(self) -> list[Problem]:
        return []

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        train_pdf = landscape_of(stats, self.NAME)
        classes = fit_classes(sample_of(stats, self.NAME), train_pdf, self.CONDITIONAL_PRICES)
        return ClassDpStrategy(self.NAME, classes)


@dataclass(frozen=True, slots=True)
class RlbMixSpec(RlbCondSpec):
    """``rlb_cond`` with every class priced on the training landscape (only ``p(theta)`` fitted)."""

    NAME: ClassVar[str] = "rlb_mix"
    CONDITIONAL_PRICES: ClassVar[bool] = False


class ClassDpStrategy:
    """Bids ``a(t, b, theta)`` read from the mixture value function of ``classes``."""

    params: dict[str, float]

    def __init__(self, name: str, classes: PctrClasses) -> None:
        self.name = name
        self.params = {}
        self._classes = classes
        self._last: _ClassPolicy | None = None

    def plan(self, budget: int, episode_len: int, max_bid: int) -> EpisodePolicy:
        """Solve ``V(t, b)`` of the classes, cut at ``max_bid``; fresh running calibration."""
        c = self._classes
        values = _value_table(c.weights, c.thetas, c.pdfs[:, : max_bid + 1], episode_len, budget)
        self._last = _ClassPolicy(values, max_bid, c)
        return self._last

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """Bids at the start of an episode (``t = T``, ``b = B``) of the last plan."""
        return episode_start_bids(self.name, self._last, pctr, ctx)


class _ClassPolicy:
    def __init__(self, values: FloatArray, max_bid: int, classes: PctrClasses) -> None:
        self._values = values
        self._max_bid = max_bid
        self._classes = classes
        self._total = 0.0
        self._seen = 0
        self.episode_len = int(values.shape[0])
        self.budget = int(values.shape[1]) - 1

    def bid_at(self, pctr: float, auctions_left: int, budget_left: int) -> int:
        self._total += pctr
        self._seen += 1
        ratio = pctr * self._seen / self._total if self._total > 0 else 1.0
        theta = self._classes.theta(ratio)
        return optimal_bid(self._values[auctions_left - 1], budget_left, theta, self._max_bid)


def _value_table(
    weights: FloatArray, thetas: FloatArray, pdfs: FloatArray, episode_len: int, budget: int
) -> FloatArray:
    """The mixture ``V(t, b)``, memoised in-process for the last few episode shapes."""
    parts = [np.ascontiguousarray(a).tobytes() for a in (weights, thetas, pdfs)]
    key = hashlib.sha256(
        b"|".join(parts) + repr((pdfs.shape, episode_len, budget)).encode()
    ).hexdigest()
    if key not in _SOLVED:
        values = solve_mixture_value(weights, thetas, pdfs, episode_len, budget)
        values.setflags(write=False)
        _SOLVED[key] = values
        while len(_SOLVED) > _CACHE_SIZE:
            _SOLVED.pop(next(iter(_SOLVED)))
    return _SOLVED[key]


_CACHE_SIZE = 4
_SOLVED: dict[str, FloatArray] = {}
