"""Arm observations: validation, aggregation, merging and grouping."""

from __future__ import annotations

import pytest

from optimizer.arms import ArmStats, Observations, aggregate, group_arms, sum_stats


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        ({"spend_micros": -1}, ValueError, "spend_micros must be >= 0, got -1"),
        ({"impressions": -2}, ValueError, "impressions must be >= 0, got -2"),
        ({"clicks": -3}, ValueError, "clicks must be >= 0, got -3"),
        ({"conversions": -4}, ValueError, "conversions must be >= 0, got -4"),
    ],
)
def test_arm_stats_rejects_negative_counts(
    kwargs: dict[str, int], exc: type[Exception], message: str
) -> None:
    with pytest.raises(exc, match=message):
        ArmStats(**kwargs)


def test_aggregate_sums_repeated_arms() -> None:
    obs = aggregate(
        [
            ("c1", "a", ArmStats(100, 10, 1, 0)),
            ("c1", "a", ArmStats(50, 5, 0, 1)),
            ("c2", "b", ArmStats(1, 1, 0, 0)),
        ]
    )
    assert obs.arms("c1")["a"] == ArmStats(150, 15, 1, 1)
    assert obs.campaigns == ("c1", "c2")
    assert obs.total("c1") == ArmStats(150, 15, 1, 1)
    assert obs.arms("missing") == {}


def test_observations_merge_adds_arm_wise_and_is_immutable() -> None:
    a = Observations({"c": {"x": ArmStats(1, 1, 0, 0)}})
    b = Observations({"c": {"x": ArmStats(2, 2, 1, 0), "y": ArmStats(3, 3, 0, 0)}})
    merged = a.merge(b)
    assert merged.arms("c") == {"x": ArmStats(3, 3, 1, 0), "y": ArmStats(3, 3, 0, 0)}
    assert a.arms("c") == {"x": ArmStats(1, 1, 0, 0)}
    with pytest.raises(TypeError):
        merged.campaign_to_arm_to_stats["d"] = {}  # type: ignore[index]


def test_group_arms_sums_by_key() -> None:
    arms = {"e|m|01|cr1": ArmStats(1, 2, 0, 0), "e|m|02|cr1": ArmStats(3, 4, 1, 0)}
    assert group_arms(arms, lambda k: k.rsplit("|", 1)[1]) == {"cr1": ArmStats(4, 6, 1, 0)}
    assert sum_stats([]) == ArmStats()
