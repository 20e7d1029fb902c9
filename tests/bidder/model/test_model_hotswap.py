"""Model hot swap under load: no request fails while models are swapped in and out."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import orjson

from bidder.model.train import TrainConfig, TrainResult, train_model
from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_app, make_runtime

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "openrtb"
AUTH = {"Authorization": "Bearer s3cret"}


async def test_model_hotswap_under_load_never_fails_a_request(
    trained: TrainResult, synthetic_dir: Path, tmp_path: Path, aiohttp_client: Any
) -> None:
    other = train_model(
        synthetic_dir,
        "synthetic",
        tmp_path / "other",
        TrainConfig(seed=2, num_boost_round=30, num_leaves=7, num_threads=1, baseline=False),
        progress=None,
    )
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path / "state", FakeClock(), admin_token="s3cret")
    client = await aiohttp_client(make_app(runtime))
    request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]
    statuses: list[int] = []

    async def bid(n: int) -> None:
        body = dict(request, id=f"swap-{n}")
        resp = await client.post("/bid", data=orjson.dumps(body))
        await resp.read()
        statuses.append(resp.status)

    async def swap(path: Path) -> int:
        resp = await client.post(
            "/admin/model", data=orjson.dumps({"path": str(path)}), headers=AUTH
        )
        await resp.read()
        return resp.status

    swaps: list[int] = []
    for round_ in range(6):
        model = trained.model_dir if round_ % 2 == 0 else other.model_dir
        results = await asyncio.gather(swap(model), *(bid(round_ * 50 + n) for n in range(50)))
        swaps.append(results[0])
    assert swaps == [200] * 6
    assert len(statuses) == 300
    assert set(statuses) <= {200, 204}
    assert runtime.auction.scorer.version.startswith("other")
    registry = runtime.metrics.registry
    assert registry.get_sample_value("bidder_model_swaps_total", {"result": "ok"}) == 6
    version = runtime.auction.scorer.version
    assert registry.get_sample_value("bidder_model_info", {"version": version}) == 1


async def test_model_hotswap_bad_model_keeps_old_one(
    trained: TrainResult, tmp_path: Path, aiohttp_client: Any
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path / "state", FakeClock(), admin_token="s3cret")
    client = await aiohttp_client(make_app(runtime))
    broken = tmp_path / "broken"
    shutil.copytree(trained.model_dir, broken)
    (broken / "encoder.json").write_text("{}")
    before = runtime.auction.scorer.version
    for path in (broken, tmp_path / "missing"):
        resp = await client.post(
            "/admin/model", data=orjson.dumps({"path": str(path)}), headers=AUTH
        )
        assert resp.status == 422, await resp.text()
    assert runtime.auction.scorer.version == before
    resp = await client.post("/admin/model", data=b"{}", headers=AUTH)
    assert resp.status == 400
    resp = await client.post("/admin/model", data=orjson.dumps({"path": "x"}))
    assert resp.status == 401
