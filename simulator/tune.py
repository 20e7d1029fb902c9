"""Grid search of strategy parameters on a validation stream, maximising clicks."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bidder.strategies import TrainStats, build_strategy, param_names
from simulator.rlb import ReplayConfig, Stream, replay

_WHOLE_BIDS = tuple(float(b) for b in range(1, 301))
# Lin's b0 grid is the origin's (rlb-dp Linear_Bidding.py: candidates = range(2, 300, 6)),
# so a tuned lin replays the published protocol.
_LIN_B0 = tuple(float(b) for b in range(2, 300, 6))
_ORTB_C = (5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0, 200.0, 300.0)
_ORTB_LAMBDA = tuple(float(x) for x in np.logspace(-7, -3, 33))

# strategy -> param -> candidate values; bids are whole price units up to the 300 cap
name_to_grid: dict[str, dict[str, tuple[float, ...]]] = {
    "const": {"c": _WHOLE_BIDS},
    "rand": {"upper": _WHOLE_BIDS},
    "mcpc": {},
    "lin": {"b0": _LIN_B0},
    "ortb1": {"c": _ORTB_C, "lambda": _ORTB_LAMBDA},
    "ortb2": {"c": _ORTB_C, "lambda": _ORTB_LAMBDA},
    "rlb": {},
    "ss_mdp": {},
    "rlb_cal": {"alpha": (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)},
    # no tuned parameter: fitted on the validation stream (bidder.strategies.rlb_cond)
    "rlb_cond": {},
    "rlb_mix": {},
    "dual": {},
    "dual_cal": {},  # fitted on the validation stream like rlb_mix
}


@dataclass(frozen=True, slots=True)
class TuneResult:
    """Best parameters found, with their clicks and spend on the tuning stream."""

    params: dict[str, float]
    clicks: int
    spend: int
    evaluated: int
    tuned: tuple[str, ...]


def candidates(name: str, fixed: Mapping[str, float]) -> list[dict[str, float]]:
    """Every parameter set of the grid for the params of ``name`` not in ``fixed``."""
    free = [p for p in param_names(name) if p not in fixed]
    grid = name_to_grid[name]
    combos = itertools.product(*(grid[p] for p in free))
    return [{**fixed, **dict(zip(free, combo, strict=True))} for combo in combos]


def tune(
    name: str,
    fixed: Mapping[str, float],
    stream: Stream,
    stats: TrainStats,
    config: ReplayConfig,
    seed: int,
    on_step: Callable[[], None] | None = None,
) -> TuneResult:
    """Pick the grid point with most clicks on ``stream``; ties: less spend, then grid order.

    Stochastic strategies see the same random draws for every candidate (a fresh
    Generator seeded with ``seed``), so candidates are compared on equal terms.
    """
    options = candidates(name, fixed)
    best: tuple[int, int, int] | None = None
    for i, params in enumerate(options):
        strategy = build_strategy(name, params, stats, np.random.default_rng(seed))
        totals = replay(stream, strategy, stats, config)
        key = (int(totals.clicks.sum()), -int(totals.spend.sum()), -i)
        if best is None or key > best:
            best = key
        if on_step is not None:
            on_step()
    assert best is not None
    clicks, neg_spend, neg_i = best
    free = tuple(p for p in param_names(name) if p not in fixed)
    return TuneResult(options[-neg_i], clicks, -neg_spend, len(options), free)
