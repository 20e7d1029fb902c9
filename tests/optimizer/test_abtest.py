"""A/B tests: deterministic salted split, proportions, z-tests and interval coverage."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from optimizer.abtest import (
    ExperimentSpec,
    VariantStats,
    assign_variant,
    bucket,
    lift_report,
    two_proportion,
)

SPEC = ExperimentSpec("exp-1", {"control": 0.5, "treatment": 0.5})


@pytest.mark.parametrize(
    ("factory", "exc", "message"),
    [
        (lambda: ExperimentSpec("", {"a": 1, "b": 1}), ValueError, "salt must be a non-empty"),
        (lambda: ExperimentSpec("s", {"a": 1}), ValueError, "need >= 2 variants, got 1"),
        (lambda: ExperimentSpec("s", {"a": 1, "b": 0}), ValueError, "weights must be > 0"),
        (lambda: VariantStats(-1, 0, 0, 0), ValueError, "impressions must be >= 0, got -1"),
        (lambda: VariantStats(1, 2, 0, 0), ValueError, "clicks must be <= impressions"),
        (lambda: VariantStats(5, 2, 3, 0), ValueError, "conversions must be <= clicks"),
        (
            lambda: lift_report(VariantStats(1, 0, 0, 0), VariantStats(1, 0, 0, 0), level=1.0),
            ValueError,
            r"level must be in \(0, 1\)",
        ),
    ],
)
def test_abtest_rejects_invalid_input(factory: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        factory()


def test_assign_variant_is_deterministic_and_order_free() -> None:
    reordered = ExperimentSpec("exp-1", {"treatment": 0.5, "control": 0.5})
    for i in range(200):
        user = f"user-{i}"
        assert assign_variant(user, SPEC) == assign_variant(user, SPEC)
        assert assign_variant(user, SPEC) == assign_variant(user, reordered)


def test_assign_variant_follows_weights_and_salts_are_independent() -> None:
    spec = ExperimentSpec("exp-2", {"a": 0.2, "b": 0.3, "c": 0.5})
    users = [f"u{i}" for i in range(20_000)]
    counts = {v: 0 for v in "abc"}
    for u in users:
        counts[assign_variant(u, spec)] += 1
    for v, w in spec.variant_to_weight.items():
        assert abs(counts[v] / len(users) - w) < 4 * math.sqrt(w * (1 - w) / len(users))
    other = ExperimentSpec("exp-3", SPEC.variant_to_weight)
    same = sum(assign_variant(u, SPEC) == assign_variant(u, other) for u in users)
    assert abs(same / len(users) - 0.5) < 0.02
    assert 0 <= bucket("x", "y") < 1


def test_two_proportion_matches_hand_computation() -> None:
    out = two_proportion("ctr", 100, 10_000, 130, 10_000)
    pooled = 230 / 20_000
    z = 0.003 / math.sqrt(pooled * (1 - pooled) * 2 / 10_000)
    assert out.difference == pytest.approx(0.003)
    assert out.relative_lift == pytest.approx(0.3)
    assert out.p_value == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(z / math.sqrt(2)))))
    assert out.lower < 0.003 < out.upper


def test_lift_report_flags_clear_differences_only() -> None:
    control = VariantStats(100_000, 1_000, 100, 1_000_000_000)
    better = VariantStats(100_000, 1_300, 160, 1_000_000_000)
    report = lift_report(control, better)
    assert report.ctr.significant and report.ctr.difference > 0
    assert report.cpc_micros.significant and report.cpc_micros.difference < 0
    assert report.conversion_rate.lower < report.conversion_rate.difference
    same = lift_report(control, control)
    assert not same.ctr.significant and not same.cpc_micros.significant
    empty = lift_report(VariantStats(0, 0, 0, 0), control)
    assert math.isnan(empty.ctr.difference) and not empty.cpc_micros.significant


def test_ctr_interval_covers_true_difference_about_95_percent() -> None:
    rng = np.random.default_rng(11)
    n, p_c, p_t, trials = 5_000, 0.02, 0.025, 400
    covered = 0
    for _ in range(trials):
        out = two_proportion("ctr", int(rng.binomial(n, p_c)), n, int(rng.binomial(n, p_t)), n)
        covered += out.lower <= p_t - p_c <= out.upper
    assert 0.91 <= covered / trials <= 0.99
