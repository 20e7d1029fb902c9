"""Allocator: exact projection properties, constraints, and Thompson vs uniform on a market."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from optimizer.allocator import AllocationSpec, allocate, project, target_shares
from optimizer.arms import ArmStats
from optimizer.policies import Selection, ThompsonSpec, UniformSpec, build_policy

TOL = 1e-9


@pytest.mark.parametrize(
    ("factory", "exc", "message"),
    [
        (lambda: AllocationSpec(floor=-0.1), ValueError, r"floor must be in \[0, 1\]"),
        (lambda: AllocationSpec(max_share=0), ValueError, r"max_share must be in \(0, 1\]"),
        (
            lambda: AllocationSpec(floor=0.5, max_share=0.4),
            ValueError,
            "floor must be <= max_share",
        ),
        (lambda: AllocationSpec(max_move=0), ValueError, r"max_move must be in \(0, 1\]"),
        (lambda: AllocationSpec(n_samples=0), ValueError, "n_samples must be >= 1"),
        (lambda: AllocationSpec(target_cpc_micros=0), ValueError, "target_cpc_micros must be > 0"),
        (
            lambda: project(np.ones(2), np.ones(2), np.ones(2)),
            ValueError,
            r"infeasible: need sum\(lower\) <= 1 <= sum\(upper\)",
        ),
        (
            lambda: project(np.ones(2), np.array([0.6, 0.0]), np.array([0.5, 1.0])),
            ValueError,
            "lower must be <= upper",
        ),
        (lambda: project(np.ones(2), np.zeros(3), np.ones(3)), ValueError, "1-d arrays of one"),
        (
            lambda: allocate(
                Selection(("a", "b"), np.ones((1, 2))),
                AllocationSpec(),
                np.random.default_rng(0),
                arm_to_max={"a": 0.2, "b": 0.2},
            ),
            ValueError,
            "per-arm caps sum to 0.4 < 1",
        ),
    ],
)
def test_allocator_rejects_invalid_input(factory: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        factory()


@given(
    data=st.lists(
        st.tuples(st.floats(-2, 2), st.floats(0, 0.3), st.floats(0, 1)), min_size=1, max_size=30
    )
)
def test_project_is_feasible_and_optimal(data: list[tuple[float, float, float]]) -> None:
    t = np.array([d[0] for d in data])
    lo = np.array([d[1] for d in data])
    up = np.maximum(lo, np.array([d[2] for d in data]))
    assume(lo.sum() <= 1 <= up.sum())
    s = project(t, lo, up)
    assert abs(s.sum() - 1) < TOL
    assert (s >= lo - TOL).all() and (s <= up + TOL).all()
    # KKT: coordinates strictly inside their bounds share one multiplier t - s.
    free = (s > lo + 1e-7) & (s < up - 1e-7)
    if free.sum() > 1:
        gaps = (t - s)[free]
        assert np.ptp(gaps) < 1e-7


def test_project_keeps_a_feasible_point() -> None:
    t = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(project(t, np.zeros(3), np.ones(3)), t)


def test_target_shares_is_probability_of_best_without_caps() -> None:
    values = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5], [2.0, 1.0]])
    shares = target_shares(values, np.ones(2), np.random.default_rng(0))
    np.testing.assert_allclose(shares, [0.75, 0.25])


def test_target_shares_fills_best_arms_up_to_caps() -> None:
    values = np.array([[3.0, 2.0, 1.0]])
    shares = target_shares(values, np.array([0.5, 0.3, 1.0]), np.random.default_rng(0))
    np.testing.assert_allclose(shares, [0.5, 0.3, 0.2])


arm_counts = st.lists(
    st.tuples(st.integers(0, 5000), st.integers(0, 200), st.floats(0.0, 1.0)),
    min_size=1,
    max_size=12,
)


@given(
    arms=arm_counts,
    floor=st.floats(0, 0.2),
    max_share=st.floats(0.3, 1),
    max_move=st.floats(0.01, 1),
    seed=st.integers(0, 2**16),
)
def test_allocate_shares_respect_floors_caps_and_moves(
    arms: list[tuple[int, int, float]], floor: float, max_share: float, max_move: float, seed: int
) -> None:
    names = [f"arm{i}" for i in range(len(arms))]
    assume(max_share * len(names) >= 1)
    spec = AllocationSpec(
        floor=min(floor, max_share), max_share=max_share, max_move=max_move, n_samples=64
    )
    policy = build_policy(ThompsonSpec())
    policy.update(
        {
            n: ArmStats(imps * 1000, imps, min(c, imps))
            for n, (imps, c, _) in zip(names, arms, strict=True)
        }
    )
    raw = np.array([p for *_, p in arms]) + 1e-3
    prev = dict(zip(names, (raw / raw.sum()).tolist(), strict=True))
    rng = np.random.default_rng(seed)
    out = allocate(policy.select(spec.n_samples, rng), spec, rng, prev=prev)
    shares = np.array([out.arm_to_share[n] for n in policy.arms])
    floor_eff = min(spec.floor, 1 / len(names))
    assert abs(shares.sum() - 1) < TOL
    assert (shares >= floor_eff - TOL).all()
    assert (shares <= max_share + TOL).all()
    if out.move_limited:
        before = np.array([prev[n] for n in policy.arms])
        assert (np.abs(shares - before) <= max_move + TOL).all()


def test_allocate_move_limit_holds_when_feasible() -> None:
    selection = Selection(("a", "b"), np.array([[1.0, 0.0]] * 10))
    out = allocate(
        selection, AllocationSpec(max_move=0.1), np.random.default_rng(0), prev={"a": 0.5, "b": 0.5}
    )
    assert out.move_limited
    assert out.arm_to_share == pytest.approx({"a": 0.6, "b": 0.4})
    assert out.arm_to_probability == {"a": 1.0, "b": 0.0}


def test_allocate_spend_fraction_under_target_cpc() -> None:
    # value = clicks per currency unit; a CPC target of 0.5 units needs value >= 2.
    selection = Selection(("a", "b"), np.array([[3.0, 1.0], [3.0, 1.0]]))
    out = allocate(
        selection,
        AllocationSpec(floor=0.2, target_cpc_micros=500_000),
        np.random.default_rng(0),
    )
    assert out.spend_fraction == pytest.approx(0.8)


def _market_clicks(spec: Any, seed: int, steps: int = 60) -> tuple[int, int]:
    """Tiny Bernoulli market: arm a costs cpm_a per 1000 impressions and clicks with ctr_a.

    Each step spends the same budget split by the allocation; returns (clicks, spend).
    """
    rng = np.random.default_rng(seed)
    ctr = np.array([0.002, 0.004, 0.006, 0.01, 0.003])
    cpm_micros = np.array([1_000_000, 1_500_000, 1_200_000, 2_000_000, 800_000])
    names = tuple(f"arm{i}" for i in range(len(ctr)))
    budget_micros = 20_000_000
    policy = build_policy(spec)
    policy.update({n: ArmStats() for n in names})
    alloc_spec = AllocationSpec(floor=0.01, n_samples=256)
    clicks = spend = 0
    for _ in range(steps):
        out = allocate(policy.select(alloc_spec.n_samples, rng), alloc_spec, rng)
        shares = np.array([out.arm_to_share[n] for n in names])
        arm_spend = np.floor(shares * budget_micros).astype(np.int64)
        imps = (arm_spend * 1000 // cpm_micros).astype(np.int64)
        arm_clicks = rng.binomial(imps, ctr)
        policy.update(
            {
                n: ArmStats(int(s), int(i), int(c))
                for n, s, i, c in zip(names, arm_spend, imps, arm_clicks, strict=True)
            }
        )
        clicks += int(arm_clicks.sum())
        spend += int(arm_spend.sum())
    return clicks, spend


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_thompson_allocation_beats_uniform_at_equal_spend(seed: int) -> None:
    ts_clicks, ts_spend = _market_clicks(ThompsonSpec(), seed)
    uni_clicks, uni_spend = _market_clicks(UniformSpec(), seed)
    assert abs(ts_spend - uni_spend) <= 5 * 60  # rounding of micros only
    assert ts_clicks > 1.2 * uni_clicks
