"""Resource limits (bidder/limits.py and the parser): each setting refuses what it should."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry

from bidder.config.load import parse_config
from bidder.config.model import ServerSettings
from bidder.errors import ConfigError
from bidder.limits import LimitedTCPSite, refusal_counter, runner_kwargs
from tests.bidder.serving import GOLDEN_CONFIG, ROOT, FakeClock, make_app, make_runtime

GOLDEN = ROOT / "tests" / "golden" / "openrtb"
HANG_GUARD_S = 20  # only stops a broken test from hanging; never a performance threshold


def _request() -> dict[str, Any]:
    return json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]


async def _client(aiohttp_client: Any, tmp_path: Path, **server: Any) -> Any:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock(), **server)
    client = await aiohttp_client(
        make_app(runtime), server_kwargs=runner_kwargs(runtime.config.server)
    )
    return client, runtime


def _refused(runtime: Any, limit: str) -> float:
    value = runtime.metrics.registry.get_sample_value(
        "bidder_limit_refusals_total", {"limit": limit}
    )
    return float(value or 0.0)


async def test_limits_body_over_max_body_bytes_is_413(aiohttp_client: Any, tmp_path: Path) -> None:
    client, runtime = await _client(aiohttp_client, tmp_path, max_body_bytes=1000)
    body = json.dumps({**_request(), "ext": {"pad": "x" * 2000}}).encode()
    resp = await client.post("/bid", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 413
    assert _refused(runtime, "body_bytes") == 1


async def test_limits_chunked_body_over_max_body_bytes_is_413(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client, runtime = await _client(aiohttp_client, tmp_path, max_body_bytes=1000)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 500  # no Content-Length: only counting the bytes can catch it

    resp = await client.post("/bid", data=chunks())
    assert resp.status == 413
    assert _refused(runtime, "body_bytes") == 1


async def test_limits_gzip_bomb_is_413_without_inflating_it(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    limit = 256 * 1024
    client, runtime = await _client(
        aiohttp_client, tmp_path, max_body_bytes=limit, max_decompressed_bytes=limit
    )
    bomb = gzip.compress(b"\0" * (100 * 1024 * 1024), 9)  # 100 MiB inflated, ~100 KiB sent
    assert len(bomb) < limit
    tracemalloc.start()
    try:
        resp = await client.post("/bid", data=bomb, headers={"Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.status == 413
    assert _refused(runtime, "decompressed_bytes") == 1
    assert peak < 64 * limit  # bounded by the limit, not by the 100 MiB inside


async def test_limits_gzip_within_decompressed_limit_is_parsed(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client, _ = await _client(aiohttp_client, tmp_path)
    body = gzip.compress(json.dumps(_request()).encode())
    resp = await client.post("/bid", data=body, headers={"Content-Encoding": "gzip"})
    assert resp.status == 200


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"this is not gzip at all"),
        ("deflate", b"\x78\x9c not deflate"),
        ("gzip", gzip.compress(b'{"id": "x"}')[:-4] + b"\xff\xff\xff\xff"),
        ("br", b"\x00\x01"),
    ],
)
async def test_limits_body_that_does_not_decode_is_400_not_error_logged(
    aiohttp_client: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    encoding: str,
    body: bytes,
) -> None:
    client, _ = await _client(aiohttp_client, tmp_path)
    with caplog.at_level(logging.INFO):
        resp = await client.post("/bid", data=body, headers={"Content-Encoding": encoding})
        await resp.read()
    assert resp.status == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_limits_more_imps_than_max_imps_is_400(aiohttp_client: Any, tmp_path: Path) -> None:
    client, _ = await _client(aiohttp_client, tmp_path, max_imps=3)
    request = _request()
    request["imp"] = [{**request["imp"][0], "id": str(i)} for i in range(4)]
    resp = await client.post("/bid", json=request)
    assert resp.status == 400
    assert "imp" in await resp.text()


async def test_limits_json_deeper_than_max_json_depth_is_400(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client, _ = await _client(aiohttp_client, tmp_path, max_json_depth=6)
    request = _request()
    request["ext"] = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}  # depth 7 with the root
    resp = await client.post("/bid", json=request)
    assert resp.status == 400
    assert "nest deeper than 6" in await resp.text()
    request["ext"] = {"a": 1}
    assert (await client.post("/bid", json=request)).status == 200


async def _raw(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def test_limits_body_trickling_past_body_read_timeout_is_408(
    aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client, runtime = await _client(aiohttp_client, tmp_path, body_read_timeout_ms=100)
    head = b"POST /bid HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"
    reader, writer = await _raw(client.port, head)  # then nothing more: a stalled body
    try:
        async with asyncio.timeout(HANG_GUARD_S):
            answer = await reader.read()
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert _refused(runtime, "body_timeout") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_limits_headers_not_finished_within_header_read_timeout_are_closed(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock(), header_read_timeout_ms=100)
    runner = web.AppRunner(make_app(runtime), **runner_kwargs(runtime.config.server))
    await runner.setup()  # as `rtb serve` runs it
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        reader, writer = await _raw(site.port, b"POST /bid HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        async with asyncio.timeout(HANG_GUARD_S):
            answer = await reader.read()  # EOF: the server closed the connection
        writer.close()
    finally:
        await runner.cleanup()
    assert answer == b""


async def test_limits_connections_past_max_connections_get_503(tmp_path: Path) -> None:
    registry = CollectorRegistry()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = LimitedTCPSite(runner, "127.0.0.1", 0, max_connections=2, registry=registry)
    await site.start()
    held = []
    try:
        async with asyncio.timeout(HANG_GUARD_S):
            for _ in range(2):
                held.append(await _raw(site.port, b""))
            reader, writer = await _raw(site.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = await reader.read()
            writer.close()
            first_reader, first_writer = held[0]
            first_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            served = await first_reader.readuntil(b"ok")
            for _, w in held:
                w.close()
                await w.wait_closed()
            while site.limiter.open:  # the listener sees the closes
                await asyncio.sleep(0.01)
            reader, writer = await _raw(site.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            again = await reader.readuntil(b"ok")
            writer.close()
    finally:
        await runner.cleanup()
    assert refused.startswith(b"HTTP/1.1 503")
    assert served.startswith(b"HTTP/1.1 200")
    assert again.startswith(b"HTTP/1.1 200")
    counter = refusal_counter(registry)
    assert counter.labels("connections")._value.get() == 1


def test_limits_settings_have_safe_defaults() -> None:
    s = ServerSettings()
    assert s.max_body_bytes == 256 * 1024
    assert s.max_decompressed_bytes == 1024 * 1024
    assert s.max_imps == 20
    assert s.max_json_depth == 32
    assert s.body_read_timeout_ms == 1000
    assert s.header_read_timeout_ms == 15_000
    assert s.max_connections == 1024
    assert runner_kwargs(s) == {"keepalive_timeout": 15.0}


@pytest.mark.parametrize(
    ("server", "line"),
    [
        ({"max_json_depth": 1}, "server.max_json_depth: must be"),
        (
            {"max_decompressed_bytes": 10},
            "server.max_decompressed_bytes: must be >= max_body_bytes",
        ),
        ({"body_read_timeout_ms": 0}, "server.body_read_timeout_ms: must be"),
        ({"header_read_timeout_ms": -5}, "server.header_read_timeout_ms: must be"),
        ({"max_connections": 0}, "server.max_connections: must be"),
        ({"bidlog_retention_days": 0}, "server.bidlog_retention_days: must be"),
        ({"tag_retention_days": "long"}, "server.tag_retention_days: must be"),
    ],
)
def test_limits_invalid_settings_are_config_errors(server: dict[str, Any], line: str) -> None:
    data = yaml.safe_load(GOLDEN_CONFIG.read_text())
    data["server"].update(server)
    with pytest.raises(ConfigError) as err:
        parse_config(yaml.safe_dump(data), environ={})
    assert any(p.startswith(line) for p in err.value.lines()), err.value.lines()
