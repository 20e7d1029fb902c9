"""Rendering drawn market rows as iPinYou ``log.tsv`` lines and OpenRTB ``requests.jsonl``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson

from simulator.synth.inventory import POSITIONS, BytesArray
from simulator.synth.market import DAY_MS, HOUR_MS, START_LOCAL, MarketRows, World, hour_weekday
from simulator.synth.truth import campaign_ids, creative_ids

EXTRA_COLUMNS = ("true_ctr", "market_price")
CHUNK_ROWS = 50_000
NULL = b"null"  # iPinYou's empty value (usertag, urlid, keypage)


def _table(values: list[str] | tuple[str, ...]) -> BytesArray:
    return np.array([v.encode() for v in values], dtype=np.bytes_)


def _timestamps(local_ms: np.ndarray) -> BytesArray:
    """iPinYou ``yyyyMMddHHmmssSSS`` local timestamps."""
    days = int(local_ms.max() // DAY_MS) + 1 if len(local_ms) else 1
    day_ints = np.array(
        [int((START_LOCAL + dt.timedelta(days=d)).strftime("%Y%m%d")) for d in range(days)]
    )
    rem = local_ms % DAY_MS
    value = (
        day_ints[local_ms // DAY_MS] * 10**9
        + (rem // HOUR_MS) * 10**7
        + (rem % HOUR_MS // 60_000) * 10**5
        + (rem % 60_000 // 1000) * 10**3
        + rem % 1000
    )
    return np.asarray(value.astype("S17"), dtype=np.bytes_)


def _fixed10(p: np.ndarray) -> BytesArray:
    """Probabilities in [0, 1) as ``0.dddddddddd`` (10 decimals, no exponent)."""
    q = np.rint(p * 1e10).astype(np.int64) + 10**10
    chars = np.frombuffer(q.astype("S11").tobytes(), dtype=np.uint8).reshape(-1, 11)
    out = np.empty((len(q), 12), dtype=np.uint8)
    out[:, 0] = ord("0")
    out[:, 1] = ord(".")
    out[:, 2:] = chars[:, 1:]
    return out.view("S12").ravel()


def _usertags(tags: np.ndarray, labels: BytesArray) -> list[bytes]:
    """Comma-joined tag ids per row (``null`` when none), in tag-table order."""
    rows, cols = np.nonzero(tags)
    with_comma = np.strings.add(labels, b",")
    lengths = np.strings.str_len(with_comma)[cols]
    blob = b"".join(with_comma[cols].tolist())
    ends = np.cumsum(np.bincount(rows, weights=lengths, minlength=len(tags))).astype(np.int64)
    starts = np.concatenate(([0], ends[:-1]))
    return [
        blob[s : e - 1] if e > s else NULL
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


class _Tables:
    """Byte-string vocabularies of a world, indexed by the drawn codes."""

    def __init__(self, world: World) -> None:
        inv, m = world.inventory, world.marginals
        self.exchange = _table(inv.exchange_labels)
        self.useragent = _table(m.useragents)
        self.region = _table(m.regions)
        self.city = _table(m.cities)
        self.width = np.array([w for w, _ in inv.sizes]).astype("S4")
        self.height = np.array([h for _, h in inv.sizes]).astype("S4")
        self.visibility = _table(inv.visibilities)
        self.tags = _table(m.tags)
        self.campaign = _table(campaign_ids(world.campaigns))
        self.creative = _table(creative_ids(world.campaigns, world.creatives_per_campaign))
        self.hour = _table([f"{h:02d}" for h in range(24)])


def _log_columns(world: World, r: MarketRows, t: _Tables, sl: slice) -> list[Any]:
    """The 29 iPinYou columns plus ``true_ctr`` and ``market_price`` for rows ``sl``."""
    inv, x = world.inventory, r.features
    slot = r.slot[sl]
    hour, weekday = hour_weekday(r.local_ms[sl])
    click = r.click[sl].astype("S1").tolist()
    return [
        click,
        weekday.astype("S1").tolist(),
        t.hour[hour].tolist(),
        r.bidid[sl].tolist(),
        _timestamps(r.local_ms[sl]).tolist(),
        repeat(b"1"),  # logtype: impression
        r.user_id[sl].tolist(),
        t.useragent[x.useragent[sl]].tolist(),
        r.ip[sl].tolist(),
        t.region[r.region[sl]].tolist(),
        t.city[x.city[sl]].tolist(),
        t.exchange[x.exchange[sl]].tolist(),
        inv.domain_names[x.domain[sl]].tolist(),
        inv.page_urls[r.page[sl]].tolist(),
        repeat(NULL),  # urlid
        inv.slot_ids[slot].tolist(),
        t.width[x.size[sl]].tolist(),
        t.height[x.size[sl]].tolist(),
        t.visibility[inv.slot_visibility[slot]].tolist(),
        repeat(b"Na"),  # slotformat
        x.floor_fen[sl].astype("S6").tolist(),
        t.creative[x.creative[sl]].tolist(),
        r.bidprice[sl].astype("S6").tolist(),
        r.market_price[sl].astype("S6").tolist(),
        repeat(NULL),  # keypage
        t.campaign[x.campaign[sl]].tolist(),
        _usertags(x.tags[sl], t.tags),
        click,  # nclick
        repeat(b"0"),  # nconversation
        _fixed10(r.true_ctr[sl]).tolist(),
        r.market_price[sl].astype("S6").tolist(),
    ]


def _chunks(n: int) -> Iterator[slice]:
    for start in range(0, n, CHUNK_ROWS):
        yield slice(start, min(start + CHUNK_ROWS, n))


def write_log(path: Path, world: World, rows: MarketRows) -> None:
    """``log.tsv``: header line, then one TAB-separated line per row, in time order."""
    tables = _Tables(world)
    header = [*world.marginals.log_header, *EXTRA_COLUMNS]
    with path.open("wb") as f:
        f.write("\t".join(header).encode() + b"\n")
        for sl in _chunks(len(rows)):
            cols = _log_columns(world, rows, tables, sl)
            lines = map(b"\t".join, zip(*cols, strict=False))  # constant columns are repeat()s
            f.write(b"\n".join(lines) + b"\n")


def _request(
    bidid: str,
    slotid: str,
    w: int,
    h: int,
    pos: int,
    floor_fen: int,
    domain: str,
    page: str,
    ua: str,
    ip: str,
    region: str,
    city: str,
    user: str,
    tags: bytes,
) -> dict[str, Any]:
    """One OpenRTB 2.5 BidRequest carrying the log row's information."""
    req: dict[str, Any] = {
        "id": bidid,
        "at": 2,
        "tmax": 100,
        "cur": ["CNY"],
        "imp": [
            {
                "id": "1",
                "tagid": slotid,
                "banner": {"w": w, "h": h, "pos": pos},
                "bidfloor": floor_fen / 100,
                "bidfloorcur": "CNY",
            }
        ],
        "site": {"domain": domain, "page": page},
        "device": {"ua": ua, "ip": ip, "geo": {"country": "CHN", "region": region, "city": city}},
        "user": {"id": user},
    }
    if tags != NULL:
        segments = [{"id": t} for t in tags.decode().split(",")]
        req["user"]["data"] = [{"id": "ipinyou", "segment": segments}]
    return req


def _write_request_chunk(f: BinaryIO, world: World, r: MarketRows, t: _Tables, sl: slice) -> None:
    inv, x = world.inventory, r.features
    slot = r.slot[sl]
    pos_values = np.array(POSITIONS)[x.position[sl]].tolist()
    exchange = ["adx" + e for e in t.exchange[x.exchange[sl]].astype("U").tolist()]
    columns = zip(
        r.bidid[sl].astype("U").tolist(),
        inv.slot_ids[slot].astype("U").tolist(),
        np.array([w for w, _ in inv.sizes])[x.size[sl]].tolist(),
        np.array([h for _, h in inv.sizes])[x.size[sl]].tolist(),
        pos_values,
        x.floor_fen[sl].tolist(),
        inv.domain_names[x.domain[sl]].astype("U").tolist(),
        inv.page_urls[r.page[sl]].astype("U").tolist(),
        t.useragent[x.useragent[sl]].astype("U").tolist(),
        r.ip[sl].astype("U").tolist(),
        t.region[r.region[sl]].astype("U").tolist(),
        t.city[x.city[sl]].astype("U").tolist(),
        r.user_id[sl].astype("U").tolist(),
        _usertags(x.tags[sl], t.tags),
        strict=True,
    )
    lines = [
        orjson.dumps(
            {"exchange": ex, "timestamp_ms": ts, "bidid": cols[0], "request": _request(*cols)}
        )
        for ex, ts, cols in zip(exchange, r.timestamp_ms[sl].tolist(), columns, strict=True)
    ]
    f.write(b"\n".join(lines) + b"\n")


def write_requests(path: Path, world: World, rows: MarketRows) -> None:
    """``requests.jsonl``: one ``{"exchange", "timestamp_ms", "bidid", "request"}`` per row."""
    tables = _Tables(world)
    with path.open("wb") as f:
        for sl in _chunks(len(rows)):
            _write_request_chunk(f, world, rows, tables, sl)
