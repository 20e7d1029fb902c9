"""build_app(): the aiohttp application around a Runtime, with its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bidder.admin import add_admin_routes
from bidder.batching import ScoreBatcher
from bidder.dashboard import add_dashboard_routes
from bidder.handlers import BATCHER, RUNTIME, add_routes, add_status_routes
from bidder.limits import build_body_guard, quiet_client_errors
from bidder.optimizing import build_optimizer_service, run_optimizer
from bidder.pixel import add_pixel_routes
from bidder.retention import apply_retention
from bidder.runtime import Runtime
from bidder.stats import stats_for

log = logging.getLogger(__name__)

TICK_S = 1.0
FLUSH_S = 0.5
FLUSH_SLICE = 16  # records serialised per slice: under a millisecond of work
PURGE_EVERY_TICKS = 60
SNAPSHOT_EVERY_TICKS = 3600  # compact the ledger journal hourly


async def _ticker(runtime: Runtime) -> None:
    ticks = 0
    while True:
        await asyncio.sleep(TICK_S)
        ticks += 1
        try:
            runtime.tick()
            if ticks % SNAPSHOT_EVERY_TICKS == 0 and runtime.persist:
                runtime.ledger.snapshot(runtime.clock())
            if ticks % PURGE_EVERY_TICKS == 0:
                now = runtime.clock()
                runtime.frequency.purge(now)
                runtime.tags.purge(now)
                apply_retention(runtime.config.server, runtime.tags, now)
                runtime.ledger.sync()
        except Exception:
            log.exception("background tick failed")


async def _flusher(runtime: Runtime) -> None:
    """Every FLUSH_S: serialise the bid log in slices of FLUSH_SLICE records on the loop,
    yielding to requests between slices, and write each slice from a thread. (One flush
    of everything in a thread held the GIL for tens of milliseconds at a time.)"""
    loop = asyncio.get_running_loop()
    bidlog = runtime.bidlog
    while True:
        await asyncio.sleep(FLUSH_S)
        try:
            while bidlog.pending:
                lines = bidlog.serialise(FLUSH_SLICE)
                await loop.run_in_executor(None, bidlog.write, lines)
        except Exception:
            log.exception("bid log flush failed")


def build_admin_app(runtime: Runtime) -> web.Application:
    """The admin API on its own (localhost) listener; no background tasks of its own."""
    app = web.Application(client_max_size=1024 * 1024)
    app[RUNTIME] = runtime
    add_admin_routes(app)
    add_dashboard_routes(app)
    add_status_routes(app)
    return app


def build_app(runtime: Runtime, *, with_admin: bool = False) -> web.Application:
    """The bidder app; ``client_max_size`` answers 413 to oversized bodies.

    ``with_admin`` also serves the admin API on this app (``server.admin_port: 0``).
    """
    server = runtime.config.server
    guard = build_body_guard(server, runtime.metrics.registry)
    app = web.Application(client_max_size=server.max_body_bytes, middlewares=[guard])
    quiet_client_errors()
    app[RUNTIME] = runtime
    app[BATCHER] = ScoreBatcher(lambda: runtime.auction.scorer)
    stats_for(runtime, runtime.setup.tz)  # its rings are allocated now, not on the first bid
    add_routes(app)
    add_pixel_routes(app)
    if with_admin:
        add_admin_routes(app)
        add_dashboard_routes(app)

    async def background(app: web.Application) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_ticker(runtime)),
            asyncio.create_task(_flusher(runtime)),
            asyncio.create_task(run_optimizer(build_optimizer_service(runtime))),
        ]
        if runtime.fleet is not None:
            tasks.append(asyncio.create_task(runtime.fleet.run()))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runtime.fleet is not None:
            await runtime.fleet.close()  # report charges, hand leases back
        runtime.close()

    app.cleanup_ctx.append(background)
    return app
