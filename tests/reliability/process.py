"""Start `rtb serve` as a real process on the golden config, and talk HTTP to it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.bidder.serving import GOLDEN_CONFIG, ROOT

NOTICE_SECRET = "k1:crash-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, body: bytes | None = None, timeout_s: float = 10) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    admin: str
    log_path: Path

    def metric(self, name: str, labels: str) -> float:
        text = http(self.base + "/metrics")[1]
        match = re.search(rf"^{name}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
        return float(match.group(1)) if match else 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(workdir: Path, port: int, env: dict[str, str] | None = None) -> Served:
    """`rtb serve` with its state in ``workdir/state``; the same ``port`` keeps nurls valid."""
    admin_port = free_port()
    text = GOLDEN_CONFIG.read_text().replace("var/golden-state", str(workdir / "state"))
    text = text.replace("http://bidder.test", f"http://127.0.0.1:{port}")
    config = workdir / "config.yaml"
    config.write_text(text)
    log_path = workdir / f"server-{time.monotonic_ns()}.log"
    environ = {**os.environ, "RTB_NOTICE_SECRET": NOTICE_SECRET, **(env or {})}
    cmd = [sys.executable, "-m", "rtb.cli", "serve", "--config", str(config)]
    cmd += ["--port", str(port), "--admin-port", str(admin_port), "--no-model-build"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=log)
    served = Served(proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}", log_path)
    deadline = time.monotonic() + 60  # hang guard for a slow machine, not a threshold
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if http(served.base + "/readyz", timeout_s=2)[0] == 200:
                return served
        except OSError:
            time.sleep(0.1)
    served.stop()
    raise RuntimeError("server did not become ready: " + log_path.read_text()[-2000:])
