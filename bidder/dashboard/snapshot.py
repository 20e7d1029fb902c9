"""The dashboard's JSON: per-campaign delivery against budget and pacing, breakdowns, plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bidder.config.model import Campaign, PacingMode
from bidder.pacer import day_fraction
from bidder.runtime import Runtime
from bidder.stats import CampaignStats, Counts, Stats


def planned_today_micros(campaign: Campaign, now: dt.datetime) -> int:
    """Spend the pacing plan expects by ``now`` (local time): the pacer's own plan (even
    over the active hours, or along ``pacing_curve``); the whole day's budget when ASAP."""
    daily = campaign.budget.daily_micros
    if campaign.pacing is PacingMode.ASAP:
        return daily
    return round(daily * day_fraction(campaign, now))


def _campaign_row(runtime: Runtime, campaign: Campaign, stats: CampaignStats | None,
                  now_s: float) -> dict[str, Any]:  # fmt: skip
    spend = runtime.ledger.campaign_spend(campaign.id, now_s)
    counts = stats.total if stats else Counts()
    users = len(stats.users) if stats else 0
    local = dt.datetime.fromtimestamp(now_s, runtime.setup.tz)
    return {
        "id": campaign.id,
        "name": campaign.name or campaign.id,
        "enabled": campaign.enabled,
        "budget_total_micros": campaign.budget.total_micros,
        "budget_daily_micros": campaign.budget.daily_micros,
        "spend_total_micros": spend.total_micros,
        "spend_today_micros": spend.today_micros,
        "remaining_today_micros": spend.remaining_today_micros,
        "planned_today_micros": planned_today_micros(campaign, local),
        "pacing_mode": campaign.pacing.value,
        "pacing_multiplier": runtime.pacer.multiplier(campaign.id),
        "plan_multiplier": runtime.plan.multiplier(campaign.id),
        **counts.as_dict(),
        "unique_users": users,
        "cost_per_unique_micros": spend.total_micros / users if users else None,
    }


def _breakdown(stats: Stats, attr: str) -> list[dict[str, Any]]:
    rows = []
    for campaign_id, c in sorted(stats.campaigns.items()):
        cells: dict[Any, Counts] = getattr(c, attr)
        for key, counts in sorted(cells.items(), key=lambda kv: str(kv[0])):
            rows.append({"campaign": campaign_id, "key": key, **counts.as_dict()})
    return rows


def _hourly(stats: Stats) -> dict[str, list[int]]:
    series = {"hour": list(range(24)), "bids": [0] * 24, "impressions": [0] * 24,
              "clicks": [0] * 24, "spend_micros": [0] * 24}  # fmt: skip
    for c in stats.campaigns.values():
        for hour, counts in c.by_hour.items():
            series["bids"][hour] += counts.bids
            series["impressions"][hour] += counts.impressions
            series["clicks"][hour] += counts.clicks
            series["spend_micros"][hour] += counts.spend_micros
    return series


def build_snapshot(runtime: Runtime, stats: Stats) -> dict[str, Any]:
    """Everything ``/dashboard/api`` answers; money in integer micros, rates as fractions."""
    now_s = runtime.clock()
    config = runtime.config
    plan = runtime.plan
    campaigns = [
        _campaign_row(runtime, c, stats.campaigns.get(c.id), now_s) for c in config.campaigns
    ]
    impressions = sum(r["impressions"] for r in campaigns)
    clicks = sum(r["clicks"] for r in campaigns)
    pctr_sum = sum(c.total.impression_pctr_sum for c in stats.campaigns.values())
    return {
        "now": now_s,
        "currency": config.currency,
        "config_version": config.version,
        "model_version": runtime.auction.scorer.version,
        "decisions": stats.decisions,
        "campaigns": campaigns,
        "breakdowns": {
            "media": _breakdown(stats, "by_media"),
            "hour": _breakdown(stats, "by_hour"),
            "creative": _breakdown(stats, "by_creative"),
        },
        "hourly": _hourly(stats),
        "plan": {
            "version": plan.version,
            "bid_multipliers": dict(plan.bid_multipliers),
            "arm_shares": {k: dict(v) for k, v in plan.arm_shares.items()},
            "creative_weights": {k: dict(v) for k, v in plan.creative_weights.items()},
        },
        "calibration": {
            "impressions": impressions,
            "clicks": clicks,
            "observed_ctr": clicks / impressions if impressions else None,
            "predicted_ctr": pctr_sum / impressions if impressions else None,
        },
    }
