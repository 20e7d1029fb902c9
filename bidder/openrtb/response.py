"""Decision -> BidResponse bytes (or nothing: the handler answers 204)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from bidder.config.model import Config
from bidder.decision import Bid, Decision
from bidder.notices import NoticeKind, NoticeSigner, escape_repeated, escape_value
from bidder.openrtb.types import MTYPE


def price_cpm(bid: Bid, rate: float) -> float:
    """Bid price as CPM in the response currency (engine micros / 1000 / rate)."""
    return round(bid.price_micros / 1000.0 / rate, 6)


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


def render_bid(
    decision: Decision,
    bid: Bid,
    config: Config,
    signer: NoticeSigner,
    issued_s: int,
) -> dict[str, Any]:
    creative = bid.creative
    campaign = config.campaign(bid.campaign_id)
    body = notice_body(decision, bid, issued_s)
    out: dict[str, Any] = {
        "id": bid.id,
        "impid": bid.imp_id,
        "price": price_cpm(bid, decision.currency_rate),
        "nurl": signer.url_for(NoticeKind.WIN, body),
        "burl": signer.url_for(NoticeKind.BILL, body),
        "lurl": signer.url_for(NoticeKind.LOSS, body),
        "cid": bid.campaign_id,
        "crid": creative.id,
        "mtype": MTYPE[bid.media_type],
    }
    if creative.markup:
        out["adm"] = render_markup(creative.markup, signer.url_for(NoticeKind.CLICK, body))
    adomain = creative.adomain or ((campaign.advertiser_domain,) if campaign is not None else ())
    if adomain:
        out["adomain"] = list(adomain)
    cat = creative.cat or (campaign.iab_categories if campaign is not None else ())
    if cat:
        out["cat"] = list(cat)
    if creative.attr:
        out["attr"] = sorted(creative.attr)
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
        seats.setdefault(seat, []).append(render_bid(decision, bid, config, signer, issued_s))
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
