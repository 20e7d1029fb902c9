"""`rtb fleet`: starts N nodes and the coordinator, all nodes ready, stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bidder.fleet import scripts
from bidder.fleet.plan import DocKind
from tests.bidder.serving import ROOT
from tests.fleet.conftest import SHARED_URL
from tests.fleet.fleet import get, write_config

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def free_port_block(count: int) -> int:
    """A base port with ``count`` free ports after it (probed, then released)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count > 65000:
            continue
        try:
            socks = []
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no block of free ports")


def test_cmd_fleet_starts_ready_nodes_and_stops_cleanly(tmp_path: Path, key_prefix: str) -> None:
    config = write_config(tmp_path / "config.yaml", key_prefix)
    base = free_port_block(4)
    cmd = [sys.executable, "-m", "rtb.cli", "fleet", "--nodes", "2", "--config", str(config),
           "--base-port", str(base), "--workdir", str(tmp_path / "fleet")]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120  # hang guard, not a threshold
        line = ""
        while time.monotonic() < deadline and "fleet ready" not in line:
            line = proc.stdout.readline()
            assert line, f"rtb fleet exited early with {proc.wait()}"
        assert "fleet ready: 2 nodes" in line
        for port in (base, base + 2):
            assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        client = redis.Redis.from_url(SHARED_URL)
        try:
            assert int(client.get(f"{key_prefix}v:{DocKind.CONFIG.value}") or 0) >= 1
        finally:
            client.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "fleet stopped (2 nodes)" in out
    client = redis.Redis.from_url(SHARED_URL)
    try:
        for campaign in ("c-budget", "c-cap"):  # every node handed its slices back
            assert client.hlen(scripts.campaign_key(key_prefix, campaign, "leases")) == 0
    finally:
        client.close()
