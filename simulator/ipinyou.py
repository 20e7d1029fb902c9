"""iPinYou raw-log rows -> OpenRTB 2.5 requests and market outcomes.

Conventions (shared with the CTR features and the synthetic generator): exchange label
``adx<adexchange>``; ``domain`` -> site.domain, ``url`` -> site.page; ``slotid`` ->
imp.tagid; ``slotwidth x slotheight`` -> banner w/h with pos 1 for FirstView ("1"), 3 for
SecondView ("2"), 0 otherwise; ``slotprice`` (fen per CPM) -> bidfloor in CNY CPM
(``/ 100``); region/city -> device.geo (country CHN); ``usertag`` -> user.data segments of
provider ``ipinyou``; ``ipinyouid`` -> user.id. Prices are fen per CPM, so one impression
at ``payprice`` costs ``payprice * 10`` micros of CNY.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bidder.model.dataset import IPINYOU_COLUMNS

IPINYOU_TZ = dt.timezone(dt.timedelta(hours=8))  # timestamps are Beijing time
MICROS_PER_FEN_CPM = 10  # 1 fen/CPM = 0.01 CNY / 1000 imps = 10 micro-CNY per impression

HEADER_29 = list(IPINYOU_COLUMNS)  # the raw-log columns, named once in bidder.model
HEADER_27 = HEADER_29[:-2]


@dataclass(frozen=True, slots=True)
class MarketRow:
    """One auction of a log: the request, the competing price and what is known of the click.

    ``click`` is None when the log cannot tell (the logged bidder lost the auction);
    ``true_ctr`` is the ground truth of a synthetic market, None for real logs.
    """

    ts_s: float
    exchange: str
    request: dict[str, Any]
    market_price_micros: int
    logged_creative: str
    click: bool | None
    true_ctr: float | None = None
    price_known: bool = True  # False: the market price is a bound or unknown (bid logs)
    body: bytes = b""  # ``request`` as the JSON an exchange sends (built when the log is read)


def _pos(visibility: str) -> int:
    if visibility in ("FirstView", "1"):
        return 1
    if visibility in ("SecondView", "2"):
        return 3
    return 0


def _null(value: str | None) -> str | None:
    return None if value in (None, "", "null", "Na") else value


def parse_timestamp_s(raw: str) -> float:
    """iPinYou ``yyyyMMddHHmmssSSS`` (Beijing time) -> seconds since the epoch."""
    local = dt.datetime.strptime(raw[:14], "%Y%m%d%H%M%S").replace(tzinfo=IPINYOU_TZ)
    return local.timestamp() + int(raw[14:17] or 0) / 1000.0


def request_from_row(row: Mapping[str, str]) -> dict[str, Any]:
    """The OpenRTB 2.5 request an exchange would have sent for this log row."""
    imp: dict[str, Any] = {
        "id": "1",
        "banner": {
            "w": int(row["slotwidth"]),
            "h": int(row["slotheight"]),
            "pos": _pos(row.get("slotvisibility", "")),
        },
        "bidfloor": int(row.get("slotprice") or 0) / 100.0,
        "bidfloorcur": "CNY",
    }
    if _null(row.get("slotid")):
        imp["tagid"] = row["slotid"]
    site: dict[str, Any] = {"domain": _null(row.get("domain")) or "unknown"}
    if _null(row.get("url")):
        site["page"] = row["url"]
    device: dict[str, Any] = {"ua": row.get("useragent", ""), "geo": {"country": "CHN"}}
    if _null(row.get("region")):
        device["geo"]["region"] = row["region"]
    if _null(row.get("city")):
        device["geo"]["city"] = row["city"]
    if _null(row.get("IP")):
        device["ip"] = row["IP"]
    request: dict[str, Any] = {
        "id": row["bidid"],
        "imp": [imp],
        "site": site,
        "device": device,
        "at": 2,
        "tmax": 100,
        "cur": ["CNY"],
    }
    user: dict[str, Any] = {}
    if _null(row.get("ipinyouid")):
        user["id"] = row["ipinyouid"]
    tags = [t for t in (row.get("usertag") or "").split(",") if _null(t)]
    if tags:
        user["data"] = [{"id": "ipinyou", "segment": [{"id": t} for t in tags]}]
    if user:
        request["user"] = user
    return request


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a raw log: 27/29 columns without header, or any TSV with an iPinYou header."""
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\n").split("\t")
        if first and first[0] == "click":
            header = first
        else:
            header = HEADER_29 if len(first) >= 29 else HEADER_27
            yield dict(zip(header, first, strict=False))
        for line in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            yield dict(zip(header, line, strict=False))


def market_rows(path: Path) -> Iterator[MarketRow]:
    """Auctions of a raw iPinYou log or a synthetic market's ``log.tsv``, in file order.

    Real impression logs hold only auctions the logged bidder won, so their clicks are
    observed; a synthetic market gives the competing price (``market_price``) and the
    ground-truth CTR of every row.
    """
    for row in read_rows(path):
        synthetic = "market_price" in row
        price = int(row["market_price"] if synthetic else row["payprice"])
        request = request_from_row(row)
        yield MarketRow(
            ts_s=parse_timestamp_s(row["timestamp"]),
            exchange="adx" + (row.get("adexchange") or "unknown").replace("null", "unknown"),
            request=request,
            body=orjson.dumps(request),
            market_price_micros=price * MICROS_PER_FEN_CPM,
            logged_creative=row.get("creative", ""),
            click=row.get("click", "0") == "1",
            true_ctr=float(row["true_ctr"]) if synthetic else None,
        )
