"""One optimiser tick: observations -> policy draws -> shares -> a new immutable Plan and its log."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer.allocator import Allocation, AllocationSpec, allocate
from optimizer.arms import ZERO, ArmStats, Observations, group_arms
from optimizer.plan import Plan
from optimizer.policies import PolicySpec, ThompsonSpec, build_policy, spec_as_dict


@dataclass(frozen=True, slots=True)
class OptimizerSpec:
    """The policy and the share constraints for arms and for creative rotation."""

    policy: PolicySpec = field(default_factory=ThompsonSpec)
    arms: AllocationSpec = field(default_factory=AllocationSpec)
    creatives: AllocationSpec = field(default_factory=AllocationSpec)


@dataclass(frozen=True, slots=True)
class PlanLog:
    """What a step decided, for off-policy evaluation: one JSON line per plan version.

    ``campaign_to_arm_to_share`` is the logging propensity of the plan (the budget share
    an arm received); ``campaign_to_arm_to_probability`` the policy's probability that the
    arm is the best.
    """

    version: int
    now_s: float
    policy: Mapping[str, Any]
    campaign_to_arm_to_share: Mapping[str, Mapping[str, float]]
    campaign_to_arm_to_probability: Mapping[str, Mapping[str, float]]
    campaign_to_creative_to_weight: Mapping[str, Mapping[str, float]]
    campaign_to_spend_fraction: Mapping[str, float]

    def render_json_line(self) -> str:
        """One line of JSON (sorted keys, no newline inside)."""
        record = {
            "version": self.version,
            "now_s": self.now_s,
            "policy": dict(self.policy),
            "campaign_to_arm_to_share": _plain(self.campaign_to_arm_to_share),
            "campaign_to_arm_to_probability": _plain(self.campaign_to_arm_to_probability),
            "campaign_to_creative_to_weight": _plain(self.campaign_to_creative_to_weight),
            "campaign_to_spend_fraction": dict(self.campaign_to_spend_fraction),
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse_json_line(cls, line: str) -> PlanLog:
        """Inverse of :meth:`render_json_line`; raises ``ValueError`` on a malformed line."""
        try:
            raw = json.loads(line)
            return cls(
                version=int(raw["version"]),
                now_s=float(raw["now_s"]),
                policy=raw["policy"],
                campaign_to_arm_to_share=raw["campaign_to_arm_to_share"],
                campaign_to_arm_to_probability=raw["campaign_to_arm_to_probability"],
                campaign_to_creative_to_weight=raw["campaign_to_creative_to_weight"],
                campaign_to_spend_fraction=raw["campaign_to_spend_fraction"],
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed plan log line: {exc!r}") from exc


def _plain(nested: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    return {k: dict(v) for k, v in nested.items()}


@dataclass(frozen=True, slots=True)
class StepResult:
    plan: Plan
    log: PlanLog


def _allocate_one(
    arm_to_stats: Mapping[str, ArmStats],
    spec: OptimizerSpec,
    alloc_spec: AllocationSpec,
    prev: Mapping[str, float] | None,
    arm_to_min: Mapping[str, float] | None,
    arm_to_max: Mapping[str, float] | None,
    rng: np.random.Generator,
) -> Allocation:
    policy = build_policy(spec.policy)
    policy.update(arm_to_stats)
    selection = policy.select(alloc_spec.n_samples, rng)
    return allocate(selection, alloc_spec, rng, prev, arm_to_min, arm_to_max)


def step(
    plan: Plan,
    observations: Observations,
    now_s: float,
    spec: OptimizerSpec,
    rng: np.random.Generator,
    *,
    campaign_to_multiplier: Mapping[str, float] | None = None,
    creative_of: Callable[[str], str] | None = None,
    campaign_to_arm_to_min: Mapping[str, Mapping[str, float]] | None = None,
    campaign_to_arm_to_max: Mapping[str, Mapping[str, float]] | None = None,
) -> StepResult:
    """The next plan; pure (no clock, no I/O, randomness only from ``rng``).

    Callers guarantee ``observations`` is the evidence window the policy should see (e.g.
    cumulative since the campaign started, or a sliding window) and lists every arm that
    may be bought, with zero stats for arms without evidence. Arms of ``plan`` missing from
    ``observations`` are kept with zero stats. ``campaign_to_multiplier`` comes from the
    pacing controller (``None`` keeps the plan's); ``creative_of`` maps an arm key to its
    creative id (``None`` keeps the plan's creative weights);
    ``campaign_to_arm_to_min`` / ``campaign_to_arm_to_max`` add per-arm minimum shares and
    caps (e.g. supply limits) on top of ``spec.arms``.

    Returns the plan with ``version + 1`` and the :class:`PlanLog` of this step.
    Raises ``ValueError`` when a campaign's caps admit no allocation.
    """
    campaigns = sorted(set(observations.campaigns) | set(plan.arm_shares))
    seeds = rng.integers(0, 2**63 - 1, size=len(campaigns))
    shares: dict[str, dict[str, float]] = {}
    probabilities: dict[str, dict[str, float]] = {}
    weights: dict[str, dict[str, float]] = {c: dict(w) for c, w in plan.creative_weights.items()}
    spend_fraction: dict[str, float] = {}
    for campaign, seed in zip(campaigns, seeds, strict=True):
        campaign_rng = np.random.default_rng(int(seed))
        prev = plan.arm_shares.get(campaign)
        arm_to_stats = {a: ZERO for a in prev or {}} | dict(observations.arms(campaign))
        if not arm_to_stats:
            continue
        arm_mins = (campaign_to_arm_to_min or {}).get(campaign)
        arm_caps = (campaign_to_arm_to_max or {}).get(campaign)
        out = _allocate_one(arm_to_stats, spec, spec.arms, prev, arm_mins, arm_caps, campaign_rng)
        shares[campaign] = dict(out.arm_to_share)
        probabilities[campaign] = dict(out.arm_to_probability)
        spend_fraction[campaign] = out.spend_fraction
        if creative_of is not None:
            by_creative = group_arms(arm_to_stats, creative_of)
            prev_weights = plan.creative_weights.get(campaign)
            rotation = _allocate_one(
                by_creative, spec, spec.creatives, prev_weights, None, None, campaign_rng
            )
            weights[campaign] = dict(rotation.arm_to_share)
    multipliers = (
        dict(campaign_to_multiplier)
        if campaign_to_multiplier is not None
        else dict(plan.bid_multipliers)
    )
    new_plan = Plan(plan.version + 1, multipliers, shares, weights)
    log = PlanLog(
        version=new_plan.version,
        now_s=now_s,
        policy=spec_as_dict(spec.policy) | {"kind": type(spec.policy).__name__},
        campaign_to_arm_to_share=shares,
        campaign_to_arm_to_probability=probabilities,
        campaign_to_creative_to_weight=weights,
        campaign_to_spend_fraction=spend_fraction,
    )
    return StepResult(new_plan, log)
