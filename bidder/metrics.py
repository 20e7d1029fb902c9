"""All bidder metrics, created on an injected registry; label values from closed sets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bidder.ledger.base import Spend
from bidder.openrtb.nbr import NoBidReason

if TYPE_CHECKING:
    from bidder.pacer import Pacer

_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25)
_RATIO_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 1.0, 2.0)
_PRICE_BUCKETS_CPM = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)
_SAFE_LABEL = re.compile(r"^[a-z0-9_\-]{1,32}$")


def _cache_children(metric: Counter | Gauge) -> None:
    """Memoise ``labels()`` for a metric whose children are never removed.

    prometheus_client validates label values and takes a lock on every ``labels()`` call;
    label sets here are closed, so the child for a value tuple is looked up once.
    """
    children: dict[tuple[str, ...], Counter | Gauge] = {}
    create = metric.labels

    def labels(*values: str) -> Counter | Gauge:
        child = children.get(values)
        if child is None:
            child = children[values] = create(*values)
        return child

    setattr(metric, "labels", labels)  # noqa: B010 (assigning a method: mypy refuses '=')


class Metrics:
    """Every metric the bidder exports. Campaign ids are a closed set (the config's)."""

    def __init__(self, registry: CollectorRegistry | None = None, max_exchanges: int = 64) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._exchanges: set[str] = set()
        self._max_exchanges = max_exchanges
        self.requests = Counter(
            "bidder_requests_total",
            "Bid requests by exchange and outcome",
            ["exchange", "outcome"],
            registry=r,
        )
        self.nobids = Counter(
            "bidder_nobids_total", "Requests answered 204, by reason", ["reason"], registry=r
        )
        self.rejections = Counter(
            "bidder_candidate_rejections_total",
            "Candidates turned away, by reason",
            ["reason"],
            registry=r,
        )
        self.invalid = Counter(
            "bidder_invalid_requests_total",
            "Requests answered 400, by reason",
            ["reason"],
            registry=r,
        )
        self.warnings = Counter(
            "bidder_request_warnings_total",
            "Optional request fields dropped as malformed",
            registry=r,
        )
        self.bids = Counter("bidder_bids_total", "Bids sent, by campaign", ["campaign"], registry=r)
        self.bid_price = Histogram(
            "bidder_bid_price_cpm",
            "Bid price (engine currency CPM)",
            buckets=_PRICE_BUCKETS_CPM,
            registry=r,
        )
        self.latency = Histogram(
            "bidder_request_latency_seconds",
            "Time from arrival to answer",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.latency_tmax = Histogram(
            "bidder_request_latency_tmax_ratio",
            "Latency as a fraction of tmax",
            buckets=_RATIO_BUCKETS,
            registry=r,
        )
        self.late = Counter(
            "bidder_deadline_missed_total", "Bids dropped because tmax had passed", registry=r
        )
        self.errors = Counter(
            "bidder_internal_errors_total", "Unexpected exceptions, answered no-bid", registry=r
        )
        self.spend = Gauge(
            "bidder_campaign_spend_micros", "Spend so far", ["campaign", "period"], registry=r
        )
        self.remaining = Gauge(
            "bidder_campaign_remaining_budget_micros",
            "Budget left",
            ["campaign", "period"],
            registry=r,
        )
        self.reserved = Gauge(
            "bidder_campaign_reserved_micros", "Budget held by open bids", ["campaign"], registry=r
        )
        self.pacing = Gauge(
            "bidder_pacing_multiplier", "Even-pacing bid multiplier", ["campaign"], registry=r
        )
        self.wins = Counter(
            "bidder_wins_total", "Win notices accepted, by campaign", ["campaign"], registry=r
        )
        self.charges = Counter(
            "bidder_charges_total", "Charges made to the ledger", ["campaign"], registry=r
        )
        self.charged_micros = Counter(
            "bidder_charged_micros_total", "Micros charged to the ledger", ["campaign"], registry=r
        )
        self.losses = Counter(
            "bidder_losses_total", "Loss notices, by campaign", ["campaign"], registry=r
        )
        self.notices = Counter(
            "bidder_notices_total", "Notices by kind and result", ["kind", "result"], registry=r
        )
        self.notice_errors = Counter(
            "bidder_notice_errors_total",
            "Notices refused, by kind and reason",
            ["kind", "reason"],
            registry=r,
        )
        self.reloads = Counter(
            "bidder_config_reloads_total", "Config reloads by result", ["result"], registry=r
        )
        self.config_info = Gauge(
            "bidder_config_info", "Loaded config version", ["version"], registry=r
        )
        self.model_info = Gauge(
            "bidder_model_info", "Loaded model version", ["version"], registry=r
        )
        self.plan_version = Gauge(
            "bidder_plan_version", "Version of the optimiser plan in use", registry=r
        )
        self.clicks = Counter(
            "bidder_clicks_total", "Clicks counted (once per bid)", ["campaign"], registry=r
        )
        self.model_impressions = Counter(
            "bidder_model_impressions_total",
            "Charged impressions by model version",
            ["version"],
            registry=r,
        )
        self.model_predicted_clicks = Counter(
            "bidder_model_predicted_clicks_total",
            "Sum of pCTR over charged impressions, by model version (compare with clicks)",
            ["version"],
            registry=r,
        )
        self.model_clicks = Counter(
            "bidder_model_clicks_total",
            "Observed clicks on charged impressions, by model version",
            ["version"],
            registry=r,
        )
        self._model_versions: set[str] = set()
        self.model_swaps = Counter(
            "bidder_model_swaps_total", "Model hot swaps by result", ["result"], registry=r
        )
        for reason in NoBidReason:
            self.nobids.labels(reason.value)
            self.rejections.labels(reason.value)
        for metric in (
            self.requests, self.nobids, self.rejections, self.invalid, self.bids, self.wins,
            self.charges, self.charged_micros, self.losses, self.notices, self.notice_errors,
            self.clicks, self.model_impressions, self.model_predicted_clicks, self.model_clicks,
            self.spend, self.remaining, self.reserved, self.pacing,
        ):  # fmt: skip
            _cache_children(metric)

    def exchange_label(self, exchange: str) -> str:
        """Exchange names come from URLs: keep a bounded, sanitised set."""
        if exchange in self._exchanges:
            return exchange
        if not _SAFE_LABEL.match(exchange) or len(self._exchanges) >= self._max_exchanges:
            return "other"
        self._exchanges.add(exchange)
        return exchange

    def model_label(self, version: str) -> str:
        """Model versions seen in notices: the loaded ones, else "other" (a closed set)."""
        return version if version in self._model_versions else "other"

    def set_model(self, version: str) -> None:
        self._model_versions.add(version)
        self.model_info.clear()
        self.model_info.labels(version).set(1)

    def set_config(self, version: str) -> None:
        self.config_info.clear()
        self.config_info.labels(version).set(1)


class MoneyGauges:
    """Sets the per-campaign money and pacing gauges on every tick, and only those that
    changed: most ticks move nothing, and a gauge ``set`` takes a lock."""

    def __init__(self) -> None:
        self._metrics: Metrics | None = None
        self._last: dict[str, tuple[int, int, int, int, int, float]] = {}

    def refresh(self, metrics: Metrics, spends: Mapping[str, Spend], pacer: Pacer) -> None:
        if metrics is not self._metrics:
            self._metrics = metrics
            self._last = {}
        last = self._last
        for campaign_id, spend in spends.items():
            values = (
                spend.total_micros,
                spend.today_micros,
                spend.remaining_total_micros,
                spend.remaining_today_micros,
                spend.reserved_micros,
                pacer.multiplier(campaign_id),
            )
            before = last.get(campaign_id)
            if before == values:
                continue
            last[campaign_id] = values
            total, today, remaining_total, remaining_today, reserved, pacing = values
            m = metrics
            if before is None or before[0] != total:
                m.spend.labels(campaign_id, "total").set(total)
            if before is None or before[1] != today:
                m.spend.labels(campaign_id, "today").set(today)
            if before is None or before[2] != remaining_total:
                m.remaining.labels(campaign_id, "total").set(remaining_total)
            if before is None or before[3] != remaining_today:
                m.remaining.labels(campaign_id, "today").set(remaining_today)
            if before is None or before[4] != reserved:
                m.reserved.labels(campaign_id).set(reserved)
            if before is None or before[5] != pacing:
                m.pacing.labels(campaign_id).set(pacing)
