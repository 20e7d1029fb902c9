"""Bandit policies: spec validation, learning the best arm, state round-trips."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.arms import ArmStats
from optimizer.policies import (
    EpsilonGreedySpec,
    Objective,
    PolicySpec,
    ThompsonSpec,
    UCBSpec,
    UCBVariant,
    UniformSpec,
    build_policy,
    from_state,
)

SPECS: list[PolicySpec] = [
    ThompsonSpec(),
    ThompsonSpec(objective=Objective.CONVERSIONS, discount=0.9),
    UCBSpec(),
    UCBSpec(variant=UCBVariant.UCB1),
    EpsilonGreedySpec(epsilon=0.2),
    UniformSpec(),
]

# Arm "good": 2% CTR at CPM 1.0; arm "bad": 1% CTR at the same CPM.
EVIDENCE = {
    "good": ArmStats(spend_micros=10_000_000, impressions=10_000, clicks=200, conversions=5),
    "bad": ArmStats(spend_micros=10_000_000, impressions=10_000, clicks=100, conversions=1),
}


@pytest.mark.parametrize(
    ("factory", "exc", "message"),
    [
        (lambda: ThompsonSpec(prior_alpha=0), ValueError, "prior_alpha and prior_beta must be > 0"),
        (lambda: ThompsonSpec(discount=0), ValueError, r"discount must be in \(0, 1\], got 0"),
        (lambda: ThompsonSpec(prior_cpm_micros=0), ValueError, "prior_cpm_micros must be > 0"),
        (lambda: ThompsonSpec(prior_impressions=-1), ValueError, "prior_impressions must be > 0"),
        (lambda: UCBSpec(exploration=-1), ValueError, "exploration and c must be >= 0"),
        (lambda: EpsilonGreedySpec(epsilon=1.5), ValueError, r"epsilon must be in \[0, 1\]"),
        (lambda: UniformSpec(discount=2), ValueError, r"discount must be in \(0, 1\]"),
        (lambda: build_policy("thompson"), TypeError, "unknown policy spec str"),  # type: ignore[arg-type]
        (lambda: from_state({"kind": "nope"}), ValueError, "malformed policy state"),
        (
            lambda: from_state(
                {"kind": "uniform", "spec": {}, "arms": ["a", "a"], "counts": [[0] * 4] * 2}
            ),
            ValueError,
            "duplicate arms",
        ),
    ],
)
def test_policy_rejects_invalid_input(factory: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        factory()


@pytest.mark.parametrize("spec", SPECS[:5], ids=lambda s: type(s).__name__)
def test_policy_prefers_the_arm_with_more_clicks_per_spend(spec: PolicySpec) -> None:
    policy = build_policy(spec)
    policy.update(EVIDENCE)
    selection = policy.select(2000, np.random.default_rng(0))
    assert selection.values.shape == (2000, 2)
    best = dict(zip(selection.arms, selection.probability_best(), strict=True))
    assert best["good"] > 0.8


def test_uniform_policy_is_even() -> None:
    policy = build_policy(UniformSpec())
    policy.update(EVIDENCE)
    best = policy.select(20_000, np.random.default_rng(0)).probability_best()
    np.testing.assert_allclose(best, [0.5, 0.5], atol=0.02)


def test_policy_select_rejects_nonpositive_n() -> None:
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        build_policy(ThompsonSpec()).select(0, np.random.default_rng(0))


def test_policy_unseen_arm_is_explored() -> None:
    policy = build_policy(UCBSpec())
    policy.update({**EVIDENCE, "new": ArmStats()})
    best = dict(
        zip(policy.arms, policy.select(1, np.random.default_rng(0)).probability_best(), strict=True)
    )
    assert best["new"] == 1.0


def test_policy_discount_forgets_old_evidence() -> None:
    policy = build_policy(ThompsonSpec(discount=0.5))
    policy.update(EVIDENCE)
    policy.update({})
    assert policy.to_state()["counts"][0][1] == 5_000


stats = st.builds(
    ArmStats,
    st.integers(0, 10**9),
    st.integers(0, 10**6),
    st.integers(0, 10**4),
    st.integers(0, 10**3),
)


@given(
    spec_index=st.integers(0, len(SPECS) - 1),
    updates=st.lists(
        st.dictionaries(st.text(min_size=1, max_size=8), stats, max_size=5), max_size=3
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_policy_state_round_trips_through_json(
    spec_index: int, updates: list[dict[str, ArmStats]], seed: int
) -> None:
    policy = build_policy(SPECS[spec_index])
    for update in updates:
        policy.update(update)
    state = json.loads(json.dumps(policy.to_state()))
    restored = from_state(state)
    assert restored.to_state() == policy.to_state()
    if policy.arms:
        a = policy.select(3, np.random.default_rng(seed)).values
        b = restored.select(3, np.random.default_rng(seed)).values
        np.testing.assert_array_equal(a, b)
