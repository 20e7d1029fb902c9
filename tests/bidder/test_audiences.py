"""Audience builder: retargeting, RFM, clusters, segments, and pixel -> build -> bid end to end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient

from bidder.audiences import AudienceSpec, apply_build, build_audiences
from bidder.audiences.rfm import RfmScore, quantile_scores, rfm_segment
from bidder.audiences.segments import age_band, bidlog_user_tags
from bidder.eventstore import Event, EventKind
from bidder.handlers import RUNTIME
from bidder.pixel import PIXEL
from bidder.stores.tags import EmbeddedTagStore
from rtb import cmd_audiences
from tests.bidder.serving import EXAMPLE_CONFIG, START, FakeClock, make_app, make_runtime

DAY = 86_400.0
ADV = "harbor-bank.com"


def ev(user: str, kind: EventKind, days_ago: float, value: float = 0.0) -> Event:
    return Event(START - days_ago * DAY, ADV, kind, user, round(value * 1e6))


def test_audiences_retarget_visitors_and_cart_abandoners() -> None:
    events = [
        ev("visitor", EventKind.VISIT, 2),
        ev("old", EventKind.VISIT, 40),
        ev("abandoner", EventKind.CART, 1),
        ev("buyer", EventKind.CART, 3),
        ev("buyer", EventKind.PURCHASE, 2, 50),
    ]

    build = build_audiences(events, (), START, AudienceSpec(window_days=30))

    tags = build.user_to_tag_ttl
    assert tags["visitor"]["retarget:visitors"] == pytest.approx(28 * DAY)
    assert "old" not in tags or "retarget:visitors" not in tags["old"]
    assert tags["abandoner"]["retarget:cart_abandoners"] == pytest.approx(29 * DAY)
    assert "retarget:cart_abandoners" not in tags["buyer"]
    assert build.tag_to_size["retarget:visitors"] == 3


def test_audiences_ignores_future_events_and_other_advertisers() -> None:
    other = Event(START - DAY, "example-motors.com", EventKind.VISIT, "u")
    future = ev("v", EventKind.VISIT, -1)

    build = build_audiences([other, future], (), START, AudienceSpec(advertiser=ADV))

    assert build.user_to_tag_ttl == {}
    assert build.events_read == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, 2.0, 3.0], [1, 2, 3]), ([5.0, 5.0, 5.0], [1, 1, 1]), ([1.0, 1.0, 9.0], [1, 1, 3])],
)
def test_rfm_quantile_scores_share_scores_on_ties(values: list[float], expected: list[int]) -> None:
    assert quantile_scores(np.array(values), 3).tolist() == expected


@pytest.mark.parametrize(
    ("score", "segment"),
    [
        (RfmScore(3, 3, 1), "champions"),
        (RfmScore(1, 3, 3), "at_risk"),
        (RfmScore(1, 1, 1), "hibernating"),
        (RfmScore(2, 3, 1), "loyal"),
        (RfmScore(3, 1, 1), "new"),
        (RfmScore(2, 1, 2), "potential"),
    ],
)
def test_rfm_segment_names(score: RfmScore, segment: str) -> None:
    assert rfm_segment(score, 3) == segment


def test_audiences_rfm_and_clusters_tag_every_buyer() -> None:
    events = []
    for i in range(30):
        user = f"u{i}"
        events.append(ev(user, EventKind.VISIT, 1 + i % 10))
        for k in range(i % 4):
            events.append(ev(user, EventKind.PURCHASE, 1 + k + i % 7, 10.0 * (i % 5 + 1)))

    build = build_audiences(events, (), START, AudienceSpec(clusters=3))

    buyers = {f"u{i}" for i in range(30) if i % 4}
    rfm_users = {
        u for u, t in build.user_to_tag_ttl.items() if any(x.startswith("rfm:r") for x in t)
    }
    assert rfm_users == buyers
    cluster_sizes = [build.tag_to_size[f"cluster:{k}"] for k in range(3)]
    assert sum(cluster_sizes) == 30
    assert cluster_sizes == sorted(cluster_sizes, reverse=True)
    assert len(build.cluster_centroids) == 3


@pytest.mark.parametrize(("age", "band"), [(17, None), (18, "18-24"), (40, "35-44"), (70, "65+")])
def test_audiences_age_band(age: int, band: str | None) -> None:
    assert age_band(age) == band


def test_audiences_segments_from_bidlog_users() -> None:
    record = {
        "type": "decision",
        "ts": START,
        "request": {
            "user": {
                "id": "h:abc",
                "gender": "F",
                "yob": 1990,
                "data": [
                    {"id": "ipinyou", "segment": [{"id": "10006"}]},
                    {"id": "dmp", "segment": [{"name": "age", "value": "25-34"}]},
                ],
            }
        },
    }

    tags = bidlog_user_tags([record, {"type": "notice"}])

    assert set(tags["abc"]) == {
        "demo:gender:f", "demo:age:35-44", "interest:ipinyou:10006", "demo:age:25-34",
    }  # fmt: skip


def test_audiences_rebuild_drops_stale_owned_tags_only() -> None:
    store = EmbeddedTagStore()
    store.add("u", ["retarget:cart_abandoners", "crm:vip"], DAY, START)
    build = build_audiences([ev("u", EventKind.VISIT, 1)], (), START, AudienceSpec())

    apply_build(store, build, START, ["u"])

    assert store.tags("u", START) == {"retarget:visitors", "crm:vip"}  # one user: no clusters


def example_config_in(tmp_path: Path, state: Path) -> Path:
    """config.yaml with its state and bid log under ``tmp_path``: the CLI reads the bid
    log it names, and the checkout's own ``var/bidlog.jsonl`` (left by ``rtb serve``)
    must not leak into a test."""
    text = EXAMPLE_CONFIG.read_text()
    for old, new in (
        ("state_dir: var/state", f"state_dir: {state}"),
        ("bidlog_path: var/bidlog.jsonl", f"bidlog_path: {tmp_path / 'bidlog.jsonl'}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _bid_request(request_id: str, user_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "tmax": 200,
        "bcat": ["IAB2"],  # keeps the broad automotive campaign out of the auction
        "imp": [{"id": "1", "banner": {"w": 320, "h": 50}, "bidfloor": 0.1}],
        "app": {"id": "app-1", "bundle": "com.example.news", "publisher": {"id": "p1"}},
        "device": {"devicetype": 4, "os": "android", "ua": "Mozilla/5.0 (Linux; Android 14)",
                   "ip": "198.51.100.7", "geo": {"country": "USA"}},
        "user": {"id": user_id},
    }  # fmt: skip


async def _bid_campaigns(client: TestClient, body: dict[str, Any]) -> set[str]:  # type: ignore[type-arg]
    resp = await client.post("/bid", json=body)
    if resp.status == 204:
        return set()
    assert resp.status == 200, await resp.text()
    payload = await resp.json()
    return {bid["cid"] for seat in payload["seatbid"] for bid in seat["bid"]}


async def test_audiences_pixel_build_then_retargeting_bids(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    clock = FakeClock()  # 12:00 UTC: inside harbor-retarget-app's hours 7-22
    runtime = make_runtime(EXAMPLE_CONFIG, state, clock, admin_token="tok")
    client = await aiohttp_client(make_app(runtime))
    signer = client.app[PIXEL].signer
    for ev_name in ("visit", "cart"):
        params = {"adv": ADV, "ev": ev_name, "uid": "user-42"}
        resp = await client.get("/pixel", params={**params, "sig": signer.sign(params)})
        assert resp.status == 200
    assert "harbor-retarget-app" not in await _bid_campaigns(client, _bid_request("r0", "user-42"))
    config_path = example_config_in(tmp_path, state)

    code = cmd_audiences.run(
        argparse.Namespace(
            action="build", config=str(config_path), events=None, bidlog=None, tags=None,
            now=str(clock()), advertiser=ADV, window_days=30, clusters=4, rfm_bins=3, seed=0,
            reload_url=None, json=True,
        )
    )  # fmt: skip
    assert code == 0
    resp = await client.post("/admin/tags/reload", headers={"Authorization": "Bearer tok"})
    assert resp.status == 200
    assert (await resp.json())["users"] == 1

    assert "harbor-retarget-app" in await _bid_campaigns(client, _bid_request("r1", "user-42"))
    assert "harbor-retarget-app" not in await _bid_campaigns(
        client, _bid_request("r2", "stranger-7")
    )
    user_hash = client.app[RUNTIME].hasher.hash("user-42")
    assert {"retarget:visitors", "retarget:cart_abandoners"} <= client.app[RUNTIME].tags.tags(
        user_hash, clock()
    )


async def test_audiences_tag_reload_requires_token(aiohttp_client: Any, tmp_path: Path) -> None:
    runtime = make_runtime(EXAMPLE_CONFIG, tmp_path / "s", FakeClock(), admin_token="tok")
    client = await aiohttp_client(make_app(runtime))

    assert (await client.post("/admin/tags/reload")).status == 401
    resp = await client.post("/admin/tags/reload", headers={"Authorization": "Bearer tok"})
    assert resp.status == 404


def test_audiences_cli_reports_missing_events_readably(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = example_config_in(tmp_path, tmp_path)
    args = argparse.Namespace(
        action="build", config=str(config_path), events=tmp_path / "none.jsonl", bidlog=None,
        tags=None, now="2026-06-01", advertiser=None, window_days=30, clusters=4, rfm_bins=3,
        seed=0, reload_url=None, json=False,
    )  # fmt: skip

    assert cmd_audiences.run(args) == 1
    assert "no events file at" in capsys.readouterr().err
