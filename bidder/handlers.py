"""Thin HTTP routes: bid, notices, health, metrics, admin. The work happens elsewhere."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bidder.batching import ScoreBatcher
from bidder.decision import Decision
from bidder.errors import RequestError
from bidder.notices import NoticeKind
from bidder.openrtb.nbr import NoBidReason
from bidder.openrtb.request import parse_bid_request
from bidder.openrtb.response import render_response
from bidder.runtime import Runtime
from bidder.stats import stats_for

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
BATCHER = web.AppKey("score_batcher", ScoreBatcher)
_MULTIPROC = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_JSON = "application/json"


def _no_bid(runtime: Runtime, label: str, reason: NoBidReason) -> web.Response:
    runtime.metrics.requests.labels(label, "nobid").inc()
    runtime.metrics.nobids.labels(reason.value).inc()
    return web.Response(status=204, headers={"X-Nbr-Reason": reason.value})


async def bid(request: web.Request) -> web.Response:
    arrival = time.monotonic()
    runtime = request.app[RUNTIME]
    m = runtime.metrics
    exchange = request.match_info.get("exchange", "default")
    label = m.exchange_label(exchange)
    body = await request.read()
    server = runtime.config.server
    try:
        parsed, warnings = parse_bid_request(
            body, version=request.headers.get("x-openrtb-version"), limits=runtime.parse_limits
        )
    except RequestError as err:
        m.requests.labels(label, "invalid").inc()
        m.invalid.labels(err.reason).inc()
        return web.Response(status=400, text="\n".join(err.lines()) + "\n")
    if warnings:
        m.warnings.inc(len(warnings))
    tmax_ms = parsed.tmax or server.default_tmax_ms
    deadline = arrival + (tmax_ms - server.tmax_margin_ms) / 1000.0
    if time.monotonic() >= deadline:
        return _no_bid(runtime, label, NoBidReason.TMAX)
    now_s = runtime.clock()
    now = dt.datetime.fromtimestamp(now_s, dt.UTC)
    auction = runtime.auction
    try:
        prepared = auction.prepare(parsed, runtime.plan, now, exchange)
        if isinstance(prepared, Decision):
            decision = prepared
        else:  # scored with the candidates of the other requests of this loop turn
            pctrs, model_version = await request.app[BATCHER].score(prepared)
            decision = auction.complete(prepared, pctrs, model_version)
    except Exception:
        log.exception("decide failed for request %s", parsed.id)
        m.errors.inc()
        return _no_bid(runtime, label, NoBidReason.INTERNAL_ERROR)
    for reason, count in decision.rejections.items():
        m.rejections.labels(reason.value).inc(count)
    runtime.bidlog.add_decision(body, decision, now_s)
    stats_for(runtime, runtime.setup.tz).add_decision(decision, now_s)
    if not decision.bids:
        _observe(runtime, arrival, tmax_ms)
        return _no_bid(runtime, label, decision.nbr or NoBidReason.NO_CAMPAIGNS)
    payload = render_response(decision, runtime.config, runtime.signer, int(now_s))
    if time.monotonic() >= deadline:
        runtime.auction.cancel(decision, now)
        m.late.inc()
        return _no_bid(runtime, label, NoBidReason.TMAX)
    m.requests.labels(label, "bid").inc()
    for b in decision.bids:
        m.bids.labels(b.campaign_id).inc()
        m.bid_price.observe(b.price_micros / 1000.0)
    _observe(runtime, arrival, tmax_ms)
    headers = {"x-openrtb-version": parsed.version or "2.5"}
    return web.Response(body=payload, content_type=_JSON, headers=headers)


def _observe(runtime: Runtime, arrival: float, tmax_ms: int) -> None:
    elapsed = time.monotonic() - arrival
    runtime.metrics.latency.observe(elapsed)
    runtime.metrics.latency_tmax.observe(elapsed * 1000.0 / tmax_ms)


def _notice_handler(kind: NoticeKind) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        query = dict(request.query)
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            query.update({k: str(v) for k, v in (await request.post()).items()})
        now_s = runtime.clock()
        relay = runtime.notice_relay
        if relay is not None and not relay.is_local(kind, query, now_s):
            answer = await relay.forward(kind, query, now_s)  # another worker holds the bid
            if answer.get("owned"):
                if answer.get("location"):
                    raise web.HTTPFound(str(answer["location"]))
                return web.Response(status=int(answer["status"]), text=f"{answer['result']}\n")
        outcome = runtime.notices.handle(kind, query, now_s)
        runtime.bidlog.add_notice(kind, outcome, now_s)
        stats_for(runtime, runtime.setup.tz).add_notice(kind, outcome, now_s)
        if outcome.location is not None:
            raise web.HTTPFound(outcome.location)
        return web.Response(status=outcome.status, text=outcome.result + "\n")

    return handle


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if _MULTIPROC:  # server.workers > 1: merge every worker's metrics
        from prometheus_client import CollectorRegistry, multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return web.Response(
            body=generate_latest(merged), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
    body = generate_latest(runtime.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    if not runtime.ready:
        return web.Response(status=503, text="not ready\n")
    return web.Response(text="ready\n")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/bid", bid)
    app.router.add_post("/bid/{exchange}", bid)
    for kind in (NoticeKind.WIN, NoticeKind.BILL, NoticeKind.LOSS, NoticeKind.CLICK):
        handler = _notice_handler(kind)
        app.router.add_get(f"/{kind.value}", handler)
        app.router.add_post(f"/{kind.value}", handler)
    add_status_routes(app)


def add_status_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
