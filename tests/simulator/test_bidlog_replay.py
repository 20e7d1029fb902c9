"""Replaying the bidder's own bid log under the same and a changed config."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bidder.config.load import load_config
from simulator.bidlog import market_rows_from_bidlog
from simulator.full_run import run_full_replay
from simulator.replay import AuctionType
from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_app, make_runtime

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "openrtb"


def _path(url: str, price: str) -> str:
    parts = urlsplit(url.replace("${AUCTION_PRICE}", price))
    return f"{parts.path}?{parts.query}"


async def _write_bidlog(tmp_path: Path, aiohttp_client: Any) -> Path:
    """Ten auctions: even ones won at 1.50 (one clicked), odd ones lost."""
    bidlog = tmp_path / "bidlog.jsonl"
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path / "state", FakeClock())
    runtime.bidlog.path = bidlog
    client = await aiohttp_client(make_app(runtime))
    request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]
    for n in range(10):
        request["id"] = f"auction-{n}"
        resp = await client.post("/bid", data=orjson.dumps(request))
        bid = (await resp.json())["seatbid"][0]["bid"][0]
        if n % 2 == 0:
            assert (await client.get(_path(bid["nurl"], "1.5"))).status == 200
        else:
            lurl = _path(bid["lurl"], "0").replace("${AUCTION_LOSS}", "102")
            assert (await client.get(lurl.replace("${AUCTION_MIN_TO_WIN}", "2.2"))).status == 200
        if n == 0:
            click = bid["adm"].split('href="')[1].split('"')[0].replace("&amp;", "&")
            resp = await client.get(_path(click, ""), allow_redirects=False)
            assert resp.status == 302
    runtime.bidlog.flush()
    return bidlog


async def test_bidlog_rows_carry_prices_and_clicks(tmp_path: Path, aiohttp_client: Any) -> None:
    rows = market_rows_from_bidlog(await _write_bidlog(tmp_path, aiohttp_client))
    assert len(rows) == 10
    won = [r for r in rows if r.click is not None]
    assert len(won) == 5
    assert {r.market_price_micros for r in won} == {1500}
    assert sum(1 for r in won if r.click) == 1
    lost = [r for r in rows if r.click is None]
    assert {r.market_price_micros for r in lost} == {2200}  # the exchange's min-to-win
    assert "h:" in str(rows[0].request.get("device", {}).get("ip", "h:"))


async def test_bidlog_replay_under_a_new_config(tmp_path: Path, aiohttp_client: Any) -> None:
    bidlog = await _write_bidlog(tmp_path, aiohttp_client)
    same = run_full_replay(
        bidlog,
        GOLDEN_CONFIG,
        budget_fraction=1.0,
        auction=AuctionType.SECOND_PRICE,
        seed=1,
        version="test",
        bidlog=True,
    )
    assert (same["auctions"], same["bids"], same["impressions"], same["clicks"]) == (10, 10, 5, 1)
    assert same["money_unit"] == "micros"
    assert same["spend"] == 5 * 1500
    config = load_config(GOLDEN_CONFIG)
    cheaper = dataclasses.replace(
        config,
        campaigns=tuple(
            dataclasses.replace(c, max_bid_micros=1400) if c.id == "g-banner" else c
            for c in config.campaigns
        ),
    )
    lower = run_full_replay(
        bidlog,
        GOLDEN_CONFIG,
        budget_fraction=1.0,
        auction=AuctionType.SECOND_PRICE,
        seed=1,
        version="test",
        bidlog=True,
        config=cheaper,
    )
    assert lower["bids"] == 10
    assert lower["impressions"] == 0  # 1.40 never clears the logged 1.50 / 2.20 prices
