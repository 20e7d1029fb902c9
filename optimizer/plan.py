"""Plan: the immutable allocation the bidder reads by reference and the optimiser replaces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, float] = MappingProxyType({})


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Plan:
    """A versioned, immutable plan.

    Readers may hold a reference for the whole of one auction and see a consistent plan;
    writers build a complete new ``Plan`` and swap the reference (never mutate).

    - ``bid_multipliers``: campaign id -> multiplier on the price (default 1.0).
    - ``arm_shares``: campaign id -> {arm key -> budget share} (non-negative, summing to 1
      per campaign). The bidder reads them as participation probabilities relative to the
      arms of the same hour slot, ``min(1, share * n_slot / sum_slot)``; an arm the plan does
      not list is always bought (``bidder/optimizing.py``, ``docs/optimizer.md``).
    - ``creative_weights``: campaign id -> {creative id -> rotation weight}.
    """

    version: int = 0
    bid_multipliers: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    arm_shares: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    creative_weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bid_multipliers", _frozen(self.bid_multipliers))
        object.__setattr__(
            self,
            "arm_shares",
            MappingProxyType({k: _frozen(v) for k, v in self.arm_shares.items()}),
        )
        object.__setattr__(
            self,
            "creative_weights",
            MappingProxyType({k: _frozen(v) for k, v in self.creative_weights.items()}),
        )

    def multiplier(self, campaign_id: str) -> float:
        return self.bid_multipliers.get(campaign_id, 1.0)


EMPTY_PLAN = Plan()
