"""Signed notices over HTTP: every refusal is counted by reason; no forged URL ever charges."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.notices import NoticeKind
from tests.bidder.serving import GOLDEN_CONFIG, ROOT, FakeClock, make_app, make_runtime
from tests.reliability.conftest import LoopServer

GOLDEN = ROOT / "tests" / "golden" / "openrtb"
_AUCTIONS = itertools.count(1000)


def _request(n: int) -> dict[str, Any]:
    request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]
    request["id"] = f"notice-{n}"
    request["user"] = {"id": f"u-{n}"}
    request["tmax"] = 5000  # a loaded CI machine must not turn the bid into a late no-bid
    return request


async def _nurl(client: Any, n: int) -> str:
    resp = await client.post("/bid", json=_request(n))
    assert resp.status == 200
    return str(json.loads(await resp.text())["seatbid"][0]["bid"][0]["nurl"])


def _path_and_query(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def _refusals(runtime: Any, reason: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "bidder_notice_errors_total", {"kind": "win", "reason": reason}
    )
    return float(value or 0.0)


def _with(query: list[tuple[str, str]], **changes: str | None) -> str:
    out = [(k, changes.get(k, v)) for k, v in query if changes.get(k, v) is not None]
    return urlencode(out)


@pytest.mark.parametrize(
    ("reason", "status", "change"),
    [
        ("unsigned", 403, {"s": None}),
        ("unknown_key", 403, {"k": "nope"}),
        ("bad_signature", 403, {"p": "999999999"}),
        ("price_missing", 400, {"price": None}),
        ("bad_price", 400, {"price": "NaN"}),
        ("price_above_bid", 400, {"price": "500"}),
        ("expired", 410, {}),
        ("replayed", 409, {}),
    ],
)
async def test_notice_refusal_is_answered_and_counted_by_reason(
    aiohttp_client: Any, tmp_path: Path, reason: str, status: int, change: dict[str, str | None]
) -> None:
    clock = FakeClock()
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, clock)
    client = await aiohttp_client(make_app(runtime))
    path, query = _path_and_query((await _nurl(client, 1)).replace("${AUCTION_PRICE}", "1.5"))
    if reason == "replayed":
        assert (await client.get(f"{path}?{_with(query)}")).status == 200
    if reason == "expired":
        clock.advance(runtime.config.server.notice_ttl_s + 1)
    before = _refusals(runtime, reason)
    resp = await client.get(f"{path}?{_with(query, **change)}")
    assert resp.status == status
    assert (await resp.text()).strip() == reason
    assert _refusals(runtime, reason) == before + 1


async def test_notice_for_unknown_bid_is_refused_and_counted(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock())
    client = await aiohttp_client(make_app(runtime))
    facts = {"a": "never-bid", "i": "1", "b": "no-such-key", "c": "g-banner", "cr": "g-300x250"}
    url = runtime.signer.url(
        NoticeKind.WIN, {**facts, "p": "5000", "r": "1.0", "t": str(int(FakeClock()()))}
    )
    path, query = _path_and_query(url.replace("${AUCTION_PRICE}", "1.0"))
    resp = await client.get(f"{path}?{_with(query)}")
    assert resp.status == 404
    assert _refusals(runtime, "unknown_bid") == 1


async def test_notice_with_malformed_signed_fields_is_refused_and_counted(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock())
    client = await aiohttp_client(make_app(runtime))
    url = runtime.signer.url(NoticeKind.WIN, {"a": "x", "b": "y", "p": "lots", "r": "1", "t": "0"})
    path, query = _path_and_query(url.replace("${AUCTION_PRICE}", "1.0"))
    resp = await client.get(f"{path}?{_with(query)}")
    assert resp.status == 400
    assert _refusals(runtime, "malformed") == 1


_FIELDS = ("a", "i", "b", "c", "cr", "p", "r", "t", "x", "u", "k", "s", "price")
_values = (
    st.text(max_size=12)
    | st.integers(-(10**12), 10**12).map(str)
    | st.sampled_from(
        ["", "0", "-1", "NaN", "inf", "1e308", "${AUCTION_PRICE}", "k1", "k2", "999999"]
    )
)


@settings(max_examples=300)
@given(
    changes=st.dictionaries(st.sampled_from(_FIELDS), _values | st.none(), min_size=1, max_size=4),
    drop_price_change=st.booleans(),
)
def test_notice_forged_or_tampered_url_never_charges(
    loop_server: LoopServer, changes: dict[str, str | None], drop_price_change: bool
) -> None:
    """Whatever signed field is changed, dropped or added, the ledger is not charged."""
    server = loop_server

    async def attempt() -> tuple[int, float, float]:
        n = next(_AUCTIONS)
        path, query = _path_and_query(
            (await _nurl(server.client, n)).replace("${AUCTION_PRICE}", "1.5")
        )
        original = dict(query)
        if drop_price_change:
            changes.pop("price", None)
        effective = {k: v for k, v in changes.items() if original.get(k) != v}
        spend_before = _charged(server)
        async with server.client.get(f"{path}?{_with(query, **effective)}") as resp:
            await resp.read()
            status = resp.status
        signed_changed = any(k != "price" for k in effective)
        return status if signed_changed else -1, spend_before, _charged(server)

    status, before, after = server.run(attempt())
    if status != -1:  # a signed field (or the key/signature) was altered
        assert status != 200
        assert after == before


def _charged(server: LoopServer) -> float:
    value = server.runtime.metrics.registry.get_sample_value(
        "bidder_charged_micros_total", {"campaign": "g-banner"}
    )
    return float(value or 0.0)
