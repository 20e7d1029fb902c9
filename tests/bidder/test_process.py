"""Start the real `rtb serve` process and talk HTTP to it; reload it with SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bidder.serving import GOLDEN_CONFIG, ROOT

GOLDEN = ROOT / "tests" / "golden" / "openrtb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes], int]]:
    port = _free_port()
    admin_port = _free_port()
    config = tmp_path / "config.yaml"
    text = GOLDEN_CONFIG.read_text().replace("var/golden-state", str(tmp_path / "state"))
    text = text.replace("http://bidder.test", f"http://127.0.0.1:{port}")
    config.write_text(text)
    env = {**os.environ, "RTB_NOTICE_SECRET": "k2:new-secret,k1:old-secret"}
    log_path = tmp_path / "server.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtb.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--admin-port",
            str(admin_port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if _get(base + "/readyz")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        log_file.close()
        pytest.fail("server did not become ready: " + log_path.read_text()[-2000:])
    yield base, config, proc, admin_port
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log_file.close()


def test_process_bids_charges_and_reloads(
    server: tuple[str, Path, subprocess.Popen[bytes], int],
) -> None:
    base, config, proc, admin_port = server
    assert _post(base + "/admin/reload", b"")[0] == 404  # admin API is not on the bid port
    admin = f"http://127.0.0.1:{admin_port}"
    assert _post(admin + "/admin/reload", b"")[0] == 401  # token required
    request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]
    status, text = _post(base + "/bid", json.dumps(request).encode())
    assert status == 200
    nurl = json.loads(text)["seatbid"][0]["bid"][0]["nurl"].replace("${AUCTION_PRICE}", "1.5")
    assert "&k=k2&" in nurl  # signed with the first (current) key
    assert _get(nurl)[0] == 200
    assert _get(nurl)[0] == 409
    metrics = _get(base + "/metrics")[1]
    assert 'bidder_charged_micros_total{campaign="g-banner"} 1500.0' in metrics

    config.write_text(config.read_text().replace("max_bid_cpm: 5.0", "max_bid_cpm: -1", 1))
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while 'bidder_config_reloads_total{result="error"} 1.0' not in _get(base + "/metrics")[1]:
        assert time.monotonic() < deadline, "reload failure was not counted"
        time.sleep(0.1)
    request["id"] = "after-bad-reload"
    assert _post(base + "/bid", json.dumps(request).encode())[0] == 200
