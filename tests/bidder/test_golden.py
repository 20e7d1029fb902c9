"""Golden OpenRTB cases through the real HTTP app: tests/golden/openrtb/{bid,nobid,invalid}."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_app, make_runtime

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "openrtb"
CASES = sorted(
    p for folder in ("bid", "nobid", "invalid") for p in (GOLDEN / folder).glob("*.json")
)


def _flat_bids(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [bid for seat in body["seatbid"] for bid in seat["bid"]]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_golden_case(path: Path, tmp_path: Path, aiohttp_client: Any) -> None:
    case = json.loads(path.read_text())
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock())
    client = await aiohttp_client(make_app(runtime))
    body = case["body"].encode() if "body" in case else orjson.dumps(case["request"])
    resp = await client.post("/bid", data=body, headers={"Content-Type": "application/json"})
    expect = case["expect"]
    text = await resp.text()
    assert resp.status == expect["status"], text
    if path.parent.name == "bid":
        got = _flat_bids(json.loads(text))
        assert len(got) == len(expect["bids"])
        for bid, want in zip(got, expect["bids"], strict=True):
            for key, value in want.items():
                assert bid[key] == value, (key, bid)
            assert bid["nurl"].startswith("http://bidder.test/win?")
        warnings = runtime.metrics.registry.get_sample_value("bidder_request_warnings_total")
        assert warnings == 0.0, "bid/ cases must bid without warnings"
    elif path.parent.name == "nobid":
        assert resp.headers["X-Nbr-Reason"] == expect["nbr"]
    else:
        assert text.splitlines() == expect["errors"]
