"""Admin API exposure and identity scrubbing in the bid log and log records."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bidder.app import build_app
from bidder.bidlog import BidLog
from bidder.config.load import parse_config
from bidder.config.model import ServerSettings
from tests.bidder.serving import GOLDEN_CONFIG, ROOT, FakeClock, make_app, make_runtime

GOLDEN = ROOT / "tests" / "golden" / "openrtb"
RAW_IDS = (
    "raw-user-7781",
    "raw-buyer-5532",
    "203.0.113.77",
    "2001:db8::77",
    "6D92078A-8246-4BA4-AE5B-76104861E7DC",
)


async def test_admin_without_configured_token_answers_401(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock())
    assert runtime.config.server.admin_token is None
    client = await aiohttp_client(make_app(runtime))
    for given in ("", "Bearer ", "Bearer None", "Bearer null"):
        headers = {"Authorization": given} if given else {}
        assert (await client.post("/admin/reload", headers=headers)).status == 401
        assert (await client.get("/admin/plan", headers=headers)).status == 401


async def test_admin_wrong_token_answers_401(aiohttp_client: Any, tmp_path: Path) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock(), admin_token="right")
    client = await aiohttp_client(make_app(runtime))
    assert (
        await client.get("/admin/plan", headers={"Authorization": "Bearer wrong"})
    ).status == 401
    assert (
        await client.get("/admin/plan", headers={"Authorization": "Bearer right"})
    ).status == 200


def test_admin_default_bind_address_is_localhost() -> None:
    assert ServerSettings().admin_host == "127.0.0.1"
    text = GOLDEN_CONFIG.read_text()
    assert parse_config(text, environ={}).server.admin_host == "127.0.0.1"
    assert parse_config(text, environ={}).server.admin_port != 0  # its own listener


async def test_admin_is_not_reachable_on_the_bid_port_by_default(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock(), admin_token="t")
    client = await aiohttp_client(build_app(runtime))  # what `rtb serve` runs on the bid port
    headers = {"Authorization": "Bearer t"}
    assert (await client.post("/admin/reload", headers=headers)).status == 404
    assert (await client.get("/admin/plan", headers=headers)).status == 404


async def test_privacy_raw_identities_never_reach_bid_log_or_log_records(
    aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bidlog = tmp_path / "bidlog.jsonl"
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock())
    runtime.bidlog = BidLog(bidlog, runtime.hasher)  # the helper turns the bid log off
    client = await aiohttp_client(make_app(runtime))
    request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]
    request["tmax"] = 5000
    request["user"] = {"id": RAW_IDS[0], "buyeruid": RAW_IDS[1]}
    request.setdefault("device", {}).update(ip=RAW_IDS[2], ipv6=RAW_IDS[3], ifa=RAW_IDS[4])
    with caplog.at_level(logging.DEBUG):
        resp = await client.post("/bid", json=request)
        assert resp.status == 200
        nurl = json.loads(await resp.text())["seatbid"][0]["bid"][0]["nurl"]
        path = nurl.split("bidder.test", 1)[1].replace("${AUCTION_PRICE}", "1.0")
        assert (await client.get(path)).status == 200
        runtime.bidlog.flush()
    written = b"".join(p.read_bytes() for p in tmp_path.glob("bidlog*.jsonl"))
    assert written.count(b'"type":"decision"') == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for raw in RAW_IDS:
        assert raw.encode() not in written, raw
        assert raw not in logged, raw
        assert raw not in nurl, raw  # the notice URL carries only the user hash
