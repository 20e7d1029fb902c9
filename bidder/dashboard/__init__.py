"""Live campaign dashboard: ``/dashboard`` (static page, no CDN) and ``/dashboard/api`` (JSON).

When ``server.admin_token`` is set the page and its API need the token, as
``Authorization: Bearer`` or ``?token=`` (the page passes its own ``token`` on).
"""

from __future__ import annotations

import hmac
from pathlib import Path

from aiohttp import web

from bidder.admin import authorised
from bidder.dashboard.snapshot import build_snapshot
from bidder.handlers import RUNTIME
from bidder.stats import stats_for

STATIC_DIR = Path(__file__).resolve().parent / "static"
_NO_CACHE = {"Cache-Control": "no-store"}


def _allowed(request: web.Request) -> bool:
    token = request.app[RUNTIME].config.server.admin_token
    if not token:
        return True
    given = request.query.get("token", "")
    return authorised(request, token) or hmac.compare_digest(given.encode(), token.encode())


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    if not _allowed(request):
        return web.Response(status=401, text="admin token required (?token=...)\n")
    return web.FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)


async def dashboard_api(request: web.Request) -> web.Response:
    if not _allowed(request):
        return web.json_response({"error": "admin token required"}, status=401)
    runtime = request.app[RUNTIME]
    snapshot = build_snapshot(runtime, stats_for(runtime, runtime.setup.tz))
    return web.json_response(snapshot, headers=_NO_CACHE)


def add_dashboard_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard", dashboard_page)
    app.router.add_get("/dashboard/api", dashboard_api)
    app.router.add_static("/dashboard/static", STATIC_DIR, append_version=False)
