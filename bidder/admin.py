"""Admin API: reload, plan inspection; token required, localhost port by default."""

from __future__ import annotations

import asyncio
import hmac
import logging
from pathlib import Path

from aiohttp import web

from bidder.config.load import load_config
from bidder.errors import ConfigError, ModelError
from bidder.experiments import abtest_report
from bidder.handlers import RUNTIME
from bidder.modelswap import admin_model, swap_model
from bidder.runtime import Runtime

log = logging.getLogger(__name__)


def authorised(request: web.Request, token: str | None) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``; no token configured: refuse."""
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


async def admin_reload(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not authorised(request, runtime.config.server.admin_token):
        return web.Response(status=401, text="admin token required\n")
    if runtime.config_path is None:
        return web.Response(status=409, text="no config file to reload\n")
    problems = reload_config(runtime)
    if problems:
        return web.Response(status=422, text="\n".join(problems) + "\n")
    return web.Response(text=f"reloaded {runtime.config.version}\n")


async def admin_plan(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not authorised(request, runtime.config.server.admin_token):
        return web.Response(status=401, text="admin token required\n")
    plan = runtime.plan
    body = {
        "version": plan.version,
        "bid_multipliers": dict(plan.bid_multipliers),
        "arm_shares": {k: dict(v) for k, v in plan.arm_shares.items()},
        "creative_weights": {k: dict(v) for k, v in plan.creative_weights.items()},
        "pacing": {c.id: runtime.pacer.multiplier(c.id) for c in runtime.config.campaigns},
    }
    return web.json_response(body)


async def admin_tags_reload(request: web.Request) -> web.Response:
    """Replace the in-memory tags with ``state_dir/tags.bin`` (written by `rtb audiences build`)."""
    runtime = request.app[RUNTIME]
    if not authorised(request, runtime.config.server.admin_token):
        return web.Response(status=401, text="admin token required\n")
    path = runtime.state_dir / "tags.bin"
    if not path.exists():
        return web.Response(status=404, text=f"no tag file at {path}\n")
    try:
        users = runtime.tags.load(path)
    except ValueError as err:
        log.error("tag reload refused, old tags keep serving: %s", err)
        return web.Response(status=422, text=f"{err}\n")
    log.info("tags reloaded: %d users from %s", users, path)
    return web.json_response({"users": users, "path": str(path)})


def reload_config(runtime: Runtime) -> list[str]:
    """Validate the whole file first; on any problem keep serving the old config.

    Returns the problems (empty on success); both outcomes are logged and counted.
    """
    if runtime.config_path is None:
        return ["no config file to reload"]
    try:
        config = load_config(runtime.config_path)
    except ConfigError as err:
        runtime.metrics.reloads.labels("error").inc()
        runtime.reload_errors = err.lines()
        log.error("config reload refused, old config keeps serving: %s", "; ".join(err.lines()))
        return err.lines()
    old_model = runtime.config.model.path
    runtime.apply_config(config)
    runtime.metrics.reloads.labels("ok").inc()
    if config.model.path and config.model.path != old_model:
        _schedule_model_swap(runtime, Path(config.model.path))
    runtime.reload_errors = []
    log.info("config reloaded: version %s, %d campaigns", config.version, len(config.campaigns))
    return []


def _schedule_model_swap(runtime: Runtime, path: Path) -> None:
    """A config pointer change swaps the model in the background (checked first)."""

    async def swap() -> None:
        try:
            await swap_model(runtime, path)
        except ModelError as err:
            log.error("model swap to %s refused, old model keeps serving: %s", path, err)

    try:
        task = asyncio.get_running_loop().create_task(swap())
    except RuntimeError:  # no loop (called from a script): nothing to swap into
        return
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


_PENDING: set[asyncio.Task[None]] = set()


async def admin_abtests(request: web.Request) -> web.Response:
    """Delivery per A/B variant and each treatment's lift in CTR, CPC and conversion rate."""
    runtime = request.app[RUNTIME]
    if not authorised(request, runtime.config.server.admin_token):
        return web.Response(status=401, text="admin token required\n")
    body = abtest_report(runtime.config.campaigns, runtime.notices.arms.snapshot())
    return web.json_response(body)


def add_admin_routes(app: web.Application) -> None:
    app.router.add_post("/admin/reload", admin_reload)
    app.router.add_post("/admin/model", admin_model)
    app.router.add_get("/admin/plan", admin_plan)
    app.router.add_get("/admin/abtests", admin_abtests)
    app.router.add_post("/admin/tags/reload", admin_tags_reload)
