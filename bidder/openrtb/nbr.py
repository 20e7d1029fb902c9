"""NoBidReason: the closed set of reasons a request or a candidate gets no bid."""

from __future__ import annotations

from enum import Enum


class NoBidReason(str, Enum):
    """Why no bid was made. Values are metric label values (closed set)."""

    MISSING_ID = "missing_id"  # request or imp without an id: a bid could not be matched
    NO_CAMPAIGNS = "no_campaigns"
    NO_MATCHING_FORMAT = "no_matching_format"
    SIZE = "size"
    GEO = "geo"
    DEVICE = "device"
    OS = "os"
    INVENTORY = "inventory"  # app bundle / site domain allow-block lists
    CATEGORY = "category"  # IAB category blocks (ours or bcat)
    ADVERTISER_BLOCKED = "advertiser_blocked"  # badv / bapp
    CREATIVE_ATTR = "creative_attr"  # battr
    SEAT = "seat"  # wseat / bseat
    DEAL = "deal"  # private auction without a matching deal, or deal-only campaign
    HOUR = "hour"  # day-parting
    FLIGHT = "flight"  # outside flight dates
    AUDIENCE = "audience"
    NO_USER_DATA = "no_user_data"  # consent missing / coppa / lmt: audience rules cannot apply
    FREQUENCY_CAP = "frequency_cap"
    DUPLICATE_AUCTION = "duplicate_auction"  # this auction id + imp id was already charged
    BUDGET = "budget"
    PACING = "pacing"
    BELOW_FLOOR = "below_floor"
    CURRENCY = "currency"  # a currency we cannot price
    TMAX = "tmax"  # deadline would be missed
    PLAN = "plan"  # optimiser plan gives the arm no share
    ZERO_PRICE = "zero_price"
    INTERNAL_ERROR = "internal_error"


# OpenRTB 2.x No-Bid Reason Codes (BidResponse.nbr) for the reasons that have one.
NBR_CODE: dict[NoBidReason, int] = {
    NoBidReason.TMAX: 1,  # technical error
    NoBidReason.INTERNAL_ERROR: 1,
    NoBidReason.CURRENCY: 2,  # invalid request
}
