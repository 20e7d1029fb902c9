"""Optimal real-time bidding (ORTB) functions of Zhang, Yuan and Wang (KDD'14)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import BidContext, FloatArray, Strategy, TrainStats, finish_bids


def _problems(name: str, c: float, lam: float) -> list[Problem]:
    found: list[Problem] = []
    if not (np.isfinite(c) and c > 0):
        found.append(Problem(f"{name}.c", f"must be a finite number > 0, got {c}"))
    if not (np.isfinite(lam) and lam > 0):
        found.append(Problem(f"{name}.lambda", f"must be a finite number > 0, got {lam}"))
    return found


@dataclass(frozen=True, slots=True)
class Ortb1Spec:
    """ORTB1 concave bid function; ``c`` in price units, ``lam`` (param ``lambda``) > 0."""

    NAME: ClassVar[str] = "ortb1"
    PARAMS: ClassVar[tuple[str, ...]] = ("c", "lambda")
    c: float
    lam: float

    def problems(self) -> list[Problem]:
        return _problems(self.NAME, self.c, self.lam)

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        return _Ortb1(self)


@dataclass(frozen=True, slots=True)
class Ortb2Spec:
    """ORTB2 bid function; ``c`` in price units, ``lam`` (param ``lambda``) > 0."""

    NAME: ClassVar[str] = "ortb2"
    PARAMS: ClassVar[tuple[str, ...]] = ("c", "lambda")
    c: float
    lam: float

    def problems(self) -> list[Problem]:
        return _problems(self.NAME, self.c, self.lam)

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        return _Ortb2(self)


class _Ortb1:
    name = Ortb1Spec.NAME

    def __init__(self, spec: Ortb1Spec) -> None:
        self._spec = spec

    @property
    def params(self) -> Mapping[str, float]:
        return {"c": self._spec.c, "lambda": self._spec.lam}

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """ORTB1: ``b(theta) = sqrt(c / lambda * theta + c^2) - c``.

        Zhang, Yuan, Wang, "Optimal real-time bidding for display advertising",
        KDD'14, eq. (9): the optimal bid under the winning function
        ``w(b) = b / (c + b)`` with Lagrange multiplier ``lambda`` of the budget.
        """
        c, lam = self._spec.c, self._spec.lam
        raw = np.sqrt(c / lam * pctr + c * c) - c
        return finish_bids(raw, ctx)


class _Ortb2:
    name = Ortb2Spec.NAME

    def __init__(self, spec: Ortb2Spec) -> None:
        self._spec = spec

    @property
    def params(self) -> Mapping[str, float]:
        return {"c": self._spec.c, "lambda": self._spec.lam}

    def bid(self, pctr: FloatArray, ctx: BidContext) -> FloatArray:
        """ORTB2: ``b = c * (u^(1/3) - u^(-1/3))``, ``u = (theta + sqrt(c^2 lambda^2 + theta^2)) / (c lambda)``.

        Zhang, Yuan, Wang, KDD'14, eq. (11): the optimal bid under the winning function
        ``w(b) = b^2 / (c^2 + b^2)``.
        """
        c, lam = self._spec.c, self._spec.lam
        cl = c * lam
        root = pctr + np.sqrt(cl * cl + pctr * pctr)
        raw = c * (np.cbrt(root / cl) - np.cbrt(cl / root))
        return finish_bids(raw, ctx)
