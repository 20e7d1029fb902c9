"""Redis fixtures for the fleet tests: the shared server (db 13, a unique key prefix per
test, only our own keys deleted) and private ``redis-server`` processes for fault tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

SHARED_HOST, SHARED_PORT, TEST_DB = "127.0.0.1", 6379, 13
SHARED_URL = f"redis://{SHARED_HOST}:{SHARED_PORT}/{TEST_DB}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def delete_prefix(url: str, prefix: str) -> int:
    """Delete the keys under ``prefix`` (ours only: never FLUSHDB a shared server)."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
        return len(keys)
    finally:
        client.close()


@pytest.fixture
def key_prefix() -> Iterator[str]:
    prefix = f"rtbtest:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(SHARED_URL, prefix)


@pytest.fixture
async def shared_redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(SHARED_URL)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        pytest.fail(f"the Redis server at {SHARED_URL} is required: {exc!r}")
    yield client
    await client.aclose()


@dataclass
class PrivateRedis:
    """A ``redis-server`` of our own that tests may stop and start again."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
               "--dbfilename", "private.rdb"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20  # hang guard, not a threshold
        try:
            while time.monotonic() < deadline:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        raise RuntimeError("private redis-server did not start")

    def stop(self, *, keep_data: bool = True) -> None:
        """Shut down (saving a snapshot first when ``keep_data``, so a restart loads it)."""
        if self.proc is None:
            return
        client = redis.Redis(port=self.port)
        try:
            client.shutdown(save=keep_data, nosave=not keep_data)
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is required for the fault tests")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.terminate()
        server.proc.wait(timeout=20)
