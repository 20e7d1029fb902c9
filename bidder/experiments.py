"""A/B tests of a campaign's config: variant assignment and overrides in decide, lift reports.

Users are split by their hashed id (``optimizer.abtest.assign_variant`` with the
experiment's salt); requests without a user id always get the control variant. The variant
of a bid is recorded as a suffix ``@<variant>`` of its arm key, so the notice path (ledger,
ArmBook) counts delivery per variant without new fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from bidder.armstats import ArmCounts
from bidder.config.model import AbVariant, BidStrategyKind, Campaign, Experiment
from optimizer.abtest import ExperimentSpec, LiftReport, VariantStats, assign_variant, lift_report

VARIANT_SEP = "@"

_SPEC_CACHE: dict[int, tuple[Experiment, ExperimentSpec]] = {}
_CAMPAIGN_CACHE: dict[tuple[int, str], tuple[Campaign, Campaign]] = {}


def _spec(experiment: Experiment) -> ExperimentSpec:
    held = _SPEC_CACHE.get(id(experiment))
    if held is not None and held[0] is experiment:
        return held[1]
    spec = ExperimentSpec(experiment.salt, {v.name: v.weight for v in experiment.variants})
    _SPEC_CACHE[id(experiment)] = (experiment, spec)
    return spec


def variant_for(campaign: Campaign, user_hash: str | None) -> AbVariant | None:
    """The user's variant of the campaign's experiment (control without a user id)."""
    experiment = campaign.optimizer.experiment
    if experiment is None:
        return None
    if user_hash is None:
        return experiment.variant(experiment.control)
    return experiment.variant(assign_variant(user_hash, _spec(experiment)))


def variant_campaign(campaign: Campaign, variant: AbVariant) -> Campaign:
    """The campaign with the variant's strategy amount (cached per campaign object)."""
    if variant.strategy_value_micros is None:
        return campaign
    key = (id(campaign), variant.name)
    held = _CAMPAIGN_CACHE.get(key)
    if held is not None and held[0] is campaign:
        return held[1]
    amount = variant.strategy_value_micros
    strategy = campaign.strategy
    kind = strategy.kind
    if kind is BidStrategyKind.FIXED_CPM:  # strategy_value is a CPM: micros per impression
        strategy = dataclasses.replace(strategy, fixed_cpm_micros=amount // 1000)
    elif kind is BidStrategyKind.VALUE_PER_CLICK:
        strategy = dataclasses.replace(strategy, value_per_click_micros=amount)
    elif kind is BidStrategyKind.TARGET_CPC:
        strategy = dataclasses.replace(strategy, target_cpc_micros=amount)
    else:
        strategy = dataclasses.replace(strategy, target_cpa_micros=amount)
    out = dataclasses.replace(campaign, strategy=strategy)
    _CAMPAIGN_CACHE[key] = (campaign, out)
    return out


def with_variant(arm: str, variant: AbVariant | None) -> str:
    return arm if variant is None else f"{arm}{VARIANT_SEP}{variant.name}"


def split_variant(arm: str) -> tuple[str, str | None]:
    """``"adx1|site:a|09|cr-1@B"`` -> ``("adx1|site:a|09|cr-1", "B")``."""
    base, sep, variant = arm.rpartition(VARIANT_SEP)
    return (base, variant) if sep else (arm, None)


def variant_totals(arm_to_counts: Mapping[str, ArmCounts]) -> dict[str, VariantStats]:
    """Delivery of one campaign summed per variant (arms without a variant are skipped)."""
    sums: dict[str, list[int]] = {}
    for arm, c in arm_to_counts.items():
        _, variant = split_variant(arm)
        if variant is None:
            continue
        row = sums.setdefault(variant, [0, 0, 0, 0])
        row[0] += c.impressions
        row[1] += c.clicks
        row[2] += c.conversions
        row[3] += c.spend_micros
    out: dict[str, VariantStats] = {}
    for name, (imps, raw_clicks, convs, spend) in sums.items():
        clicks = min(raw_clicks, imps)  # out-of-order notices: clicks may lead impressions
        out[name] = VariantStats(imps, clicks, min(convs, clicks), spend)
    return out


def _lift_dict(report: LiftReport) -> dict[str, Any]:
    return {
        name: {k: _finite(v) for k, v in dataclasses.asdict(metric).items() if k != "metric"}
        for name, metric in (
            ("ctr", report.ctr),
            ("cpc_micros", report.cpc_micros),
            ("conversion_rate", report.conversion_rate),
        )
    }


def _finite(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None  # NaN: JSON has no NaN
    return value


def abtest_report(
    campaigns: tuple[Campaign, ...], arms: Mapping[str, Mapping[str, ArmCounts]]
) -> dict[str, Any]:
    """Per campaign with an experiment: delivery per variant and each treatment's lift."""
    out: dict[str, Any] = {}
    for campaign in campaigns:
        experiment = campaign.optimizer.experiment
        if experiment is None:
            continue
        totals = variant_totals(arms.get(campaign.id, {}))
        zero = VariantStats(0, 0, 0, 0)
        control = totals.get(experiment.control, zero)
        out[campaign.id] = {
            "salt": experiment.salt,
            "control": experiment.control,
            "variants": {
                v.name: dataclasses.asdict(totals.get(v.name, zero)) for v in experiment.variants
            },
            "lift": {
                v.name: _lift_dict(lift_report(control, totals.get(v.name, zero)))
                for v in experiment.variants
                if v.name != experiment.control
            },
        }
    return out
