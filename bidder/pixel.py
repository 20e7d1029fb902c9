"""Tracking pixel and conversion endpoint: signed first-party events into the event store.

``GET /pixel?adv=ADV&ev=visit|cart|purchase&value=V&uid=UID&sig=SIG`` answers a 1x1 GIF;
``POST /conversion`` takes the same fields as a JSON object. ``adv`` is a configured
campaign's ``advertiser_domain``.

Signing: each advertiser gets its own key, derived from the server's notice key ring,
``advertiser_key = HMAC-SHA256(ring_secret, "pixel:" + adv)`` (hex), so no per-advertiser
secret has to be configured or stored; the advertiser's site signs
``adv=..&ev=..&value=..&uid=..`` (URL-quoted, in that order, ``value`` empty when absent)
with ``HMAC-SHA256(advertiser_key, ...)``, the first 18 bytes in URL-safe base64. Every
key of the ring verifies, so a notice-key rotation keeps old pixels valid while both keys
are listed (see docs/campaign-manager.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from bidder.eventstore import EmbeddedEventStore, Event, EventKind, EventSource, EventStore
from bidder.handlers import RUNTIME
from bidder.money import units_to_micros
from bidder.privacy import IdHasher
from bidder.runtime import Runtime
from bidder.secrets import parse_keyring, persisted_secret

SIGNED_FIELDS = ("adv", "ev", "value", "uid")
GIF_1X1 = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_MAX_UID_LEN = 256
_MAX_VALUE_UNITS = 1e9
_NO_STORE = {"Cache-Control": "no-store, max-age=0"}


class PixelError(Exception):
    """A refused pixel or conversion call; ``reason`` is a closed-set metric label."""

    def __init__(self, reason: str, status: int) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason)


def advertiser_key(ring_secret: str, advertiser: str) -> str:
    """The advertiser's pixel key (hex), derived from one server secret."""
    mac = hmac.new(ring_secret.encode("utf-8"), f"pixel:{advertiser}".encode(), hashlib.sha256)
    return mac.hexdigest()


def sign_params(key: str, params: Mapping[str, str]) -> str:
    """Signature of the signed fields of ``params`` with an advertiser key."""
    body = "&".join(f"{f}={quote(params.get(f, ''), safe='')}" for f in SIGNED_FIELDS)
    mac = hmac.new(key.encode("ascii"), body.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode("ascii")


class PixelSigner:
    """Signs and verifies pixel parameters with keys derived from the notice key ring."""

    def __init__(self, ring: Mapping[str, str], current: str) -> None:
        if current not in ring:
            raise ValueError(f"current key {current!r} is not in the key ring")
        self._secrets = [ring[current], *(v for k, v in ring.items() if k != current)]

    def key(self, advertiser: str) -> str:
        return advertiser_key(self._secrets[0], advertiser)

    def sign(self, params: Mapping[str, str]) -> str:
        return sign_params(self.key(params.get("adv", "")), params)

    def verify(self, params: Mapping[str, str], sig: str) -> bool:
        adv = params.get("adv", "")
        return any(
            hmac.compare_digest(sign_params(advertiser_key(s, adv), params), sig)
            for s in self._secrets
        )

    def url(self, base_url: str, params: Mapping[str, str]) -> str:
        """A signed ``/pixel`` URL for ``params`` (adv, ev, uid and optional value)."""
        query = {f: params[f] for f in SIGNED_FIELDS if params.get(f)}
        query["sig"] = self.sign(params)
        return f"{base_url.rstrip('/')}/pixel?{urlencode(query)}"


class PixelMetrics:
    """Counters of accepted and refused events, on the bidder's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "bidder_pixel_events_total",
            "First-party events accepted, by source and event",
            ["source", "event"],
            registry=registry,
        )
        self.errors = Counter(
            "bidder_pixel_errors_total",
            "Pixel and conversion calls refused, by source and reason",
            ["source", "reason"],
            registry=registry,
        )
        for source in EventSource:
            for kind in EventKind:
                self.events.labels(source.value, kind.value)


_REGISTRY_TO_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, PixelMetrics] = (
    weakref.WeakKeyDictionary()
)


def pixel_metrics(registry: CollectorRegistry) -> PixelMetrics:
    """One ``PixelMetrics`` per registry (several apps may share a runtime)."""
    metrics = _REGISTRY_TO_METRICS.get(registry)
    if metrics is None:
        metrics = _REGISTRY_TO_METRICS[registry] = PixelMetrics(registry)
    return metrics


@dataclass
class PixelService:
    """What the pixel routes need: signer, hasher, store, counters, known advertisers."""

    signer: PixelSigner
    hasher: IdHasher
    store: EventStore
    metrics: PixelMetrics
    advertisers: Callable[[], frozenset[str]]
    clock: Callable[[], float]

    def record(self, params: Mapping[str, str], sig: str, source: EventSource) -> Event:
        """Validate, verify and store one event; raises ``PixelError``."""
        adv = params.get("adv", "")
        uid = params.get("uid", "")
        if not adv or not params.get("ev"):
            raise PixelError("missing_field", 400)
        if not uid:
            raise PixelError("no_user", 204)
        if len(uid) > _MAX_UID_LEN:
            raise PixelError("bad_user", 400)
        try:
            kind = EventKind(params["ev"])
        except ValueError:
            raise PixelError("bad_event", 400) from None
        value_micros = _value_micros(params.get("value", ""))
        if adv not in self.advertisers():
            raise PixelError("unknown_advertiser", 400)
        if not sig:
            raise PixelError("unsigned", 403)
        if not self.signer.verify(params, sig):
            raise PixelError("bad_signature", 403)
        event = Event(self.clock(), adv, kind, self.hasher.hash(uid), value_micros, source)
        self.store.append(event)
        self.metrics.events.labels(source.value, kind.value).inc()
        return event


def _value_micros(raw: str) -> int:
    if not raw:
        return 0
    try:
        units = float(raw)
    except ValueError:
        raise PixelError("bad_value", 400) from None
    if not math.isfinite(units) or not 0 <= units <= _MAX_VALUE_UNITS:
        raise PixelError("bad_value", 400)
    return units_to_micros(units)


PIXEL = web.AppKey("pixel", PixelService)


async def pixel(request: web.Request) -> web.Response:
    service = request.app[PIXEL]
    params = {f: request.query.get(f, "") for f in SIGNED_FIELDS}
    try:
        service.record(params, request.query.get("sig", ""), EventSource.PIXEL)
    except PixelError as err:
        service.metrics.errors.labels(EventSource.PIXEL.value, err.reason).inc()
        if err.status == 204:
            return web.Response(status=204, headers=_NO_STORE)
        return web.Response(status=err.status, text=err.reason + "\n", headers=_NO_STORE)
    return web.Response(body=GIF_1X1, content_type="image/gif", headers=_NO_STORE)


async def conversion(request: web.Request) -> web.Response:
    service = request.app[PIXEL]
    try:
        data = orjson.loads(await request.read())
        if not isinstance(data, dict):
            raise PixelError("malformed", 400)
        params = {f: _text(data.get(f)) for f in SIGNED_FIELDS}
        params["ev"] = params["ev"] or EventKind.PURCHASE.value
        event = service.record(params, _text(data.get("sig")), EventSource.CONVERSION)
    except orjson.JSONDecodeError:
        service.metrics.errors.labels(EventSource.CONVERSION.value, "malformed").inc()
        return web.json_response({"error": "malformed"}, status=400)
    except PixelError as err:
        service.metrics.errors.labels(EventSource.CONVERSION.value, err.reason).inc()
        status = 400 if err.status == 204 else err.status
        return web.json_response({"error": err.reason}, status=status)
    return web.json_response({"status": "accepted", "event": event.kind.value}, status=202)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise PixelError("malformed", 400)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    raise PixelError("malformed", 400)


def build_pixel_signer(runtime: Runtime) -> PixelSigner:
    """The ring the notice signer uses: env secret, else the persisted one, else fixed."""
    server = runtime.config.server
    if server.notice_secret:
        ring = server.notice_secret
    elif runtime.persist:
        ring = persisted_secret(runtime.state_dir, "notice.key")
    else:
        ring = "replay"
    keys, current = parse_keyring(ring)
    return PixelSigner(keys, current)


def events_path(state_dir: Path) -> Path:
    return state_dir / "events.jsonl"


def build_pixel_service(runtime: Runtime, store: EventStore | None = None) -> PixelService:
    """A service on ``runtime``; the default store is ``state_dir/events.jsonl``."""
    if store is None:
        path = events_path(runtime.state_dir) if runtime.persist else None
        store = EmbeddedEventStore(path)

    def advertisers() -> frozenset[str]:
        return frozenset(c.advertiser_domain for c in runtime.config.campaigns)

    return PixelService(
        signer=build_pixel_signer(runtime),
        hasher=runtime.hasher,
        store=store,
        metrics=pixel_metrics(runtime.metrics.registry),
        advertisers=advertisers,
        clock=runtime.clock,
    )


def add_pixel_routes(app: web.Application, service: PixelService | None = None) -> None:
    """``/pixel`` and ``/conversion`` on ``app`` (whose ``RUNTIME`` must be set)."""
    app[PIXEL] = service if service is not None else build_pixel_service(app[RUNTIME])
    app.router.add_get("/pixel", pixel)
    app.router.add_post("/conversion", conversion)

    async def close_store(app: web.Application) -> None:
        app[PIXEL].store.close()

    app.on_cleanup.append(close_store)
