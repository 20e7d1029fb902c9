"""In-memory delivery counters for the dashboard, fed with every decision and notice.

Counts live per campaign and per (campaign, media | hour | creative). Impressions are
accepted win notices; spend is what notices charged; clicks are verified click notices.
Each open bid's pCTR, media type and creative are remembered so a win or click can be
attributed: the last ``_OPEN_BIDS_KEPT`` bids, oldest dropped, in a table of fixed size
(``bidder/open_bids.py``). Unique users per campaign are a HyperLogLog sketch of 16 KiB
(``bidder/unique_users.py``, 0.81 % standard error). Neither grows with traffic: after the
first bid, the memory of these counters depends only on the number of campaigns, media
types, hours and creatives.
"""

from __future__ import annotations

import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bidder.decision import Decision
from bidder.events import NoticeOutcome
from bidder.notices import NoticeKind
from bidder.open_bids import OpenBids
from bidder.unique_users import UniqueUsers

_IMPRESSION_RESULTS = frozenset({"charged", "recorded"})
_OPEN_BIDS_KEPT = 200_000  # 10.6 MiB, allocated with the first bid (bidder/open_bids.py)


@dataclass(slots=True)
class Counts:
    bids: int = 0
    impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0
    bid_pctr_sum: float = 0.0
    impression_pctr_sum: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "bids": self.bids,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "spend_micros": self.spend_micros,
            "win_rate": _ratio(self.impressions, self.bids),
            "ctr": _ratio(self.clicks, self.impressions),
            "cpc_micros": _ratio(self.spend_micros, self.clicks),
            "cpm": self.spend_micros / self.impressions / 1000.0 if self.impressions else None,
            "pctr_mean_bids": _ratio(self.bid_pctr_sum, self.bids),
            "pctr_mean_impressions": _ratio(self.impression_pctr_sum, self.impressions),
        }


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


@dataclass(slots=True)
class CampaignStats:
    total: Counts = field(default_factory=Counts)
    by_media: dict[str, Counts] = field(default_factory=dict)
    by_hour: dict[int, Counts] = field(default_factory=dict)
    by_creative: dict[str, Counts] = field(default_factory=dict)
    users: UniqueUsers = field(default_factory=UniqueUsers)  # len(): estimated unique users


class Stats:
    """Delivery counters; ``add_decision``/``add_notice`` are O(bids) and never raise on data."""

    def __init__(self, tz: dt.tzinfo | None = None) -> None:
        self.tz = tz or dt.UTC
        self.campaigns: dict[str, CampaignStats] = {}
        self.decisions = 0
        self._open = OpenBids(_OPEN_BIDS_KEPT)

    def _campaign(self, campaign_id: str) -> CampaignStats:
        stats = self.campaigns.get(campaign_id)
        if stats is None:
            stats = self.campaigns[campaign_id] = CampaignStats()
        return stats

    def _hour(self, now_s: float) -> int:
        return dt.datetime.fromtimestamp(now_s, self.tz).hour

    def add_decision(self, decision: Decision, now_s: float) -> None:
        self.decisions += 1
        if not decision.bids:
            return
        hour = self._hour(now_s)
        for bid in decision.bids:
            c = self._campaign(bid.campaign_id)
            cr = bid.creative.id
            for counts in _cells(c, bid.media_type, hour, cr):
                counts.bids += 1
                counts.bid_pctr_sum += bid.pctr
            self._open.put(bid.key, bid.pctr, bid.media_type, cr)

    def add_notice(self, kind: NoticeKind, outcome: NoticeOutcome, now_s: float) -> None:
        facts = outcome.facts
        if facts is None or facts.test:
            return
        if kind is NoticeKind.LOSS:
            self._open.pop(facts.key)
            return
        c = self._campaign(facts.campaign_id)
        open_bid = self._open.get(facts.key)  # (pctr, media, creative)
        media = open_bid[1] if open_bid else "unknown"
        cells = _cells(c, media, self._hour(now_s), facts.creative_id)
        if kind is NoticeKind.CLICK:
            if outcome.result != "click":  # repeats and refusals are not clicks
                return
            for counts in cells:
                counts.clicks += 1
            return
        if outcome.result == "charged" and outcome.price_micros is not None:
            for counts in cells:
                counts.spend_micros += outcome.price_micros
        if kind is NoticeKind.WIN and outcome.result in _IMPRESSION_RESULTS:
            pctr = open_bid[0] if open_bid else 0.0
            for counts in cells:
                counts.impressions += 1
                counts.impression_pctr_sum += pctr
            if facts.user_hash:
                c.users.add(facts.user_hash)


def _cells(c: CampaignStats, media: str, hour: int, creative: str) -> tuple[Counts, ...]:
    return (
        c.total,
        c.by_media.setdefault(media, Counts()),
        c.by_hour.setdefault(hour, Counts()),
        c.by_creative.setdefault(creative, Counts()),
    )


_OWNER_TO_STATS: dict[int, Stats] = {}


def stats_for(owner: object, tz: dt.tzinfo | str | None = None) -> Stats:
    """The ``Stats`` of a runtime (created on first use, dropped with the runtime)."""
    key = id(owner)
    stats = _OWNER_TO_STATS.get(key)
    if stats is None:
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        stats = _OWNER_TO_STATS[key] = Stats(zone)
        weakref.finalize(owner, _OWNER_TO_STATS.pop, key, None)
    return stats
