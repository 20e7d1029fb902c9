"""Campaign numbers from the bid log (decisions + notices) and first-party events.

Joins notices to the decision that made the bid (by bid id) for the bid's creative, media,
user, region and demographics. Impressions are accepted win notices (``charged`` or
``recorded``), spend is what notices charged, clicks are ``click`` notices. A conversion is
a purchase event by a user who saw an impression, after that user's first impression.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bidder.audiences.segments import user_tags
from bidder.config.model import Campaign
from bidder.eventstore import Event, EventKind
from optimizer.abtest import two_proportion

_IMPRESSION_RESULTS = frozenset({"charged", "recorded"})
_MEDIA = ("banner", "video", "native", "audio")


@dataclass(frozen=True, slots=True)
class ReportWindow:
    """Inclusive dates in ``tz``; ``contains`` tests epoch seconds."""

    start: dt.date
    end: dt.date
    tz: dt.tzinfo = dt.UTC

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"--to ({self.end}) is before --from ({self.start})")

    @property
    def start_s(self) -> float:
        return dt.datetime.combine(self.start, dt.time(), self.tz).timestamp()

    @property
    def end_s(self) -> float:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), self.tz).timestamp()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, ts: float) -> bool:
        return self.start_s <= ts < self.end_s


@dataclass(frozen=True, slots=True)
class BidFacts:
    """What the decision record tells about one bid."""

    campaign: str
    creative: str
    media: str
    user: str
    region: str
    gender: str
    age: str
    plan_version: int
    pctr: float


@dataclass(slots=True)
class Cell:
    bids: int = 0
    impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0
    users: set[str] = field(default_factory=set)

    def row(self, key: str) -> dict[str, Any]:
        return {
            "key": key,
            "bids": self.bids,
            "impressions": self.impressions,
            "clicks": self.clicks,
            "spend_micros": self.spend_micros,
            "unique_visitors": len(self.users),
            "ctr": _ratio(self.clicks, self.impressions),
            "cpm": _ratio(self.spend_micros, self.impressions * 1000),
        }


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _media_of(request: Mapping[str, Any], imp_id: str) -> str:
    for imp in request.get("imp") or ():
        if isinstance(imp, dict) and str(imp.get("id")) == imp_id:
            return next((m for m in _MEDIA if m in imp), "unknown")
    return "unknown"


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bid_facts(record: Mapping[str, Any], bid: Mapping[str, Any]) -> BidFacts:
    request = _obj(record.get("request"))
    user = _obj(request.get("user"))
    geo = _obj(_obj(request.get("device")).get("geo"))
    year = dt.datetime.fromtimestamp(float(record.get("ts", 0)), dt.UTC).year
    demo = {
        t.split(":", 2)[1]: t.split(":", 2)[2]
        for t in user_tags(user, year)
        if t.startswith("demo:")
    }
    uid = user.get("id")
    return BidFacts(
        campaign=str(bid.get("campaign")),
        creative=str(bid.get("creative")),
        media=_media_of(request, str(bid.get("imp"))),
        user=uid[2:] if isinstance(uid, str) and uid.startswith("h:") else "",
        region=str(geo.get("region") or "unknown"),
        gender=demo.get("gender", "unknown"),
        age=demo.get("age", "unknown"),
        plan_version=int(record.get("plan_version") or 0),
        pctr=float(bid.get("pctr") or 0.0),
    )


class _Tally:
    """Accumulates the campaign's cells while the log streams by."""

    DIMENSIONS = ("media", "hour", "creative", "region", "gender", "age")

    def __init__(self, campaign_id: str, window: ReportWindow) -> None:
        self.campaign_id = campaign_id
        self.window = window
        self.total = Cell()
        self.by: dict[str, dict[str, Cell]] = {d: defaultdict(Cell) for d in self.DIMENSIONS}
        self.bids: dict[str, BidFacts] = {}
        self.first_seen_s: dict[str, float] = {}
        self.plan_versions: dict[int, list[float]] = {}
        self.pctr_sum = 0.0

    def cells(self, facts: BidFacts, ts: float) -> list[Cell]:
        hour = f"{dt.datetime.fromtimestamp(ts, self.window.tz).hour:02d}"
        keys = {"media": facts.media, "hour": hour, "creative": facts.creative,
                "region": facts.region, "gender": facts.gender, "age": facts.age}  # fmt: skip
        return [self.total, *(self.by[d][keys[d]] for d in self.DIMENSIONS)]

    def decision(self, record: Mapping[str, Any]) -> None:
        ts = float(record.get("ts", 0))
        for bid in record.get("bids") or ():
            if bid.get("campaign") != self.campaign_id:
                continue
            facts = _bid_facts(record, bid)
            self.bids[str(bid.get("id"))] = facts
            if not self.window.contains(ts):
                continue
            seen = self.plan_versions.setdefault(facts.plan_version, [ts, ts])
            seen[0], seen[1] = min(seen[0], ts), max(seen[1], ts)
            for cell in self.cells(facts, ts):
                cell.bids += 1

    def notice(self, record: Mapping[str, Any]) -> None:
        ts = float(record.get("ts", 0))
        facts = self.bids.get(str(record.get("bid")))
        if facts is None or not self.window.contains(ts):
            return
        kind, result = record.get("kind"), record.get("result")
        cells = self.cells(facts, ts)
        if kind == "click" and result == "click":
            for cell in cells:
                cell.clicks += 1
            return
        if result == "charged" and record.get("price_micros") is not None:
            for cell in cells:
                cell.spend_micros += int(record["price_micros"])
        if kind == "win" and result in _IMPRESSION_RESULTS:
            self.pctr_sum += facts.pctr
            for cell in cells:
                cell.impressions += 1
                if facts.user:
                    cell.users.add(facts.user)
            if facts.user:
                self.first_seen_s[facts.user] = min(ts, self.first_seen_s.get(facts.user, ts))


def _conversions(tally: _Tally, events: Iterable[Event], advertiser: str | None) -> dict[str, Any]:
    converters: set[str] = set()
    purchases = 0
    revenue = 0
    visits = 0
    for event in events:
        if advertiser is not None and event.advertiser != advertiser:
            continue
        first = tally.first_seen_s.get(event.user_hash)
        if first is None or event.ts < first or not tally.window.contains(event.ts):
            continue
        if event.kind is EventKind.PURCHASE:
            purchases += 1
            revenue += event.value_micros
            converters.add(event.user_hash)
        elif event.kind is EventKind.VISIT:
            visits += 1
    reached = len(tally.total.users)
    return {
        "post_impression_visits": visits,
        "conversions": purchases,
        "converters": len(converters),
        "revenue_micros": revenue,
        "conversion_rate": _ratio(len(converters), reached),
    }


def _optimiser(tally: _Tally) -> dict[str, Any]:
    versions = [
        {"version": v, "first_s": span[0], "last_s": span[1]}
        for v, span in sorted(tally.plan_versions.items(), key=lambda kv: kv[1][0])
    ]
    creatives = sorted(
        ((k, c) for k, c in tally.by["creative"].items() if c.impressions),
        key=lambda kv: -kv[1].impressions,
    )
    ab = None
    if len(creatives) >= 2:
        (a, ca), (b, cb) = creatives[0], creatives[1]
        lift = two_proportion("ctr", ca.clicks, ca.impressions, cb.clicks, cb.impressions)
        ab = {"test": "creative CTR, two-proportion z-test", "control": a, "treatment": b,
              "control_ctr": lift.control, "treatment_ctr": lift.treatment,
              "p_value": lift.p_value, "significant": lift.significant}  # fmt: skip
    changed = len(versions) > 1
    note = (
        f"the optimiser changed the plan {len(versions) - 1} time(s) in the period"
        if changed
        else "none: the plan did not change in the period"
        + (f" (plan version {versions[0]['version']} throughout)" if versions else "")
    )
    return {"plan_versions": versions, "changed": changed, "note": note, "ab_test": ab}


def compute_report(
    records: Iterable[Mapping[str, Any]],
    events: Iterable[Event],
    campaign_id: str,
    window: ReportWindow,
    campaign: Campaign | None = None,
) -> dict[str, Any]:
    """Every number of the report; money in integer micros, rates as fractions."""
    tally = _Tally(campaign_id, window)
    for record in records:
        if record.get("type") == "decision":
            tally.decision(record)
        elif record.get("type") == "notice":
            tally.notice(record)
    advertiser = campaign.advertiser_domain if campaign is not None else None
    total = tally.total.row("total")
    reached = total["unique_visitors"]
    planned = None
    if campaign is not None:
        planned = min(campaign.budget.total_micros, campaign.budget.daily_micros * window.days)
    conversions = _conversions(tally, events, advertiser)
    summary = {
        **{k: v for k, v in total.items() if k != "key"},
        "cpc_micros": _ratio(total["spend_micros"], total["clicks"]),
        "cost_per_unique_micros": _ratio(total["spend_micros"], reached),
        "planned_spend_micros": planned,
        "spend_vs_plan": _ratio(total["spend_micros"], planned or 0),
        "planned_cost_per_unique_micros": _ratio(planned or 0, reached) if planned else None,
        "win_rate": _ratio(total["impressions"], total["bids"]),
        "mean_pctr": _ratio(tally.pctr_sum, total["impressions"]),
        **conversions,
        "cost_per_conversion_micros": _ratio(total["spend_micros"], conversions["conversions"]),
    }
    return {
        "campaign": campaign_id,
        "campaign_name": campaign.name if campaign is not None else campaign_id,
        "from": window.start.isoformat(),
        "to": window.end.isoformat(),
        "summary": summary,
        "breakdowns": {
            d: [c.row(k) for k, c in sorted(tally.by[d].items())] for d in _Tally.DIMENSIONS
        },
        "optimiser": _optimiser(tally),
    }
