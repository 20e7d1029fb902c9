"""An auction's context and its candidates: what targeting hands to scoring and pricing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bidder.config.model import Campaign, Creative
from bidder.openrtb.types import BidRequest, Imp


@dataclass(frozen=True, slots=True)
class AuctionContext:
    """Everything about one request that does not depend on the campaign.

    ``user_hash`` is the salted hash of ``request.user_key()`` (never the raw id);
    ``tags`` are the audience tags of that user from the tag store plus
    ``user.data`` segments as ``seg:<data_id>:<segment_id>`` (empty without consent).
    """

    request: BidRequest
    now: dt.datetime  # aware, UTC
    exchange: str
    user_hash: str | None
    tags: frozenset[str]
    user_data_allowed: bool
    hour: int  # local hour in server.timezone, 0-23
    weekday: int  # local weekday, Monday = 0


@dataclass(frozen=True, slots=True)
class Candidate:
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
