"""Notice URL signing: round trip, tampering, key rotation, expiry, price decoding."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from bidder.errors import NoticeError
from bidder.notices import NoticeKind, NoticeSigner, decode_price_micros

FACTS = {
    "a": "auc",
    "i": "1",
    "b": "key",
    "c": "camp",
    "cr": "cr1",
    "p": "2000",
    "r": "1.0",
    "t": "1000",
    "x": "0",
    "u": "abc",
}


def query(url: str, price: str = "1.5") -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url.replace("${AUCTION_PRICE}", price)).query))


def test_notices_round_trip() -> None:
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    facts = signer.verify(NoticeKind.WIN, query(signer.url(NoticeKind.WIN, FACTS)), 1001, 60)
    assert (facts.key, facts.bid_micros, facts.campaign_id, facts.test) == (
        "key",
        2000,
        "camp",
        False,
    )


def test_notices_kind_is_signed() -> None:
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    q = query(signer.url(NoticeKind.LOSS, FACTS))
    with pytest.raises(NoticeError) as err:
        signer.verify(NoticeKind.WIN, q, 1001, 60)
    assert err.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("field", "value"), [("p", "99999"), ("c", "other"), ("b", "k2"), ("x", "1")]
)
def test_notices_tampered_field_refused(field: str, value: str) -> None:
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    q = query(signer.url(NoticeKind.WIN, FACTS))
    q[field] = value
    with pytest.raises(NoticeError) as err:
        signer.verify(NoticeKind.WIN, q, 1001, 60)
    assert err.value.reason == "bad_signature"


def test_notices_rotation_accepts_old_key_until_dropped() -> None:
    old = NoticeSigner({"k1": "old"}, "k1", "http://b")
    url = old.url(NoticeKind.WIN, FACTS)
    rotating = NoticeSigner({"k2": "new", "k1": "old"}, "k2", "http://b")
    assert rotating.verify(NoticeKind.WIN, query(url), 1001, 60).key == "key"
    assert "&k=k2&" in rotating.url(NoticeKind.WIN, FACTS)
    rotated = NoticeSigner({"k2": "new"}, "k2", "http://b")
    with pytest.raises(NoticeError) as err:
        rotated.verify(NoticeKind.WIN, query(url), 1001, 60)
    assert err.value.reason == "unknown_key"


def test_notices_expiry() -> None:
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    q = query(signer.url(NoticeKind.WIN, FACTS))
    with pytest.raises(NoticeError) as err:
        signer.verify(NoticeKind.WIN, q, 1000 + 61, 60)
    assert (err.value.reason, err.value.status) == ("expired", 410)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "price_missing"),
        ("", "price_missing"),
        ("${AUCTION_PRICE}", "price_missing"),
        ("abc", "bad_price"),
        ("-1", "bad_price"),
        ("nan", "bad_price"),
        ("inf", "bad_price"),
    ],
)
def test_notices_bad_prices_refused(raw: str | None, reason: str) -> None:
    with pytest.raises(NoticeError) as err:
        decode_price_micros(raw, 1.0)
    assert err.value.reason == reason


def test_notices_price_converted_with_rate() -> None:
    assert decode_price_micros("2.0", 1.1) == 2200


@pytest.mark.parametrize(
    ("request_id", "arm", "pctr"),
    [
        ("auc-1", "adx|site:ex.com|09|cr-1", 0.0123),
        ("a b&c=d/é", "x|app:com.foo bar|23|c r", 1.5e-07),
        ("", "", 0.0),
    ],
)
def test_notices_bid_body_equals_generic_body_and_verifies(
    request_id: str, arm: str, pctr: float
) -> None:
    from bidder.config.model import Creative
    from bidder.decision import Bid, Decision
    from bidder.openrtb.response import notice_body
    from bidder.openrtb.types import BidRequest, Imp

    request = BidRequest(id=request_id, imp=(Imp(id="1"),), test=True)
    bid = Bid(
        id="k~1", imp_id="1", campaign_id="camp 1", creative=Creative(id="cr/1", format="banner"),
        media_type="banner", price_micros=1234, floor_micros=0, pctr=pctr, arm=arm,
    )  # fmt: skip
    decision = Decision(
        request=request, bids=(bid,), nbr=None, currency="USD", currency_rate=0.9,
        exchange="x", model_version="m v1", plan_version=1, config_version="c", user_hash="u+",
    )  # fmt: skip
    signer = NoticeSigner({"k1": "s"}, "k1", "http://b")
    body = notice_body(decision, bid, 1000)
    assert body == signer.body(_facts(decision, bid, 1000))
    url = signer.url_for(NoticeKind.WIN, body)
    facts = signer.verify(NoticeKind.WIN, query(url), 1001, 60)
    assert (facts.auction_id, facts.arm, facts.campaign_id) == (request_id, arm, "camp 1")


def _facts(decision: Any, bid: Any, issued_s: int) -> dict[str, str]:
    """What each notice field carries: the reference ``notice_body`` must match."""
    return {
        "a": decision.request.id,
        "i": bid.imp_id,
        "b": bid.key,
        "c": bid.campaign_id,
        "cr": bid.creative.id,
        "p": str(bid.price_micros),
        "r": repr(decision.currency_rate),
        "t": str(issued_s),
        "x": "1" if decision.request.test else "0",
        "u": decision.user_hash or "",
        "m": bid.arm,
        "q": f"{bid.pctr:.6g}",
        "v": decision.model_version,
    }


@pytest.mark.parametrize("click", [True, False])
def test_notices_bid_urls_equal_url_for_each_kind(click: bool) -> None:
    signer = NoticeSigner({"k0": "old", "k1": "s3cret"}, "k1", "http://bidder.test/")
    body = NoticeSigner.body({**FACTS, "m": "adx|site:a b|09|cr", "q": "0.01", "v": "m1"})
    win, bill, loss, click_url = signer.bid_urls(body, click)
    assert win == signer.url_for(NoticeKind.WIN, body)
    assert bill == signer.url_for(NoticeKind.BILL, body)
    assert loss == signer.url_for(NoticeKind.LOSS, body)
    assert click_url == (signer.url_for(NoticeKind.CLICK, body) if click else None)
    assert signer.verify(NoticeKind.BILL, query(bill), 1001, 60).key == "key"
