"""An auction's context and its candidates: what targeting hands to scoring and pricing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from msgspec import Struct

from bidder.config.model import Campaign, Creative
from bidder.openrtb.types import BidRequest, Imp

_NO_TAGS: frozenset[str] = frozenset()


class AuctionContext:
    """Everything about one request that does not depend on the campaign.

    ``user_hash`` is the salted hash of ``request.user_key()`` (never the raw id);
    ``tags`` are the audience tags of that user from the tag store plus
    ``user.data`` segments as ``seg:<data_id>:<segment_id>`` (empty without consent).
    They are looked up on first use (``tag_lookup``): most requests meet no campaign
    with audience rules and no model that reads tags.
    """

    __slots__ = (
        "_tag_lookup",
        "_tags",
        "exchange",
        "hour",
        "now",
        "now_s",
        "request",
        "user_data_allowed",
        "user_hash",
        "weekday",
    )

    def __init__(
        self,
        request: BidRequest,
        now: dt.datetime,  # aware, UTC
        exchange: str,
        user_hash: str | None,
        tags: frozenset[str] | None = None,
        user_data_allowed: bool = True,
        hour: int = 0,  # local hour in server.timezone, 0-23
        weekday: int = 0,  # local weekday, Monday = 0
        tag_lookup: Callable[[], frozenset[str]] | None = None,
        now_s: float | None = None,  # ``now.timestamp()``, when the caller has it
    ) -> None:
        self.request = request
        self.now = now
        self.now_s = now.timestamp() if now_s is None else now_s
        self.exchange = exchange
        self.user_hash = user_hash
        self.user_data_allowed = user_data_allowed
        self.hour = hour
        self.weekday = weekday
        self._tags = tags
        self._tag_lookup = tag_lookup

    @property
    def tags(self) -> frozenset[str]:
        tags = self._tags
        if tags is None:
            lookup = self._tag_lookup
            tags = self._tags = _NO_TAGS if lookup is None else lookup()
        return tags


class Candidate(Struct, frozen=True, gc=False):
    """One (imp, campaign, creative) that passed targeting, with its floor in micros."""

    imp_index: int
    imp: Imp
    campaign: Campaign
    creative: Creative
    media_type: str  # banner, video, native, audio
    floor_micros: int  # per impression, engine currency
    deal_id: str | None = None
    w: int | None = None  # banner: the size the imp accepted
    h: int | None = None
