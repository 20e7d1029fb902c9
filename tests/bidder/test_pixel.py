"""Tracking pixel and conversion endpoint: signing, status codes, storage, counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bidder.eventstore import EmbeddedEventStore, EventKind, EventSource, read_events
from bidder.handlers import RUNTIME
from bidder.pixel import GIF_1X1, PIXEL, PixelSigner, advertiser_key, sign_params
from tests.bidder.serving import EXAMPLE_CONFIG, FakeClock, make_app, make_runtime

ADV = "harbor-bank.com"


def signed(signer: PixelSigner, **params: str) -> dict[str, str]:
    return {**params, "sig": signer.sign(params)}


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    runtime = make_runtime(EXAMPLE_CONFIG, tmp_path / "state", FakeClock())
    return await aiohttp_client(make_app(runtime))  # type: ignore[no-any-return]


def _signer(client: TestClient) -> PixelSigner:  # type: ignore[type-arg]
    return client.app[PIXEL].signer


def _metric(client: TestClient, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    value = client.app[RUNTIME].metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_pixel_signature_matches_advertiser_side_signing() -> None:
    signer = PixelSigner({"k2": "new", "k1": "old"}, "k2")
    params = {"adv": ADV, "ev": "visit", "uid": "u1"}

    assert signer.sign(params) == sign_params(advertiser_key("new", ADV), params)
    assert signer.verify(params, sign_params(advertiser_key("old", ADV), params))
    assert not signer.verify({**params, "uid": "u2"}, signer.sign(params))
    assert not signer.verify({**params, "adv": "example-motors.com"}, signer.sign(params))


def test_pixel_url_round_trips_through_verify() -> None:
    signer = PixelSigner({"k1": "s"}, "k1")
    url = signer.url("http://t.example/", {"adv": ADV, "ev": "cart", "uid": "a b&c"})

    assert url.startswith("http://t.example/pixel?adv=harbor-bank.com&ev=cart&uid=a+b%26c&sig=")


async def test_pixel_valid_hit_answers_gif_and_stores_hashed_user(
    client: TestClient,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    query = signed(_signer(client), adv=ADV, ev="purchase", value="49.90", uid="user-1")

    resp = await client.get("/pixel", params=query)

    assert resp.status == 200
    assert resp.content_type == "image/gif"
    assert await resp.read() == GIF_1X1
    service = client.app[PIXEL]
    service.store.close()
    events = list(read_events(tmp_path / "state" / "events.jsonl"))
    assert len(events) == 1
    event = events[0]
    assert event.kind is EventKind.PURCHASE
    assert event.value_micros == 49_900_000
    assert event.user_hash == service.hasher.hash("user-1") != "user-1"
    assert _metric(client, "bidder_pixel_events_total", source="pixel", event="purchase") == 1


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"sig": "AAAA"}, 403, "bad_signature"),
        ({"sig": ""}, 403, "unsigned"),
        ({"ev": "click"}, 400, "bad_event"),
        ({"adv": "nobody.example"}, 400, "unknown_advertiser"),
        ({"value": "-3"}, 400, "bad_value"),
        ({"value": "lots"}, 400, "bad_value"),
        ({"uid": ""}, 204, "no_user"),
        ({"adv": ""}, 400, "missing_field"),
    ],
)
async def test_pixel_refusals_answer_status_and_count_reason(
    client: TestClient,  # type: ignore[type-arg]
    change: dict[str, str],
    status: int,
    reason: str,
) -> None:
    params = {"adv": ADV, "ev": "visit", "uid": "user-1", "value": "1"}
    params.update({k: v for k, v in change.items() if k != "sig"})
    query = signed(_signer(client), **params)  # a valid signature over the changed fields
    query.update({k: v for k, v in change.items() if k == "sig"})

    resp = await client.get("/pixel", params={k: v for k, v in query.items() if v != ""})

    assert resp.status == status
    assert client.app[PIXEL].store.count() == 0
    assert _metric(client, "bidder_pixel_errors_total", source="pixel", reason=reason) == 1


async def test_conversion_post_accepts_signed_json(client: TestClient) -> None:  # type: ignore[type-arg]
    params = {"adv": ADV, "ev": "purchase", "value": "120", "uid": "user-9"}
    body = {**params, "sig": _signer(client).sign(params)}

    resp = await client.post("/conversion", json=body)

    assert resp.status == 202
    assert await resp.json() == {"status": "accepted", "event": "purchase"}
    service = client.app[PIXEL]
    summary = service.store.summary(ADV, service.hasher.hash("user-9"))
    assert summary is not None
    assert summary.revenue_micros == 120_000_000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed"),
        (b"[1]", "malformed"),
        (b'{"uid": "u"}', "missing_field"),
        (b'{"adv": "x"}', "no_user"),
    ],
)
async def test_conversion_post_refuses_bad_bodies(
    client: TestClient,  # type: ignore[type-arg]
    body: bytes,
    reason: str,
) -> None:
    resp = await client.post("/conversion", data=body)

    assert resp.status == 400
    assert (await resp.json())["error"] == reason


def test_eventstore_reloads_summaries_from_its_file(tmp_path: Path) -> None:
    from bidder.eventstore import Event

    path = tmp_path / "events.jsonl"
    store = EmbeddedEventStore(path)
    store.append(Event(10.0, ADV, EventKind.VISIT, "h1"))
    store.append(Event(20.0, ADV, EventKind.CART, "h1"))
    store.close()
    with path.open("ab") as fh:
        fh.write(b'{"type": "event", "torn\n')

    reopened = EmbeddedEventStore(path)

    summary = reopened.summary(ADV, "h1")
    assert summary is not None
    assert (summary.first_s, summary.last_s) == (10.0, 20.0)
    assert summary.kind_to_count == {EventKind.VISIT: 1, EventKind.CART: 1}
    assert reopened.count() == 2
    reopened.close()
    assert EventSource.PIXEL.value == "pixel"
