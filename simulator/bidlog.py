"""The bidder's own bid log -> market rows, for replaying it under a new config, model or plan.

What the log tells about each auction (docs/bidlog.md):

- a bid that WON: the clearing price from its win notice is the market price (second
  price), and its click notice (or the absence of one) is the click;
- a bid that LOST: the price that would have won is unknown; if the exchange sent a
  minimum-to-win price it is used, otherwise the market price is taken as just above our
  logged bid (a new bid at or below it would have lost too; a higher one is
  counterfactual: counted as a loss, and reported as such);
- no bid: nothing is known of the market; such rows are replayed and counted, but any bid
  the new config makes there is counterfactual (``price_known`` False).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from simulator.ipinyou import MarketRow

UNKNOWN_PRICE_MICROS = 2**62  # no market information: an unknown price is never beaten


@dataclass
class _Auction:
    ts_s: float
    exchange: str
    request: dict[str, Any]
    bids: list[dict[str, Any]] = field(default_factory=list)
    win_price: int | None = None
    won_creative: str = ""
    clicked: bool = False
    lost: bool = False
    min_to_win: int | None = None


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)


def market_rows_from_bidlog(path: Path) -> list[MarketRow]:
    """Every logged decision as a MarketRow (first imp's outcome), in time order."""
    auctions: dict[str, _Auction] = {}
    for rec in _records(path):
        if rec.get("type") == "decision":
            auctions[rec["request_id"]] = _Auction(
                ts_s=float(rec["ts"]),
                exchange=str(rec.get("exchange", "default")),
                request=rec["request"],
                bids=list(rec.get("bids", [])),
            )
        elif rec.get("type") == "notice":
            _apply_notice(auctions.get(str(rec.get("request_id"))), rec)
    rows = [_row(a) for a in auctions.values()]
    rows.sort(key=lambda r: r.ts_s)
    return rows


def _apply_notice(auction: _Auction | None, rec: dict[str, Any]) -> None:
    if auction is None or rec.get("status") not in (200, 302):
        return
    kind = rec.get("kind")
    if kind in ("win", "bill") and rec.get("price_micros") is not None:
        auction.win_price = int(rec["price_micros"])
        auction.won_creative = str(rec.get("creative") or "")
    elif kind == "loss":
        auction.lost = True
        if rec.get("min_to_win_micros") is not None:
            auction.min_to_win = int(rec["min_to_win_micros"])
    elif kind == "click" and rec.get("result") == "click":
        auction.clicked = True


def _row(a: _Auction) -> MarketRow:
    logged_bid = max((int(b["price_micros"]) for b in a.bids), default=None)
    logged_creative = str(a.bids[0]["creative"]) if a.bids else ""
    if a.win_price is not None:
        price, known, click = a.win_price, True, a.clicked
        logged_creative = a.won_creative or logged_creative
    elif logged_bid is not None and a.min_to_win is not None:
        price, known, click = a.min_to_win, True, None
    elif logged_bid is not None:
        price, known, click = logged_bid + 1, False, None
    else:
        price, known, click = UNKNOWN_PRICE_MICROS, False, None
    return MarketRow(
        ts_s=a.ts_s,
        exchange=a.exchange,
        request=a.request,
        market_price_micros=price,
        logged_creative=logged_creative,
        click=click,
        price_known=known,
    )
