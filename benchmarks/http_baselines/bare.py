"""The ceiling: a bare aiohttp server that parses the body with orjson and answers 204.

Run: ``python benchmarks/http_baselines/bare.py --port 9101 [--workers N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run


async def bid(request: web.Request) -> web.Response:
    orjson.loads(await request.read())
    return web.Response(status=204)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/bid", bid)
    app.router.add_post("/bid/{exchange}", bid)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9101)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    run(make_app, args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
