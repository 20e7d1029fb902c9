"""The HTTP app end to end: bids, notices charged once, refusals, metrics, reload, gzip."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_app, make_runtime

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "openrtb"


def golden_request(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / "bid" / f"{name}.json").read_text())["request"]


def metric(runtime: Any, name: str, **labels: str) -> float:
    value = runtime.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def notice_path(url: str, price: str | None = None) -> str:
    parts = urlsplit(url)
    query = parts.query
    if price is not None:
        query = query.replace("${AUCTION_PRICE}", price)
    return f"{parts.path}?{query}"


@pytest.fixture
async def served(tmp_path: Path, aiohttp_client: Any) -> tuple[Any, Any, FakeClock]:
    clock = FakeClock()
    config = tmp_path / "config.yaml"
    shutil.copy(GOLDEN_CONFIG, config)
    runtime = make_runtime(config, tmp_path / "state", clock, admin_token="s3cret")
    client = await aiohttp_client(make_app(runtime))
    return client, runtime, clock


async def post_bid(client: Any, request: dict[str, Any]) -> tuple[int, Any]:
    resp = await client.post("/bid/testx", data=orjson.dumps(request))
    text = await resp.text()
    return resp.status, (json.loads(text) if resp.status == 200 else text)


async def test_server_win_notice_charges_once(served: Any) -> None:
    client, runtime, _ = served
    status, body = await post_bid(client, golden_request("banner-300x250-site"))
    assert status == 200
    bid = body["seatbid"][0]["bid"][0]
    win = notice_path(bid["nurl"], "1.25")
    first = await client.get(win)
    assert first.status == 200
    second = await client.get(win)
    assert second.status == 409
    assert metric(runtime, "bidder_charged_micros_total", campaign="g-banner") == 1250
    spend = metric(runtime, "bidder_campaign_spend_micros", campaign="g-banner", period="total")
    runtime.tick()
    spend = metric(runtime, "bidder_campaign_spend_micros", campaign="g-banner", period="total")
    assert spend == 1250
    assert metric(runtime, "bidder_notice_errors_total", kind="win", reason="replayed") == 1


async def test_server_refuses_tampered_and_overpriced_notices(served: Any) -> None:
    client, runtime, _ = served
    _, body = await post_bid(client, golden_request("banner-300x250-site"))
    nurl = body["seatbid"][0]["bid"][0]["nurl"]
    tampered = notice_path(nurl, "1.0").replace("p=2000", "p=9000")
    assert (await client.get(tampered)).status == 403
    unsigned = notice_path(nurl, "1.0").split("&k=")[0] + "&price=1.0"
    assert (await client.get(unsigned)).status == 403
    assert (await client.get(notice_path(nurl, "2.5"))).status == 400  # above the 2.00 bid
    assert (await client.get(notice_path(nurl))).status == 400  # macro never replaced
    assert metric(runtime, "bidder_charged_micros_total", campaign="g-banner") == 0
    assert metric(runtime, "bidder_notice_errors_total", kind="win", reason="bad_signature") == 1
    assert metric(runtime, "bidder_notice_errors_total", kind="win", reason="unsigned") == 1
    assert metric(runtime, "bidder_notice_errors_total", kind="win", reason="price_above_bid") == 1


async def test_server_expired_notice_refused(served: Any) -> None:
    client, runtime, clock = served
    _, body = await post_bid(client, golden_request("banner-300x250-site"))
    nurl = body["seatbid"][0]["bid"][0]["nurl"]
    clock.advance(runtime.config.server.notice_ttl_s + 1)
    assert (await client.get(notice_path(nurl, "1.0"))).status == 410


async def test_server_bill_charges_video_campaign(served: Any) -> None:
    client, runtime, _ = served
    _, body = await post_bid(client, golden_request("video-mp4"))
    bid = body["seatbid"][0]["bid"][0]
    assert (await client.get(notice_path(bid["nurl"], "5.0"))).status == 200  # recorded only
    assert metric(runtime, "bidder_charged_micros_total", campaign="g-video") == 0
    assert (await client.get(notice_path(bid["burl"], "5.0"))).status == 200
    assert metric(runtime, "bidder_charged_micros_total", campaign="g-video") == 5000


async def test_server_loss_releases_and_records_min_to_win(served: Any) -> None:
    client, runtime, _ = served
    _, body = await post_bid(client, golden_request("banner-300x250-site"))
    lurl = body["seatbid"][0]["bid"][0]["lurl"]
    path = (
        notice_path(lurl, "0")
        .replace("${AUCTION_LOSS}", "102")
        .replace("${AUCTION_MIN_TO_WIN}", "2.4")
    )
    assert (await client.get(path)).status == 200
    loss = runtime.notices.losses[-1]
    assert (loss.loss_code, loss.min_to_win_micros) == (102, 2400)
    assert runtime.ledger.campaign_spend("g-banner", runtime.clock()).reserved_micros == 0


async def test_server_test_request_never_spends(served: Any) -> None:
    client, runtime, _ = served
    _, body = await post_bid(client, golden_request("test-request"))
    nurl = body["seatbid"][0]["bid"][0]["nurl"]
    assert runtime.ledger.campaign_spend("g-banner", runtime.clock()).reserved_micros == 0
    assert (await client.get(notice_path(nurl, "1.0"))).status == 200
    assert metric(runtime, "bidder_charged_micros_total", campaign="g-banner") == 0


async def test_server_frequency_cap_counts_wins(served: Any) -> None:
    client, _, _ = served
    request = golden_request("banner-300x250-site")
    request["user"] = {"id": "capped-user"}
    for n in range(3):
        request["id"] = f"cap-{n}"
        status, body = await post_bid(client, request)
        if n < 2:
            assert status == 200
            win = notice_path(body["seatbid"][0]["bid"][0]["nurl"], "1.0")
            assert (await client.get(win)).status == 200
        else:
            assert status == 204  # cap of 2 per hour reached


async def test_server_gzip_body_and_invalid_lines(served: Any) -> None:
    client, runtime, _ = served
    raw = orjson.dumps(golden_request("banner-300x250-site"))
    resp = await client.post("/bid", data=gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    assert resp.status == 200
    bad = {"id": "x", "imp": [{"id": "1", "banner": {"w": "wide", "h": 250}}]}
    resp = await client.post("/bid", data=orjson.dumps(bad))
    assert resp.status == 400
    assert "imp[0].banner.w: must be an integer" in (await resp.text())
    resp = await client.post("/bid", data=b"{not json")
    assert resp.status == 400
    assert metric(runtime, "bidder_requests_total", exchange="default", outcome="invalid") == 2


async def test_server_body_too_large_is_413(served: Any) -> None:
    client, _, _ = served
    resp = await client.post("/bid", data=b" " * (300 * 1024))
    assert resp.status == 413


async def test_server_admin_reload_keeps_old_config_on_error(served: Any) -> None:
    client, runtime, _ = served
    assert (await client.post("/admin/reload")).status == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.post("/admin/reload", headers=wrong)).status == 401
    auth = {"Authorization": "Bearer s3cret"}
    path = runtime.config_path
    old_version = runtime.config.version
    path.write_text(path.read_text().replace("daily: 100", "daily: -50", 1))
    resp = await client.post("/admin/reload", headers=auth)
    assert resp.status == 422
    assert "campaigns[0].budget.daily: must be > 0, got -50" in await resp.text()
    assert runtime.config.version == old_version
    status, _ = await post_bid(client, golden_request("banner-300x250-site"))
    assert status == 200  # the old config keeps serving
    assert metric(runtime, "bidder_config_reloads_total", result="error") == 1
    path.write_text(path.read_text().replace("daily: -50", "daily: 50", 1))
    assert (await client.post("/admin/reload", headers=auth)).status == 200
    assert runtime.config.version != old_version
    assert metric(runtime, "bidder_config_reloads_total", result="ok") == 1


async def test_server_metrics_health_ready(served: Any) -> None:
    client, _, _ = served
    await post_bid(client, golden_request("banner-300x250-site"))
    text = await (await client.get("/metrics")).text()
    assert 'bidder_requests_total{exchange="testx",outcome="bid"} 1.0' in text
    assert "bidder_model_info" in text
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200


async def test_server_click_redirects_and_counts_once(served: Any) -> None:
    client, runtime, _ = served
    _, body = await post_bid(client, golden_request("banner-300x250-site"))
    bid = body["seatbid"][0]["bid"][0]
    assert (await client.get(notice_path(bid["nurl"], "1.0"))).status == 200
    adm = bid["adm"]
    click = adm.split('href="')[1].split('"')[0].replace("&amp;", "&")
    path = notice_path(click)
    first = await client.get(path, allow_redirects=False)
    assert first.status == 302
    assert first.headers["Location"] == "https://g-motors.com/a"
    again = await client.get(path, allow_redirects=False)
    assert again.status == 302
    assert metric(runtime, "bidder_clicks_total", campaign="g-banner") == 1
    assert metric(runtime, "bidder_model_impressions_total", version="prior") == 1
    assert metric(runtime, "bidder_model_predicted_clicks_total", version="prior") == 0.001
    assert metric(runtime, "bidder_model_clicks_total", version="prior") == 1
    arms = runtime.notices.arms.snapshot()["g-banner"]
    ((_, counts),) = arms.items()
    assert (counts.impressions, counts.clicks, counts.spend_micros) == (1, 1, 1000)
    forged = path.replace("cr=g-300x250", "cr=g-728x90")
    assert (await client.get(forged, allow_redirects=False)).status == 403
