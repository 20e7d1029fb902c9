"""OptimizerService: delivery counts -> optimizer.step -> a new Plan swapped into the Runtime.

The server runs it every ``optimizer.step_interval`` in the background; the simulator calls
:meth:`OptimizerService.run_due` on its simulated clock. Both drive the same pure
``optimizer.step`` with a numpy ``Generator`` seeded from the config, so replays are
deterministic.

**Arms.** ``decide`` keys delivery by the full arm ``exchange|media|HH|creative`` (plus
``@variant`` in an A/B test). The optimiser sees arms grouped by the campaign's
``optimizer.grouping`` (:func:`group_arm`), e.g. ``exchange|HH|creative``.

**Shares in decide (participation).** A campaign's plan shares become a *participation
probability* per grouped arm (:func:`participation`): arms are compared with the other arms
of their hour slot (all the campaign's arms when the grouping has no hour), and

    p_a = min(1, share_a * n_g / S_g)

with ``n_g`` the number of arms of the slot in the plan and ``S_g`` their share sum. An arm
at or above the slot's mean share is always bought; one at a fifth of it is bought in a fifth
of its auctions. When the plan's creative weights choose the creative (``creatives: true``
and ``creative`` in the grouping), the creatives of one media and hour are one buying unit:
``share_a`` is the unit's share sum and ``n_g`` counts units, so the auction is bought or
not before rotation picks the creative (throttling a creative rotation already avoids would
only drop impressions and make pacing raise the bids on the rest). Arms the plan does not list yet (never delivered) get ``p = 1``, so
exploration never starves. ``decide`` bids iff ``u < p`` with ``u`` a hash of the auction
and campaign (deterministic per auction, independent of creative rotation). Uniform shares
give ``p = 1`` everywhere: the campaign bids as without a plan. Even pacing then moves the
campaign's bids so spend follows plan, so the budget shifts towards the arms kept.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bidder.armstats import ArmCounts
from bidder.config.model import (
    ArmDimension,
    Campaign,
    OptimizerObjective,
    OptimizerPolicy,
    OptimizerSettings,
)
from bidder.experiments import split_variant
from optimizer.allocator import AllocationSpec
from optimizer.arms import ArmStats, Observations
from optimizer.plan import Plan
from optimizer.policies import (
    EpsilonGreedySpec,
    Objective,
    PolicySpec,
    ThompsonSpec,
    UCBSpec,
    UniformSpec,
)
from optimizer.step import OptimizerSpec, PlanLog, step

if TYPE_CHECKING:
    from bidder.runtime import Runtime

log = logging.getLogger(__name__)

PLANS_FILE = "plans.jsonl"
N_SAMPLES = 256  # policy draws per step: shares to about +-0.03
_PART_INDEX = {
    ArmDimension.EXCHANGE: 0,
    ArmDimension.SITE: 1,
    ArmDimension.HOUR: 2,
    ArmDimension.CREATIVE: 3,
}


def _parts(arm: str) -> tuple[str, str, str, str]:
    """``exchange|media|HH|creative`` split from both ends (a media may hold ``|``)."""
    base, _ = split_variant(arm)
    head, _, rest = base.partition("|")
    media_hour, _, creative = rest.rpartition("|")
    media, _, hour = media_hour.rpartition("|")
    return head, media, hour, creative


@functools.lru_cache(maxsize=1 << 16)
def group_arm(arm: str, grouping: tuple[ArmDimension, ...]) -> str:
    """The optimiser arm of a full arm key: the parts named by ``grouping``, in key order."""
    parts = _parts(arm)
    return "|".join(parts[_PART_INDEX[d]] for d in grouping)


def _slot_of(grouping: tuple[ArmDimension, ...]) -> Callable[[str], str]:
    if ArmDimension.HOUR not in grouping:
        return lambda _arm: ""
    index = grouping.index(ArmDimension.HOUR)
    return lambda arm: arm.split("|")[index]


def participation(
    shares: Mapping[str, float],
    grouping: tuple[ArmDimension, ...],
    *,
    pool_creatives: bool = False,
) -> dict[str, float]:
    """Participation probability per grouped arm (see the module docstring); ``*`` skipped.

    ``pool_creatives``: the creative is chosen by rotation, so the arms of one media and
    hour are one buying unit: their shares are summed, and every creative of the unit gets
    the unit's probability (a grouping of creatives only then buys every auction).
    """
    slot_of = _slot_of(grouping)
    unit_of = _unit_of(grouping) if pool_creatives else (lambda arm: arm)
    unit_share: dict[str, float] = {}
    for arm, share in shares.items():
        if arm != "*":
            unit = unit_of(arm)
            unit_share[unit] = unit_share.get(unit, 0.0) + max(share, 0.0)
    sums: dict[str, list[float]] = {}
    for unit, share in unit_share.items():
        acc = sums.setdefault(slot_of(unit), [0.0, 0.0])
        acc[0] += share
        acc[1] += 1.0
    out: dict[str, float] = {}
    for arm in shares:
        if arm == "*":
            continue
        unit = unit_of(arm)
        total, n = sums[slot_of(unit)]
        out[arm] = 1.0 if total <= 0 else min(1.0, unit_share[unit] * n / total)
    return out


def _unit_of(grouping: tuple[ArmDimension, ...]) -> Callable[[str], str]:
    """The grouped arm with its creative part replaced by ``*`` (same parts, same slots)."""
    if ArmDimension.CREATIVE not in grouping:
        return lambda arm: arm
    index = grouping.index(ArmDimension.CREATIVE)

    def unit(arm: str) -> str:
        parts = arm.split("|")
        parts[index] = "*"
        return "|".join(parts)

    return unit


def rotates_creatives(settings: OptimizerSettings) -> bool:
    """True when the plan's creative weights choose the creative (arms pool creatives)."""
    return settings.creatives and ArmDimension.CREATIVE in settings.grouping


def campaign_participation(shares: Mapping[str, float], campaign: Campaign) -> dict[str, float]:
    """The participation table ``decide`` uses for ``campaign``'s plan shares."""
    settings = campaign.optimizer
    return participation(shares, settings.grouping, pool_creatives=rotates_creatives(settings))


class ParticipationCache:
    """Participation tables of the current plan, built once per plan object and campaign."""

    def __init__(self) -> None:
        self._plan: Plan | None = None
        self._tables: dict[str, dict[str, float] | None] = {}

    def table(self, plan: Plan, campaign: Campaign) -> dict[str, float] | None:
        if plan is not self._plan:
            self._plan, self._tables = plan, {}
        tables = self._tables
        if campaign.id not in tables:
            shares = plan.arm_shares.get(campaign.id)
            tables[campaign.id] = campaign_participation(shares, campaign) if shares else None
        return tables[campaign.id]


def participates(
    table: Mapping[str, float], grouped_arm: str, request_id: str, imp_id: str, campaign_id: str
) -> bool:
    """True in ``p`` of auctions, decided by a hash of the auction (same answer on retries)."""
    p = table.get(grouped_arm, 1.0)
    if p >= 1.0:
        return True
    key = f"p/{request_id}/{imp_id}/{campaign_id}".encode()
    u = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64
    return u < p


def build_policy_spec(settings: OptimizerSettings, campaign: Campaign) -> PolicySpec:
    """The bandit for a campaign: its objective, with a prior at the strategy's prior CTR."""
    objective = (
        Objective.CONVERSIONS
        if settings.objective is OptimizerObjective.CONVERSIONS
        else Objective.CLICKS
    )
    prior_rate = (
        campaign.strategy.prior_ctr * campaign.strategy.prior_cvr
        if objective is Objective.CONVERSIONS
        else campaign.strategy.prior_ctr
    )
    beta = max(1.0 / max(prior_rate, 1e-9) - 1.0, 1.0)
    if settings.policy is OptimizerPolicy.UNIFORM:
        return UniformSpec()
    if settings.policy is OptimizerPolicy.UCB:
        return UCBSpec(objective=objective)
    if settings.policy is OptimizerPolicy.EPSILON_GREEDY:
        return EpsilonGreedySpec(objective=objective, prior_alpha=1.0, prior_beta=beta)
    return ThompsonSpec(objective=objective, prior_alpha=1.0, prior_beta=beta)


def build_optimizer_spec(settings: OptimizerSettings, campaign: Campaign) -> OptimizerSpec:
    target = (
        settings.target_cpc_micros
        if settings.objective is OptimizerObjective.CLICKS_UNDER_TARGET_CPC
        else None
    )
    return OptimizerSpec(
        policy=build_policy_spec(settings, campaign),
        arms=AllocationSpec(
            max_move=settings.max_move, n_samples=N_SAMPLES, target_cpc_micros=target
        ),
        creatives=AllocationSpec(max_move=settings.max_move, n_samples=N_SAMPLES),
    )


def grouped_stats(
    arm_to_counts: Mapping[str, ArmCounts], grouping: tuple[ArmDimension, ...]
) -> dict[str, ArmStats]:
    """Delivery summed per grouped arm (A/B variants pooled)."""
    sums: dict[str, list[int]] = {}
    for arm, c in arm_to_counts.items():
        row = sums.setdefault(group_arm(arm, grouping), [0, 0, 0, 0])
        row[0] += c.spend_micros
        row[1] += c.impressions
        row[2] += c.clicks
        row[3] += c.conversions
    return {arm: ArmStats(*row) for arm, row in sums.items()}


def arm_bounds(
    arms: list[str], settings: OptimizerSettings
) -> tuple[dict[str, float], dict[str, float]]:
    """Per-arm minimum and maximum share: the floor (a fraction of the uniform share) and
    media bounds split evenly among the media's arms (so the media's total meets them).

    Bounds the arms seen so far cannot meet (minimums over 1, caps under 1) are relaxed:
    minimums scale down, caps are dropped.
    """
    k = len(arms)
    floor = settings.floor / k if k else 0.0
    lo = dict.fromkeys(arms, floor)
    hi: dict[str, float] = {}
    for media in settings.media_shares:
        members = [a for a in arms if media.media in a.split("|")]
        for a in members:
            lo[a] = max(lo[a], media.min_share / len(members))
            if media.max_share < 1:
                hi[a] = max(media.max_share / len(members), lo[a])
    low_total = sum(lo.values())
    if low_total > 1:
        lo = {a: v / low_total for a, v in lo.items()}
    if sum(hi.get(a, 1.0) for a in arms) < 1:
        hi = {}
    return lo, hi


@dataclass
class CampaignStep:
    shares: dict[str, float]
    probabilities: dict[str, float]
    weights: dict[str, float] | None
    spend_fraction: float


class OptimizerService:
    """Steps the plan of every campaign whose ``optimizer.enabled`` is true.

    ``sink`` receives each :class:`PlanLog` (the server appends it to ``plans.jsonl``);
    ``logs`` keeps them in memory as well (the simulator's report).
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        seed: int | None = None,
        sink: Callable[[PlanLog], None] | None = None,
        keep_logs: bool = True,
    ) -> None:
        self.runtime = runtime
        base_seed = runtime.config.optimizer.seed if seed is None else seed
        self.rng = np.random.default_rng(base_seed)
        self.sink = sink
        self.keep_logs = keep_logs
        self.logs: list[PlanLog] = []
        self.next_step_s: float | None = None

    def campaigns(self) -> tuple[Campaign, ...]:
        return tuple(c for c in self.runtime.config.campaigns if c.optimizer.enabled)

    def interval_s(self) -> float:
        enabled = self.campaigns()
        return float(min((c.optimizer.step_interval_s for c in enabled), default=300))

    def is_due(self, now_s: float) -> bool:
        """Whether ``run_due(now_s)`` would do anything (arm or step); never changes state."""
        return self.next_step_s is None or now_s >= self.next_step_s

    def run_due(self, now_s: float) -> PlanLog | None:
        """Step when ``now_s`` has reached the next step time (the first call only arms it)."""
        if self.next_step_s is None:
            self.next_step_s = now_s + self.interval_s()
            return None
        if now_s < self.next_step_s:
            return None
        self.next_step_s = now_s + self.interval_s()
        return self.step(now_s)

    def step(self, now_s: float) -> PlanLog | None:
        """One optimiser tick: observe, step every enabled campaign, swap the plan, log."""
        campaigns = self.campaigns()
        if not campaigns:
            return None
        runtime = self.runtime
        plan = runtime.plan
        arms = runtime.notices.arms.snapshot()
        seeds = self.rng.integers(0, 2**63 - 1, size=len(campaigns))
        results: dict[str, CampaignStep] = {}
        for campaign, seed in zip(campaigns, seeds, strict=True):
            out = self._step_campaign(campaign, plan, arms.get(campaign.id, {}), now_s, int(seed))
            if out is not None:
                results[campaign.id] = out
        new_plan, plan_log = _merge(plan, results, now_s, campaigns)
        runtime.set_plan(new_plan)
        if self.keep_logs:
            self.logs.append(plan_log)
        if self.sink is not None:
            self.sink(plan_log)
        return plan_log

    def _step_campaign(
        self,
        campaign: Campaign,
        plan: Plan,
        arm_to_counts: Mapping[str, ArmCounts],
        now_s: float,
        seed: int,
    ) -> CampaignStep | None:
        settings = campaign.optimizer
        stats = grouped_stats(arm_to_counts, settings.grouping)
        prev = plan.arm_shares.get(campaign.id, {})
        arms = sorted(set(stats) | {a for a in prev if a != "*"})
        if not arms:
            return None
        lo, hi = arm_bounds(arms, settings)
        own = Plan(
            plan.version,
            arm_shares={campaign.id: {a: s for a, s in prev.items() if a != "*"}} if prev else {},
            creative_weights=(
                {campaign.id: plan.creative_weights[campaign.id]}
                if campaign.id in plan.creative_weights
                else {}
            ),
        )
        creative_of = None
        if rotates_creatives(settings):
            index = settings.grouping.index(ArmDimension.CREATIVE)
            creative_of = _nth(index)
        result = step(
            own,
            Observations({campaign.id: stats}),
            now_s,
            build_optimizer_spec(settings, campaign),
            np.random.default_rng(seed),
            creative_of=creative_of,
            campaign_to_arm_to_min={campaign.id: lo},
            campaign_to_arm_to_max={campaign.id: hi} if hi else None,
        )
        entry = result.log
        return CampaignStep(
            shares=dict(entry.campaign_to_arm_to_share.get(campaign.id, {})),
            probabilities=dict(entry.campaign_to_arm_to_probability.get(campaign.id, {})),
            weights=(
                dict(entry.campaign_to_creative_to_weight.get(campaign.id, {}))
                if creative_of is not None
                else None
            ),
            spend_fraction=float(entry.campaign_to_spend_fraction.get(campaign.id, 1.0)),
        )


def _nth(index: int) -> Callable[[str], str]:
    return lambda arm: arm.split("|")[index]


def _merge(
    plan: Plan, results: Mapping[str, CampaignStep], now_s: float, campaigns: tuple[Campaign, ...]
) -> tuple[Plan, PlanLog]:
    shares = {c: r.shares for c, r in results.items()}
    weights = {c: dict(w) for c, w in plan.creative_weights.items()}
    for c, r in results.items():
        if r.weights is not None:
            weights[c] = r.weights
        else:
            weights.pop(c, None)  # creatives off: uniform rotation
    new_plan = Plan(plan.version + 1, plan.bid_multipliers, shares, weights)
    policies = {c.id: c.optimizer.policy.value for c in campaigns if c.id in results}
    plan_log = PlanLog(
        version=new_plan.version,
        now_s=now_s,
        policy={"campaign_to_policy": policies},
        campaign_to_arm_to_share=shares,
        campaign_to_arm_to_probability={c: r.probabilities for c, r in results.items()},
        campaign_to_creative_to_weight={c: dict(w) for c, w in weights.items()},
        campaign_to_spend_fraction={c: r.spend_fraction for c, r in results.items()},
    )
    return new_plan, plan_log


def append_plan_log(path: Path) -> Callable[[PlanLog], None]:
    """A sink appending each plan log as one JSON line to ``path``."""

    def sink(entry: PlanLog) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(entry.render_json_line() + "\n")

    return sink


def build_optimizer_service(runtime: Runtime) -> OptimizerService:
    """The server's service: plan logs appended to ``state_dir/plans.jsonl`` when persisting."""
    sink = append_plan_log(runtime.state_dir / PLANS_FILE) if runtime.persist else None
    return OptimizerService(runtime, sink=sink, keep_logs=False)


async def run_optimizer(service: OptimizerService) -> None:
    """Background task of the server: step every ``step_interval`` on the runtime's clock."""
    while True:
        await asyncio.sleep(service.interval_s())
        try:
            service.step(service.runtime.clock())
        except Exception:
            log.exception("optimizer step failed; the old plan keeps serving")
