"""Decision: what ``decide()`` returns — the bids to send, or why there are none."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from msgspec import Struct, field

from bidder.config.model import Creative
from bidder.openrtb.nbr import NoBidReason
from bidder.openrtb.types import BidRequest


class Bid(Struct, frozen=True, gc=False):
    """One bid on one imp. ``price_micros`` is per impression in the engine currency."""

    id: str
    imp_id: str
    campaign_id: str
    creative: Creative
    media_type: str
    price_micros: int
    floor_micros: int
    pctr: float
    arm: str
    deal_id: str | None = None
    reserved: bool = False
    w: int | None = None  # the rendered size (banner), else the creative's
    h: int | None = None  # True when the ledger holds a reservation for it
    variant: str | None = None  # A/B test variant of the campaign (also the arm's @suffix)

    @property
    def key(self) -> str:
        """The ledger / notice key: one charge per (auction id, imp id)."""
        return self.id


_NO_REJECTIONS: Mapping[NoBidReason, int] = MappingProxyType({})


class Decision(Struct, frozen=True, gc=False):
    """Result of one auction.

    ``nbr`` is set exactly when ``bids`` is empty. ``rejections`` counts, per reason,
    the candidates that targeting, caps, budget or pricing turned away (for metrics
    and the bid log). ``currency`` is the response currency and ``currency_rate`` its
    value in engine currency units (to convert micros to the response's CPM).
    """

    request: BidRequest
    bids: tuple[Bid, ...]
    nbr: NoBidReason | None
    currency: str
    currency_rate: float
    exchange: str
    model_version: str
    plan_version: int
    config_version: str
    user_hash: str | None = None  # salted hash of the user key, never the raw id
    pctr_by_candidate: tuple[
        tuple[str, str, float, int], ...
    ] = ()  # (campaign, creative, pctr, price)
    rejections: Mapping[NoBidReason, int] = field(default=_NO_REJECTIONS)
