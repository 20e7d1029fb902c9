"""Arm observations: spend, impressions, clicks and conversions per campaign and arm key.

Arm keys are opaque strings to the optimiser (the bidder builds them, e.g.
``"exchange|media|HH|creative"``); grouping arms (by creative, by slot) takes a key function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Counts for one arm over some window; money in integer micros.

    Clicks may exceed impressions transiently (notices arrive out of order), so only
    non-negativity is checked.
    """

    spend_micros: int = 0
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0

    def __post_init__(self) -> None:
        for name in ("spend_micros", "impressions", "clicks", "conversions"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")

    def __add__(self, other: ArmStats) -> ArmStats:
        return ArmStats(
            self.spend_micros + other.spend_micros,
            self.impressions + other.impressions,
            self.clicks + other.clicks,
            self.conversions + other.conversions,
        )


ZERO = ArmStats()


def _freeze(
    campaign_to_arm_to_stats: Mapping[str, Mapping[str, ArmStats]],
) -> Mapping[str, Mapping[str, ArmStats]]:
    return MappingProxyType(
        {c: MappingProxyType(dict(arms)) for c, arms in campaign_to_arm_to_stats.items()}
    )


@dataclass(frozen=True, slots=True)
class Observations:
    """Immutable ``campaign id -> arm key -> ArmStats``.

    An arm present with zero counts is a known arm without evidence yet: the optimiser
    allocates to it (exploration) rather than ignoring it.
    """

    campaign_to_arm_to_stats: Mapping[str, Mapping[str, ArmStats]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "campaign_to_arm_to_stats", _freeze(self.campaign_to_arm_to_stats))

    @property
    def campaigns(self) -> tuple[str, ...]:
        return tuple(sorted(self.campaign_to_arm_to_stats))

    def arms(self, campaign_id: str) -> Mapping[str, ArmStats]:
        """The arms of one campaign (empty when unknown)."""
        return self.campaign_to_arm_to_stats.get(campaign_id, MappingProxyType({}))

    def total(self, campaign_id: str) -> ArmStats:
        """Sum over the arms of one campaign."""
        return sum_stats(self.arms(campaign_id).values())

    def merge(self, other: Observations) -> Observations:
        """Arm-wise sum of two windows (e.g. the running total and a new tick)."""
        out: dict[str, dict[str, ArmStats]] = {
            c: dict(arms) for c, arms in self.campaign_to_arm_to_stats.items()
        }
        for campaign, arms in other.campaign_to_arm_to_stats.items():
            mine = out.setdefault(campaign, {})
            for arm, stats in arms.items():
                mine[arm] = mine.get(arm, ZERO) + stats
        return Observations(out)


def sum_stats(stats: Iterable[ArmStats]) -> ArmStats:
    """Sum of many ``ArmStats`` (``ZERO`` for none)."""
    total = ZERO
    for s in stats:
        total = total + s
    return total


def aggregate(events: Iterable[tuple[str, str, ArmStats]]) -> Observations:
    """Build ``Observations`` from ``(campaign id, arm key, stats)`` rows, summing repeats."""
    out: dict[str, dict[str, ArmStats]] = {}
    for campaign, arm, stats in events:
        arms = out.setdefault(campaign, {})
        arms[arm] = arms.get(arm, ZERO) + stats
    return Observations(out)


def group_arms(
    arm_to_stats: Mapping[str, ArmStats], key_of: Callable[[str], str]
) -> dict[str, ArmStats]:
    """Sum arms that share ``key_of(arm)`` (e.g. the creative part of the arm key)."""
    out: dict[str, ArmStats] = {}
    for arm, stats in arm_to_stats.items():
        group = key_of(arm)
        out[group] = out.get(group, ZERO) + stats
    return out
