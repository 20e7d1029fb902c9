"""Resource limits at the HTTP edge: body size, decoded size, body timeout, connections.

What is enforced where (settings in ``config.yaml`` ``server:``, see docs/config.md):

- ``max_body_bytes``: bytes on the wire. A ``Content-Length`` above it is refused (413)
  before anything is read; a chunked body is cut off once it passes the limit.
- ``max_decompressed_bytes``: decoded size of a ``Content-Encoding: gzip``/``deflate``
  body (413). aiohttp inflates in bounded chunks as it reads, so a gzip bomb costs about
  this much memory, never its inflated size. Bodies that do not decode are 400.
- ``body_read_timeout_ms``: a body still arriving after this is cut off (408, closed).
- ``header_read_timeout_ms``: passed to aiohttp as ``keepalive_timeout``; a connection that
  has not sent complete headers this long after opening (or after its previous response)
  is closed. aiohttp caps a header line and a header field at 8190 bytes (400).
- ``max_connections``: open connections per listener (``LimitedTCPSite``); one more is
  answered 503 and closed. Each connection runs one request at a time, so this also caps
  requests in flight.
- ``max_json_depth`` and ``max_imps`` are enforced by the parser (``ParseLimits``).

Every refusal is counted in ``bidder_limit_refusals_total{limit}``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestPayloadError
from prometheus_client import CollectorRegistry, Counter

from bidder.config.model import ServerSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LIMITS = ("body_bytes", "decompressed_bytes", "body_timeout", "bad_encoding", "connections")
_ENCODED = frozenset({"gzip", "deflate", "x-gzip", "br", "zstd"})
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\n"
)
_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def refusal_counter(registry: CollectorRegistry) -> Counter:
    """``bidder_limit_refusals_total{limit}`` on ``registry`` (created once per registry)."""
    counter = _COUNTERS.get(registry)
    if counter is None:
        counter = Counter(
            "bidder_limit_refusals_total",
            "Requests or connections refused by a resource limit",
            ["limit"],
            registry=registry,
        )
        for limit in LIMITS:
            counter.labels(limit)
        _COUNTERS[registry] = counter
    return counter


def build_body_guard(settings: ServerSettings, registry: CollectorRegistry) -> Middleware:
    """Middleware reading every request body under the size and time limits.

    The handler gets a request whose body is already read (``await request.read()``
    returns it from memory), so handlers need no limit logic of their own.
    """
    refused = refusal_counter(registry)
    timeout_s = settings.body_read_timeout_ms / 1000.0

    @web.middleware
    async def body_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        max_wire = settings.max_body_bytes
        if request.content_length is not None and request.content_length > max_wire:
            refused.labels("body_bytes").inc()
            return _too_large(max_wire)
        encoded = request.headers.get("Content-Encoding", "").strip().lower() in _ENCODED
        if not encoded and request.content_length is not None and request.content.is_eof():
            # the whole body arrived with the headers and is within the wire cap (the
            # app's client_max_size): nothing to wait for, nothing to decompress
            await request.read()
            return await handler(request)
        cap = settings.max_decompressed_bytes if encoded else max_wire
        limited = request.clone(client_max_size=cap)
        try:
            async with asyncio.timeout(timeout_s):
                await limited.read()
        except TimeoutError:
            refused.labels("body_timeout").inc()
            return await _timed_out(request)
        except web.HTTPRequestEntityTooLarge:
            refused.labels("decompressed_bytes" if encoded else "body_bytes").inc()
            return _too_large(cap)
        except (HttpProcessingError, RequestPayloadError, web.HTTPBadRequest) as err:
            refused.labels("bad_encoding").inc()
            return _bad_body(str(getattr(err, "message", "") or "body does not decode"))
        if limited.content.total_raw_bytes > max_wire:
            refused.labels("body_bytes").inc()
            return _too_large(max_wire)
        return await handler(limited)

    return body_guard


async def _timed_out(request: web.Request) -> web.StreamResponse:
    """408, then close at once: aiohttp would otherwise linger reading the stalled body."""
    response = web.Response(status=408, text="request body read timed out\n")
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


def _too_large(limit: int) -> web.Response:
    response = web.Response(status=413, text=f"request body is larger than {limit} bytes\n")
    response.force_close()
    return response


def _bad_body(message: str) -> web.Response:
    response = web.Response(status=400, text=f"body: {message.strip()}\n")
    response.force_close()
    return response


def runner_kwargs(settings: ServerSettings) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner`` (or a test server) enforcing header limits."""
    return {"keepalive_timeout": settings.header_read_timeout_ms / 1000.0}


class _Refuse(asyncio.Protocol):
    """Answers 503 and closes: the connection came in over the limit."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_BUSY)
        transport.close()

    def data_received(self, data: bytes) -> None:
        pass


class _Counted(asyncio.Protocol):
    """Forwards to the aiohttp handler and keeps the open-connection count exact."""

    __slots__ = ("_inner", "_limiter")

    def __init__(self, inner: asyncio.Protocol, limiter: ConnectionLimiter) -> None:
        self._inner = inner
        self._limiter = limiter

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._limiter.open -= 1
        self._inner.connection_lost(exc)


class ConnectionLimiter:
    """Protocol factory: at most ``max_connections`` open at once, the rest get 503."""

    def __init__(
        self, factory: Callable[[], asyncio.Protocol], max_connections: int, refused: Counter
    ) -> None:
        self._factory = factory
        self.max_connections = max_connections
        self.open = 0
        self._refused = refused

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self.max_connections:
            self._refused.labels("connections").inc()
            return _Refuse()
        self.open += 1
        return _Counted(self._factory(), self)


class LimitedTCPSite(web.TCPSite):
    """``web.TCPSite`` whose listener refuses connections past ``max_connections``."""

    __slots__ = ("limiter",)

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(runner, host, port)
        server = runner.server
        assert server is not None
        self.limiter = ConnectionLimiter(server, max_connections, refusal_counter(registry))

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.limiter, self._host, self._port, backlog=self._backlog
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


class _ClientErrorFilter(logging.Filter):
    """aiohttp logs a client's malformed HTTP at ERROR: demote it to DEBUG.

    Two cases: a request line or header it cannot parse (it answers 400 itself), and a
    body that does not decode (``body_guard`` answered 400; aiohttp then meets the same
    error again while draining the rest of the body, and closes the connection).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        client_fault = isinstance(exc, RequestPayloadError) or (
            isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500
        )
        if client_fault:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info, record.exc_text = None, None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_FILTER = _ClientErrorFilter()


def quiet_client_errors() -> None:
    """Install the filter on aiohttp's server logger (idempotent)."""
    logger = logging.getLogger("aiohttp.server")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
