"""Decision -> BidResponse bytes (or nothing: the handler answers 204)."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import quote

import orjson

from bidder.config.model import Campaign, Config, Creative
from bidder.decision import Bid, Decision
from bidder.memo import remember
from bidder.notices import NoticeSigner, escape_repeated, escape_value
from bidder.openrtb.types import MTYPE


def micros_to_response_cpm(price_micros: int, rate: float) -> float:
    """A price in engine micros as CPM in the response currency (micros / 1000 / rate)."""
    return round(price_micros / 1000.0 / rate, 6)


def price_cpm(bid: Bid, rate: float) -> float:
    """The bid's price as CPM in the response currency."""
    return micros_to_response_cpm(bid.price_micros, rate)


def notice_body(decision: Decision, bid: Bid, issued_s: int) -> str:
    """The signed part of a bid's notice URLs: ``NoticeSigner.body`` of its facts (fields
    ``a i b c cr p r t x u m q v``), built in one go on the bid hot path."""
    request = decision.request
    return (
        f"a={escape_value(request.id)}&i={escape_value(bid.imp_id)}&b={escape_value(bid.key)}"
        f"&c={escape_repeated(bid.campaign_id)}&cr={escape_repeated(bid.creative.id)}"
        f"&p={bid.price_micros}&r={escape_repeated(repr(decision.currency_rate))}"
        f"&t={issued_s}&x={'1' if request.test else '0'}"
        f"&u={escape_value(decision.user_hash or '')}&m={escape_repeated(bid.arm)}"
        f"&q={escape_value(f'{bid.pctr:.6g}')}&v={escape_repeated(decision.model_version)}"
    )


CLICK_MACRO = "{{CLICK_URL}}"
CLICK_MACRO_ESCAPED = "{{CLICK_URL_ESC}}"


def render_markup(markup: str, click_url: str) -> str:
    """Fill our click-tracking macros in creative markup (signed ``/click`` redirect)."""
    if "{{CLICK_URL" not in markup:
        return markup
    return markup.replace(CLICK_MACRO_ESCAPED, quote(click_url, safe="")).replace(
        CLICK_MACRO, click_url.replace("&", "&amp;")
    )


class _CreativeTail(NamedTuple):
    """What a bid's JSON takes from its creative and campaign, worked out once."""

    mtype: int
    markup: str | None  # the adm (None: no markup)
    click_macro: bool  # the markup holds a click macro (needs the signed click URL)
    fields: dict[str, Any]  # adomain, cat, attr in response order (only those present)


_TAILS: dict[tuple[int, int, str], tuple[Creative, Campaign | None, _CreativeTail]] = {}
_TAILS_MAX = 4096


def _creative_tail(creative: Creative, campaign: Campaign | None, media_type: str) -> _CreativeTail:
    key = (id(creative), id(campaign), media_type)
    held = _TAILS.get(key)
    if held is not None and held[0] is creative and held[1] is campaign:
        return held[2]
    fields: dict[str, Any] = {}
    adomain = creative.adomain or ((campaign.advertiser_domain,) if campaign is not None else ())
    if adomain:
        fields["adomain"] = list(adomain)
    cat = creative.cat or (campaign.iab_categories if campaign is not None else ())
    if cat:
        fields["cat"] = list(cat)
    if creative.attr:
        fields["attr"] = sorted(creative.attr)
    markup = creative.markup or None
    tail = _CreativeTail(
        MTYPE[media_type], markup, markup is not None and "{{CLICK_URL" in markup, fields
    )
    remember(_TAILS, _TAILS_MAX, key, (creative, campaign, tail))
    return tail


def render_bid(
    decision: Decision,
    bid: Bid,
    config: Config,
    signer: NoticeSigner,
    issued_s: int,
    campaign: Campaign | None = None,
) -> dict[str, Any]:
    """One bid's JSON object (``campaign``: the bid's campaign, looked up when omitted)."""
    creative = bid.creative
    if campaign is None:
        campaign = config.campaign(bid.campaign_id)
    tail = _creative_tail(creative, campaign, bid.media_type)
    body = notice_body(decision, bid, issued_s)
    nurl, burl, lurl, click_url = signer.bid_urls(body, tail.click_macro)
    out: dict[str, Any] = {
        "id": bid.id,
        "impid": bid.imp_id,
        "price": price_cpm(bid, decision.currency_rate),
        "nurl": nurl,
        "burl": burl,
        "lurl": lurl,
        "cid": bid.campaign_id,
        "crid": creative.id,
        "mtype": tail.mtype,
    }
    if tail.markup is not None:
        out["adm"] = tail.markup if click_url is None else render_markup(tail.markup, click_url)
    if tail.fields:
        out.update(tail.fields)
    if bid.w is not None and bid.h is not None:
        out["w"] = bid.w
        out["h"] = bid.h
    if bid.deal_id is not None:
        out["dealid"] = bid.deal_id
    return out


def render_response(
    decision: Decision, config: Config, signer: NoticeSigner, issued_s: int
) -> bytes:
    """BidResponse JSON for a decision with bids; one seatbid per seat."""
    seats: dict[str | None, list[dict[str, Any]]] = {}
    for bid in decision.bids:
        campaign = config.campaign(bid.campaign_id)
        seat = campaign.seat if campaign is not None else None
        seats.setdefault(seat, []).append(
            render_bid(decision, bid, config, signer, issued_s, campaign)
        )
    seatbid: list[dict[str, Any]] = []
    for seat, bids in seats.items():
        entry: dict[str, Any] = {"bid": bids}
        if seat is not None:
            entry["seat"] = seat
        seatbid.append(entry)
    body: dict[str, Any] = {
        "id": decision.request.id,
        "bidid": decision.bids[0].id,
        "seatbid": seatbid,
        "cur": decision.currency,
    }
    return orjson.dumps(body)
