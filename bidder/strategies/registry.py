"""Strategy registry: name + numeric params -> a validated, built pricing strategy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import Strategy, StrategyError, TrainStats
from bidder.strategies.dual import DualCalSpec, DualSpec
from bidder.strategies.linear import ConstSpec, LinSpec, McpcSpec, RandSpec
from bidder.strategies.ortb import Ortb1Spec, Ortb2Spec
from bidder.strategies.rlb import RlbSpec
from bidder.strategies.rlb_cal import RlbCalSpec
from bidder.strategies.rlb_cond import RlbCondSpec, RlbMixSpec
from bidder.strategies.ss_mdp import SsMdpSpec


class StrategySpec(Protocol):
    """A strategy's validated parameters; ``build`` trusts them."""

    def problems(self) -> list[Problem]: ...

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy: ...


_AnySpec = (
    ConstSpec
    | RandSpec
    | McpcSpec
    | LinSpec
    | Ortb1Spec
    | Ortb2Spec
    | RlbSpec
    | SsMdpSpec
    | RlbCalSpec
    | RlbCondSpec
    | RlbMixSpec
    | DualSpec
    | DualCalSpec
)
_SPECS = (
    ConstSpec,
    RandSpec,
    McpcSpec,
    LinSpec,
    Ortb1Spec,
    Ortb2Spec,
    RlbSpec,
    SsMdpSpec,
    RlbCalSpec,
    RlbCondSpec,
    RlbMixSpec,
    DualSpec,
    DualCalSpec,
)
name_to_spec: dict[str, type[_AnySpec]]
name_to_spec = {spec.NAME: spec for spec in _SPECS}

STRATEGY_NAMES: tuple[str, ...] = tuple(name_to_spec)
# external parameter name -> dataclass field, where a param is a Python keyword
_FIELD_FOR_PARAM = {"lambda": "lam"}


def param_names(name: str) -> tuple[str, ...]:
    """The parameter names a strategy takes (raises StrategyError for an unknown name)."""
    return _spec_class(name).PARAMS


def _spec_class(
    name: str,
) -> type[_AnySpec]:
    try:
        return name_to_spec[name]
    except KeyError:
        known = ", ".join(STRATEGY_NAMES)
        raise StrategyError(
            [Problem("strategy", f"unknown strategy {name!r} (known: {known})")]
        ) from None


def build_spec(name: str, params: Mapping[str, float]) -> StrategySpec:
    """Validate ``params`` for strategy ``name``; raise StrategyError listing every problem."""
    spec_class = _spec_class(name)
    expected = spec_class.PARAMS
    problems = [
        Problem(f"{name}.{key}", f"unknown parameter (expected: {', '.join(expected) or 'none'})")
        for key in sorted(set(params) - set(expected))
    ]
    missing = [key for key in expected if key not in params]
    problems += [Problem(f"{name}.{key}", "missing parameter") for key in missing]
    if missing:
        raise StrategyError(problems)
    kwargs = {_FIELD_FOR_PARAM.get(k, k): float(params[k]) for k in expected}
    spec: StrategySpec = spec_class(**kwargs)
    problems += spec.problems()
    if problems:
        raise StrategyError(problems)
    return spec


def build_strategy(
    name: str,
    params: Mapping[str, float],
    train_stats: TrainStats,
    rng: np.random.Generator | None = None,
) -> Strategy:
    """Build the pricing strategy ``name`` from numeric ``params`` and training totals.

    Raises
    ------
    StrategyError
        For an unknown name, unknown/missing/invalid parameters or unusable training
        totals; each problem names its parameter (``lin.b0: must be ... got -1.0``).
    """
    spec = build_spec(name, params)
    stats_problems = train_stats.problems()
    if stats_problems:
        raise StrategyError(stats_problems)
    return spec.build(train_stats, rng)
