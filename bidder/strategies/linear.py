"""Baseline strategies: constant, uniform random, max eCPC and linear bidding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import BidContext, FloatArray, Strategy, TrainStats, finish_bids


def _positive(strategy: str, param: str, value: float) -> list[Problem]:
    if np.isfinite(value) and value > 0:
        return []
    return [Problem(f"{strategy}.{param}", f"must be a finite number > 0, got {value}")]


@dataclass(frozen=True, slots=True)
class ConstSpec:
    """Bid the same price ``c`` on every auction."""

    NAME: ClassVar[str] = "const"
    PARAMS: ClassVar[tuple[str, ...]] = ("c",)
    c: float

    def problems(self) -> list[Problem]:
        return _positive(self.NAME, "c", self.c)

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        return _Const(self)


@dataclass(frozen=True, slots=True)
class RandSpec:
    """Bid a uniform random integer in ``[0, upper]``; needs an injected Generator."""

    NAME: ClassVar[str] = "rand"
    PARAMS: ClassVar[tuple[str, ...]] = ("upper",)
    upper: float

    def problems(self) -> list[Problem]:
        return _positive(self.NAME, "upper", self.upper)

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        if rng is None:
            raise ValueError("rand: needs a numpy Generator (seed the replay)")
        return _Rand(self, rng)


@dataclass(frozen=True, slots=True)
class McpcSpec:
    """Bid the training eCPC times pCTR (no parameter)."""

    NAME: ClassVar[str] = "mcpc"
    PARAMS: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[Problem]:
        return []

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        return _Mcpc(stats)


@dataclass(frozen=True, slots=True)
class LinSpec:
    """Linear bidding on the pCTR relative to the training average, base bid ``b0``."""

    NAME: ClassVar[str] = "lin"
    PARAMS: ClassVar[tuple[str, ...]] = ("b0",)
    b0: float

    def problems(self) -> list[Problem]:
        return _positive(self.NAME, "b0", self.b0)

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        return _Lin(self, stats)


class _Const:
    name = ConstSpec.NAME

    def __init__(self, spec: ConstSpec) -> None:
        self._spec = spec

    @property
    def params(self) -> Mapping[str, float]:
        return {"c": self._spec.c}

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        return finish_bids(np.full(pctr.shape, self._spec.c, dtype=np.float64), ctx)


class _Rand:
    name = RandSpec.NAME

    def __init__(self, spec: RandSpec, rng: np.random.Generator) -> None:
        self._spec = spec
        self._rng = rng

    @property
    def params(self) -> Mapping[str, float]:
        return {"upper": self._spec.upper}

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """Draw ``b ~ U{0, ..., floor(upper)}`` independently per auction."""
        upper = int(np.floor(self._spec.upper))
        draws = self._rng.integers(0, upper, size=pctr.shape, endpoint=True)
        return finish_bids(draws.astype(np.float64), ctx)


class _Mcpc:
    name = McpcSpec.NAME
    params: Mapping[str, float] = {}

    def __init__(self, stats: TrainStats) -> None:
        self._stats = stats

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """Max-eCPC bidding: ``b = pCTR * cost_train / clk_train``.

        The value of an impression is its expected clicks times the training cost per
        click (Cai et al., "Real-Time Bidding by Reinforcement Learning in Display
        Advertising", WSDM'17, baseline "Mcpc").
        """
        raw = pctr * self._stats.cost / self._stats.clicks
        return finish_bids(raw, ctx)


class _Lin:
    name = LinSpec.NAME

    def __init__(self, spec: LinSpec, stats: TrainStats) -> None:
        self._spec = spec
        self._avg_ctr = stats.avg_ctr

    @property
    def params(self) -> Mapping[str, float]:
        return {"b0": self._spec.b0}

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """Linear bidding: ``b = b0 * pCTR / avgCTR_train``.

        Perlich et al., "Bid optimizing and inventory scoring in targeted online
        advertising", KDD'12; the WSDM'17 RLB paper's "Lin" baseline.
        """
        raw = pctr * self._spec.b0 / self._avg_ctr
        return finish_bids(raw, ctx)
