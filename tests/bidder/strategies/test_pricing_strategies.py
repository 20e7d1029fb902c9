"""Pricing strategies: formulas, caps, validation errors, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bidder.strategies import (
    STRATEGY_NAMES,
    BidContext,
    StrategyError,
    TrainStats,
    build_strategy,
)

STATS = TrainStats(impressions=312437, clicks=1386, cost=19689072.0)
CTX = BidContext(max_bid=300.0)
PCTR = np.array([0.0, 0.0005, 0.002114360785548828, 0.01, 0.2, 1.0])
PARAMS = {
    "const": {"c": 50.0},
    "rand": {"upper": 100.0},
    "mcpc": {},
    "lin": {"b0": 10.0},
    "ortb1": {"c": 80.0, "lambda": 2.4e-4},
    "ortb2": {"c": 40.0, "lambda": 3.2e-4},
    "rlb": {},
    "ss_mdp": {},
    "rlb_cal": {"alpha": 1.0},
    "rlb_cond": {},
    "rlb_mix": {},
    "dual": {},
    "dual_cal": {},
}


def test_registry_names_cover_all_strategies() -> None:
    assert set(STRATEGY_NAMES) == set(PARAMS)


def test_lin_bid_truncates_then_caps() -> None:
    bids = build_strategy("lin", {"b0": 10}, STATS).bid(PCTR, CTX)
    avg = 1386 / 312437
    assert bids.tolist() == [min(int(p * 10 / avg), 300) for p in PCTR.tolist()]


def test_mcpc_bid_is_ecpc_times_pctr() -> None:
    bids = build_strategy("mcpc", {}, STATS).bid(PCTR, CTX)
    assert bids.tolist() == [min(int(p * 19689072.0 / 1386), 300) for p in PCTR.tolist()]


def test_ortb1_bid_matches_kdd14_formula() -> None:
    c, lam = 80.0, 2.4e-4
    bids = build_strategy("ortb1", {"c": c, "lambda": lam}, STATS).bid(PCTR, CTX)
    expected = [min(int(math.sqrt(c / lam * p + c * c) - c), 300) for p in PCTR.tolist()]
    assert bids.tolist() == expected


def test_ortb2_bid_matches_kdd14_formula() -> None:
    c, lam = 40.0, 3.2e-4
    bids = build_strategy("ortb2", {"c": c, "lambda": lam}, STATS).bid(PCTR, CTX)
    expected = []
    for p in PCTR.tolist():
        u = (p + math.sqrt(c * c * lam * lam + p * p)) / (c * lam)
        expected.append(min(max(int(c * (u ** (1 / 3) - u ** (-1 / 3)) + 1e-9), 0), 300))
    assert bids.tolist() == expected


def test_const_bid_is_constant_and_capped() -> None:
    assert build_strategy("const", {"c": 50.7}, STATS).bid(PCTR, CTX).tolist() == [50.0] * 6
    assert build_strategy("const", {"c": 999}, STATS).bid(PCTR, CTX).max() == 300.0


def test_rand_bid_same_seed_same_draws_within_range() -> None:
    first = build_strategy("rand", {"upper": 20}, STATS, np.random.default_rng(7))
    second = build_strategy("rand", {"upper": 20}, STATS, np.random.default_rng(7))
    pctr = np.zeros(10_000)
    a, b = first.bid(pctr, CTX), second.bid(pctr, CTX)
    assert np.array_equal(a, b)
    assert a.min() == 0.0
    assert a.max() == 20.0


def test_rand_build_without_generator_raises() -> None:
    with pytest.raises(ValueError, match="Generator"):
        build_strategy("rand", {"upper": 20}, STATS)


def test_strategy_params_reported_by_external_name() -> None:
    strategy = build_strategy("ortb1", {"c": 80, "lambda": 2.4e-4}, STATS)
    assert strategy.name == "ortb1"
    assert dict(strategy.params) == {"c": 80.0, "lambda": 2.4e-4}


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        (
            "nope",
            {},
            "strategy: unknown strategy 'nope' (known: const, rand, mcpc, lin, ortb1, ortb2, rlb, ss_mdp, rlb_cal, rlb_cond, rlb_mix, dual, dual_cal)",
        ),
        ("lin", {}, "lin.b0: missing parameter"),
        ("lin", {"b0": -1}, "lin.b0: must be a finite number > 0, got -1.0"),
        ("lin", {"b0": float("nan")}, "lin.b0: must be a finite number > 0, got nan"),
        ("lin", {"b0": 1, "b1": 2}, "lin.b1: unknown parameter (expected: b0)"),
        ("mcpc", {"b0": 1}, "mcpc.b0: unknown parameter (expected: none)"),
        ("const", {"c": 0}, "const.c: must be a finite number > 0, got 0.0"),
        ("rand", {"upper": -3}, "rand.upper: must be a finite number > 0, got -3.0"),
        ("ortb1", {"c": 1}, "ortb1.lambda: missing parameter"),
        ("ortb2", {"c": 1, "lambda": 0}, "ortb2.lambda: must be a finite number > 0, got 0.0"),
        ("ortb1", {"c": -1, "lambda": 1e-4}, "ortb1.c: must be a finite number > 0, got -1.0"),
    ],
)
def test_build_strategy_invalid_params_raise(
    name: str, params: dict[str, float], message: str
) -> None:
    with pytest.raises(StrategyError) as info:
        build_strategy(name, params, STATS, np.random.default_rng(0))
    assert message in info.value.lines()


def test_build_strategy_lists_every_problem() -> None:
    with pytest.raises(StrategyError) as info:
        build_strategy("lin", {"b0": -1, "x": 2}, STATS)
    assert len(info.value.lines()) == 2


def test_build_strategy_bad_train_stats_raise() -> None:
    with pytest.raises(StrategyError, match=r"train_stats\.clicks: must be > 0"):
        build_strategy("mcpc", {}, TrainStats(impressions=10, clicks=0, cost=5.0))


pctrs = arrays(np.float64, st.integers(2, 50), elements=st.floats(0.0, 1.0))


@pytest.mark.parametrize("name", ["const", "mcpc", "lin", "ortb1", "ortb2"])
@given(pctr=pctrs)
def test_bid_never_drops_as_pctr_rises_and_stays_in_range(name: str, pctr: np.ndarray) -> None:
    strategy = build_strategy(name, PARAMS[name], STATS)
    ordered = np.sort(pctr)
    bids = strategy.bid(ordered, CTX)
    assert np.all(np.diff(bids) >= 0)
    assert bids.min() >= 0.0
    assert bids.max() <= 300.0
    assert np.array_equal(bids, np.floor(bids))


def test_bid_without_whole_units_keeps_fractions() -> None:
    ctx = BidContext(max_bid=1e9, whole_units=False)
    bids = build_strategy("lin", {"b0": 10}, STATS).bid(np.array([0.001]), ctx)
    assert bids[0] == pytest.approx(0.001 * 10 / (1386 / 312437))
