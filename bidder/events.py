"""Notices: verify, charge the ledger exactly once, count caps, record losses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from msgspec import Struct

from bidder.armstats import ArmBook
from bidder.config.model import Campaign, ChargeOn, Config
from bidder.errors import NoticeError
from bidder.ledger.base import ChargeResult, Ledger
from bidder.loss_log import LossLog
from bidder.metrics import Metrics
from bidder.notices import NoticeFacts, NoticeKind, NoticeSigner, decode_price_micros
from bidder.seen_clicks import SeenClicks
from bidder.stores.freqcap import FrequencyStore

log = logging.getLogger(__name__)

_TOLERANCE_MICROS = 1  # rounding of a CPM round trip through the response currency


class NoticeOutcome(Struct, frozen=True, gc=False):
    status: int
    result: str  # closed set: charged, duplicate, recorded, test, released, unknown...
    facts: NoticeFacts | None = None
    price_micros: int | None = None
    location: str | None = None  # clicks: where to redirect the browser
    min_to_win_micros: int | None = None  # losses: the exchange's minimum price to win


class NoticeProcessor:
    """Handles win, bill and loss notices against the ledger and frequency store."""

    def __init__(
        self,
        signer: NoticeSigner,
        ledger: Ledger,
        frequency: FrequencyStore,
        metrics: Metrics,
        config: Callable[[], Config],
        ttl_s: int,
        arms: ArmBook | None = None,
        losses_kept: int = 100_000,
        clicks_kept: int = 1_000_000,
    ) -> None:
        self.signer = signer
        self.ledger = ledger
        self.frequency = frequency
        self.metrics = metrics
        self._config = config
        self.ttl_s = ttl_s
        self.losses = LossLog(losses_kept)  # fixed memory, written once at startup
        self.arms = arms if arms is not None else ArmBook()
        self._clicked = SeenClicks(clicks_kept)

    def handle(self, kind: NoticeKind, query: Mapping[str, str], now_s: float) -> NoticeOutcome:
        """Process one notice; refusals are counted and answered 4xx, never charged."""
        try:
            outcome = self._handle(kind, query, now_s)
        except NoticeError as err:
            self.metrics.notice_errors.labels(kind.value, err.reason).inc()
            return NoticeOutcome(status=err.status, result=err.reason)
        self.metrics.notices.labels(kind.value, outcome.result).inc()
        return outcome

    def settle(self, facts: NoticeFacts, query: Mapping[str, str], now_s: float) -> NoticeOutcome:
        """Apply a notice whose facts are already verified (the simulator's entry point)."""
        try:
            outcome = self._apply(facts, query, now_s)
        except NoticeError as err:
            self.metrics.notice_errors.labels(facts.kind.value, err.reason).inc()
            return NoticeOutcome(status=err.status, result=err.reason, facts=facts)
        self.metrics.notices.labels(facts.kind._value_, outcome.result).inc()
        return outcome

    def _handle(self, kind: NoticeKind, query: Mapping[str, str], now_s: float) -> NoticeOutcome:
        return self._apply(self.signer.verify(kind, query, now_s, self.ttl_s), query, now_s)

    def _apply(self, facts: NoticeFacts, query: Mapping[str, str], now_s: float) -> NoticeOutcome:
        kind = facts.kind
        if kind is NoticeKind.LOSS:
            return self._loss(facts, query, now_s)
        if kind is NoticeKind.CLICK:
            return self._click(facts)
        price = decode_price_micros(query.get("price"), facts.rate)
        if price > facts.bid_micros + _TOLERANCE_MICROS:
            raise NoticeError("price_above_bid", "clearing price is above the bid", 400)
        price = min(price, facts.bid_micros)
        if facts.test:
            return NoticeOutcome(200, "test", facts, price)
        campaign = self._config().campaign(facts.campaign_id)
        charge_on = campaign.charge_on if campaign is not None else ChargeOn.WIN
        label = _campaign_label(facts.campaign_id, campaign)
        if kind is NoticeKind.WIN:
            self.metrics.wins.labels(label).inc()
        if (kind is NoticeKind.WIN) != (charge_on is ChargeOn.WIN):
            return NoticeOutcome(200, "recorded", facts, price)
        return self._charge(facts, price, now_s, campaign, label)

    def _charge(
        self, facts: NoticeFacts, price: int, now_s: float, campaign: Campaign | None, label: str
    ) -> NoticeOutcome:
        result = self.ledger.charge(facts.key, price, now_s)
        if result is ChargeResult.CHARGED:
            metrics = self.metrics
            metrics.charges.labels(label).inc()
            metrics.charged_micros.labels(label).inc(price)
            cap = campaign.frequency_cap if campaign is not None else None
            if cap is not None and facts.user_hash:
                self.frequency.record(facts.user_hash, facts.campaign_id, cap.window_s, now_s)
            self.arms.record_impression(facts.campaign_id, facts.arm, price)
            version = metrics.model_label(facts.model_version)
            metrics.model_impressions.labels(version).inc()
            if facts.pctr is not None:
                metrics.model_predicted_clicks.labels(version).inc(facts.pctr)
            return NoticeOutcome(200, "charged", facts, price)
        if result is ChargeResult.DUPLICATE:
            raise NoticeError("replayed", "notice already charged", 409)
        if result is ChargeResult.PRICE_ABOVE_BID:
            raise NoticeError("price_above_bid", "clearing price is above the reserved bid", 400)
        if result is ChargeResult.EXPIRED_NO_BUDGET:
            raise NoticeError("expired_no_budget", "reservation expired and budget is gone", 410)
        raise NoticeError("unknown_bid", "no open bid for this notice", 404)

    def _loss(self, facts: NoticeFacts, query: Mapping[str, str], now_s: float) -> NoticeOutcome:
        if self.ledger.is_charged(facts.key):
            raise NoticeError("loss_after_charge", "loss notice for a charged bid", 409)
        released = self.ledger.release(facts.key, now_s)
        self.metrics.losses.labels(self._label(facts.campaign_id)).inc()
        min_to_win = _price_or_none(query.get("mtw"), facts.rate)
        self.losses.append(
            facts.key,
            facts.campaign_id,
            facts.bid_micros,
            _int_or_none(query.get("loss")),
            min_to_win,
            now_s,
        )
        result = "released" if released else "loss_recorded"
        return NoticeOutcome(200, result, facts, min_to_win_micros=min_to_win)

    def _click(self, facts: NoticeFacts) -> NoticeOutcome:
        """Count a click once per bid, then send the browser to the configured landing page."""
        campaign = self._config().campaign(facts.campaign_id)
        creative = None
        if campaign is not None:
            creative = next((c for c in campaign.creatives if c.id == facts.creative_id), None)
        if creative is None or not creative.landing_url:
            raise NoticeError("unknown_creative", "click for an unknown creative", 404)
        if facts.test or not self._clicked.first(facts.key):
            return NoticeOutcome(302, "click_repeat", facts, location=creative.landing_url)
        self.metrics.clicks.labels(_campaign_label(facts.campaign_id, campaign)).inc()
        self.metrics.model_clicks.labels(self.metrics.model_label(facts.model_version)).inc()
        self.arms.record_click(facts.campaign_id, facts.arm)
        return NoticeOutcome(302, "click", facts, location=creative.landing_url)

    def _label(self, campaign_id: str) -> str:
        return _campaign_label(campaign_id, self._config().campaign(campaign_id))


def _campaign_label(campaign_id: str, campaign: Campaign | None) -> str:
    """The metric label of a notice's campaign: its id if configured, else "other"."""
    return campaign_id if campaign is not None else "other"


def _int_or_none(raw: str | None) -> int | None:
    if raw is None or raw.startswith("${"):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _price_or_none(raw: str | None, rate: float) -> int | None:
    try:
        return decode_price_micros(raw, rate)
    except NoticeError:
        return None
