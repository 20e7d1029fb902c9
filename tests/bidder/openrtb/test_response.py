"""BidResponse rendering: the per-creative parts are worked out once, never served stale."""

from __future__ import annotations

import dataclasses

import orjson

from bidder.config.model import Budget, Campaign, Config, Creative, ServerSettings
from bidder.decision import Bid, Decision
from bidder.notices import NoticeKind, NoticeSigner
from bidder.openrtb.response import notice_body, render_markup, render_response
from bidder.openrtb.types import BidRequest, Imp

MARKUP = '<a href="{{CLICK_URL}}"><img src="x.jpg"></a>'


def _config(campaign: Campaign) -> Config:
    return Config(server=ServerSettings(), campaigns=(campaign,))


def _campaign(domain: str, creative: Creative) -> Campaign:
    return Campaign(
        id="c1",
        advertiser_domain=domain,
        budget=Budget(10_000, 10_000),
        max_bid_micros=5_000,
        creatives=(creative,),
        iab_categories=("IAB3",),
    )


def _decision(creative: Creative) -> Decision:
    bid = Bid(
        id="b1", imp_id="1", campaign_id="c1", creative=creative, media_type="banner",
        price_micros=1500, floor_micros=0, pctr=0.01, arm="x|site:a|09|cr1", w=300, h=250,
    )  # fmt: skip
    return Decision(
        request=BidRequest(id="r1", imp=(Imp(id="1"),)), bids=(bid,), nbr=None,
        currency="USD", currency_rate=1.0, exchange="x", model_version="m",
        plan_version=0, config_version="v",
    )  # fmt: skip


def test_render_follows_a_reloaded_campaign_and_creative() -> None:
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    creative = Creative(id="cr1", format="banner", w=300, h=250, markup=MARKUP)
    first = orjson.loads(
        render_response(_decision(creative), _config(_campaign("a.example", creative)), signer, 5)
    )["seatbid"][0]["bid"][0]
    assert first["adomain"] == ["a.example"] and first["cat"] == ["IAB3"]
    changed = dataclasses.replace(creative, markup="<img>", attr=frozenset({3, 1}))
    second = orjson.loads(
        render_response(_decision(changed), _config(_campaign("b.example", changed)), signer, 5)
    )["seatbid"][0]["bid"][0]
    assert second["adomain"] == ["b.example"]
    assert second["adm"] == "<img>" and second["attr"] == [1, 3]
    assert "attr" not in first


def test_render_fills_the_signed_click_url_into_the_markup() -> None:
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    creative = Creative(id="cr1", format="banner", w=300, h=250, markup=MARKUP)
    decision = _decision(creative)
    bid = orjson.loads(
        render_response(decision, _config(_campaign("a.example", creative)), signer, 5)
    )["seatbid"][0]["bid"][0]
    click = signer.url_for(NoticeKind.CLICK, notice_body(decision, decision.bids[0], 5))
    assert bid["adm"] == render_markup(MARKUP, click)
    assert list(bid) == [
        "id", "impid", "price", "nurl", "burl", "lurl", "cid", "crid", "mtype", "adm",
        "adomain", "cat", "w", "h",
    ]  # fmt: skip
