"""The whole shared OpenRTB corpus through the HTTP app with the example config.yaml."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from tests.bidder.serving import EXAMPLE_CONFIG, FakeClock, make_app, make_runtime

ACCEPTED_INVALID = Path(__file__).resolve().parent / "openrtb" / "invalid_accepted.json"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_corpus_valid_requests_get_200_or_204(
    shared_data: Path, tmp_path: Path, aiohttp_client: Any
) -> None:
    runtime = make_runtime(EXAMPLE_CONFIG, tmp_path, FakeClock())
    client = await aiohttp_client(make_app(runtime))
    by_role: Counter[tuple[str, int]] = Counter()
    records = _lines(shared_data / "openrtb" / "requests.jsonl")
    assert len(records) == 4670
    for record in records:
        resp = await client.post("/bid", data=orjson.dumps(record["request"]))
        await resp.read()
        by_role[(record["role"], resp.status)] += 1
    statuses = {status for _, status in by_role}
    assert statuses <= {200, 204}, by_role
    pbs_bids = by_role[("pbs_to_bidder", 200)]
    pbs_total = pbs_bids + by_role[("pbs_to_bidder", 204)]
    assert pbs_total == 1469
    assert pbs_bids / pbs_total >= 0.20, by_role


async def test_corpus_invalid_requests_get_400_or_are_listed(
    shared_data: Path, tmp_path: Path, aiohttp_client: Any
) -> None:
    accepted = json.loads(ACCEPTED_INVALID.read_text())
    runtime = make_runtime(EXAMPLE_CONFIG, tmp_path, FakeClock())
    client = await aiohttp_client(make_app(runtime))
    records = _lines(shared_data / "openrtb" / "requests_invalid.jsonl")
    assert len(records) == 109
    for record in records:
        resp = await client.post("/bid", data=orjson.dumps(record["request"]))
        text = await resp.text()
        if record["sha1"] in accepted:
            assert resp.status in (200, 204), (record["source"], text)
        else:
            assert resp.status == 400, record["source"]
            assert text.strip(), "a 400 must say why"
