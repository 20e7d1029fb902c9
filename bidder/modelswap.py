"""Model hot swap: load and check a model off the event loop, then swap it by reference."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
from aiohttp import web

from bidder.errors import ModelError
from bidder.handlers import RUNTIME
from bidder.runtime import Runtime

log = logging.getLogger(__name__)


def _load(path: Path) -> object:
    from bidder.model.scorer import load_scorer

    return load_scorer(path)


async def swap_model(runtime: Runtime, path: Path) -> str:
    """Load ``path`` in a worker thread (schema hash and canary rows checked by the loader),
    then swap it in atomically. Requests keep using the old model until the swap; a model
    that fails its checks never serves. Returns the new version; raises ``ModelError``.
    """
    loop = asyncio.get_running_loop()
    try:
        scorer = await loop.run_in_executor(None, _load, path)
    except ModelError:
        runtime.metrics.model_swaps.labels("error").inc()
        raise
    except Exception as exc:  # unreadable files, LightGBM errors: refuse, keep serving
        runtime.metrics.model_swaps.labels("error").inc()
        raise ModelError(f"model {path} could not be loaded: {exc}") from exc
    from bidder.model.scorer import LightGBMScorer

    assert isinstance(scorer, LightGBMScorer)
    runtime.set_scorer(scorer)
    runtime.metrics.model_swaps.labels("ok").inc()
    log.info("model swapped: %s", scorer.version)
    return scorer.version


async def admin_model(request: web.Request) -> web.Response:
    """``POST /admin/model`` with ``{"path": "models/NAME"}``: swap the serving model."""
    from bidder.admin import authorised

    runtime = request.app[RUNTIME]
    if not authorised(request, runtime.config.server.admin_token):
        return web.Response(status=401, text="admin token required\n")
    try:
        body = orjson.loads(await request.read())
        path = Path(str(body["path"]))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return web.Response(status=400, text='body must be {"path": "<model dir>"}\n')
    try:
        version = await swap_model(runtime, path)
    except ModelError as err:
        return web.Response(status=422, text=f"{err}\n")
    return web.json_response({"version": version})
