"""Optimiser step: pure, versioned, deterministic for a seed, and logged as JSON lines."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocator import AllocationSpec
from optimizer.arms import ArmStats, Observations
from optimizer.plan import Plan
from optimizer.step import OptimizerSpec, PlanLog, step

OBS = Observations(
    {
        "c1": {
            "x|site:a|01|cr1": ArmStats(10_000_000, 10_000, 300, 3),
            "x|site:a|01|cr2": ArmStats(10_000_000, 10_000, 50, 0),
            "x|site:b|02|cr1": ArmStats(0, 0, 0, 0),
        }
    }
)
SPEC = OptimizerSpec(arms=AllocationSpec(floor=0.05, max_move=0.3, n_samples=500))


def _creative(arm: str) -> str:
    return arm.rsplit("|", 1)[-1]


def test_step_returns_next_version_with_valid_shares() -> None:
    plan = Plan(version=7, arm_shares={"c2": {"old": 1.0}})
    result = step(
        plan,
        OBS,
        3600.0,
        SPEC,
        np.random.default_rng(0),
        campaign_to_multiplier={"c1": 1.5},
        creative_of=_creative,
    )
    new = result.plan
    assert new.version == 8 and result.log.version == 8
    assert new.multiplier("c1") == 1.5
    shares = new.arm_shares["c1"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert min(shares.values()) >= 0.05 - 1e-12
    assert shares["x|site:a|01|cr1"] > shares["x|site:a|01|cr2"]
    assert new.arm_shares["c2"] == {"old": 1.0}
    assert new.creative_weights["c1"]["cr1"] > new.creative_weights["c1"]["cr2"]
    assert plan.version == 7  # input untouched


def test_step_is_deterministic_for_a_seed() -> None:
    a = step(Plan(), OBS, 0.0, SPEC, np.random.default_rng(42)).log.render_json_line()
    b = step(Plan(), OBS, 0.0, SPEC, np.random.default_rng(42)).log.render_json_line()
    assert a == b


def test_step_moves_at_most_max_move_from_previous_plan() -> None:
    arms = list(OBS.arms("c1"))
    prev = Plan(version=1, arm_shares={"c1": dict.fromkeys(arms, 1 / 3)})
    new = step(prev, OBS, 0.0, SPEC, np.random.default_rng(1)).plan
    for arm in arms:
        assert abs(new.arm_shares["c1"][arm] - 1 / 3) <= 0.3 + 1e-9


def test_plan_log_round_trips_as_json_line() -> None:
    log = step(Plan(), OBS, 12.5, SPEC, np.random.default_rng(0), creative_of=_creative).log
    line = log.render_json_line()
    assert "\n" not in line
    again = PlanLog.parse_json_line(line)
    assert again.render_json_line() == line
    assert again.policy["kind"] == "ThompsonSpec"


@pytest.mark.parametrize(
    ("line", "exc", "message"),
    [
        ("{}", ValueError, "malformed plan log line"),
        ("[]", ValueError, "malformed plan log line"),
    ],
)
def test_plan_log_rejects_malformed_lines(line: str, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        PlanLog.parse_json_line(line)


def test_step_applies_per_arm_minimum_and_cap() -> None:
    arms = list(OBS.arms("c1"))
    result = step(
        Plan(),
        OBS,
        0.0,
        SPEC,
        np.random.default_rng(2),
        campaign_to_arm_to_min={"c1": {arms[1]: 0.3}},
        campaign_to_arm_to_max={"c1": {arms[0]: 0.4}},
    )
    shares = result.plan.arm_shares["c1"]
    assert shares[arms[1]] >= 0.3 - 1e-12
    assert shares[arms[0]] <= 0.4 + 1e-12
    assert sum(shares.values()) == pytest.approx(1.0)
