"""The naive bidder: parse with orjson, build a fresh feature row, call ``Booster.predict``
once per request, bid a fixed-formula price on the first imp.

No targeting index, no preallocation, no pacing, no ledger: what a first version of a
bidder typically looks like. Run: ``python benchmarks/http_baselines/naive.py --model DIR``.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run


def _code(value: object) -> float:
    return float(zlib.crc32(str(value).encode()) % 64)


def make_app_factory(model_dir: Path) -> Any:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(model_dir / "model.txt"))
    n_features = booster.num_feature()

    async def bid(request: web.Request) -> web.Response:
        req = orjson.loads(await request.read())
        imps = req.get("imp") or []
        if not imps:
            return web.Response(status=204)
        imp = imps[0]
        site = req.get("site") or req.get("app") or {}
        device = req.get("device") or {}
        row = np.zeros((1, n_features), dtype=np.float64)  # allocated per request
        values = (
            site.get("domain") or site.get("bundle"),
            (site.get("publisher") or {}).get("id"),
            device.get("devicetype"),
            device.get("os"),
            ((device.get("geo") or {}).get("country")),
            imp.get("bidfloor"),
        )
        for i, v in enumerate(values[:n_features]):
            row[0, i] = _code(v)
        pctr = float(booster.predict(row, num_threads=1)[0])
        price = round(pctr * 1500.0, 4)
        if price <= float(imp.get("bidfloor") or 0.0):
            return web.Response(status=204)
        body = {
            "id": req.get("id"),
            "seatbid": [{"bid": [{"id": "1", "impid": imp.get("id"), "price": price}]}],
            "cur": "USD",
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_post("/bid", bid)
        app.router.add_post("/bid/{exchange}", bid)
        return app

    return make_app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9102)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--model", type=Path, required=True)
    args = p.parse_args()
    run(make_app_factory(args.model), args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
