"""`rtb fleet`: a local fleet of N `rtb serve` nodes on one Redis, plus a coordinator.

The coordinator writes one config per node (its ports, node id, state directory and
notice URL; everything else from the shared file), starts the nodes, publishes the
shared config as a versioned document (again on SIGHUP, after validating it), waits
until every node answers ``/readyz``, and on SIGTERM/SIGINT stops the nodes, which
report their charges and hand their leases back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bidder.config.load import load_config, parse_config
from bidder.config.model import Config
from bidder.errors import ConfigError
from bidder.fleet.plan import DocKind, next_version, publish_document
from bidder.fleet.service import build_client

NAME = "fleet"
HELP = "run a local fleet of bidder nodes sharing budgets through Redis"
EPILOG = """examples:
  rtb fleet --nodes 3 --config config.yaml               # nodes on 8080/8081, 8082/8083, ...
  rtb fleet --nodes 3 --config config.yaml --base-port 9000 --workdir var/fleet
  kill -HUP <coordinator pid>                            # publish config.yaml to every node

The file's backend section must say kind: redis (see docs/fleet.md). Every node gets
the same RTB_NOTICE_SECRET and RTB_USER_SALT (generated into the workdir when unset), so
any node can verify any notice and users hash the same everywhere.
"""

READY_TIMEOUT_S = 120.0  # hang guard for slow machines
SECRET_ENVS = ("RTB_NOTICE_SECRET", "RTB_USER_SALT")


@dataclass
class Node:
    node_id: str
    port: int
    admin_port: int
    config_path: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yaml", help="shared config (backend: redis)")
    p.add_argument("--nodes", type=int, default=3, help="bidder processes (default 3)")
    p.add_argument("--base-port", type=int, default=8080, help="node i serves on base+2i")
    p.add_argument("--workdir", default="var/fleet", help="per-node configs, state and logs")
    p.add_argument("--host", default="127.0.0.1", help="listen address of the nodes")


def run(args: argparse.Namespace) -> int:
    path = Path(args.config)
    try:
        config = load_config(path)
    except ConfigError as err:
        for line in err.lines():
            print(f"{path}: {line}")
        return 1
    if config.backend.kind.value != "redis":
        print(f"{path}: backend.kind must be redis for a fleet (docs/fleet.md)")
        return 1
    if args.nodes < 1:
        print("--nodes must be >= 1")
        return 1
    workdir = Path(args.workdir)
    nodes = write_node_configs(path, workdir, args.nodes, args.base_port, args.host)
    env = fleet_env(workdir)
    start_nodes(nodes, env)
    try:
        return asyncio.run(_coordinate(nodes, path, config))
    finally:
        stop_nodes(nodes)
        print(f"fleet stopped ({len(nodes)} nodes)", flush=True)


def write_node_configs(
    path: Path, workdir: Path, count: int, base_port: int, host: str = "127.0.0.1"
) -> list[Node]:
    """One config file per node under ``workdir/node-<i>/``; the shared file is untouched."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    prefix = str(data.get("backend", {}).get("node_id") or "node")
    nodes = []
    for i in range(count):
        node_dir = workdir / f"node-{i}"
        node_dir.mkdir(parents=True, exist_ok=True)
        port, admin_port = base_port + 2 * i, base_port + 2 * i + 1
        node_data = dict(data)
        server = dict(node_data.get("server") or {})
        server.update(host=host, port=port, admin_port=admin_port,
                      state_dir=str(node_dir / "state"), bidlog_path=None,
                      notice_base_url=f"http://{host}:{port}")  # fmt: skip
        backend = dict(node_data.get("backend") or {})
        backend.update(kind="redis", node_id=f"{prefix}-{i}")
        node_data.update(server=server, backend=backend)
        config_path = node_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(node_data, sort_keys=False), encoding="utf-8")
        nodes.append(Node(f"{prefix}-{i}", port, admin_port, config_path, node_dir / "node.log"))
    return nodes


def fleet_env(workdir: Path) -> dict[str, str]:
    """The environment for every node: shared secrets, generated once per workdir if unset."""
    env = dict(os.environ)
    for name in SECRET_ENVS:
        if env.get(name):
            continue
        secret_path = workdir / f"{name.lower()}.secret"
        if not secret_path.exists():
            workdir.mkdir(parents=True, exist_ok=True)
            value = secrets.token_hex(16)
            secret_path.write_text(f"k1:{value}" if name == "RTB_NOTICE_SECRET" else value)
            secret_path.chmod(0o600)
        env[name] = secret_path.read_text().strip()
    return env


def start_nodes(nodes: list[Node], env: dict[str, str]) -> None:
    for node in nodes:
        cmd = [sys.executable, "-m", "rtb.cli", "serve", "--config", str(node.config_path),
               "--no-model-build"]  # fmt: skip
        with node.log_path.open("ab") as log:
            node.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)


def wait_ready(nodes: list[Node], timeout_s: float = READY_TIMEOUT_S) -> None:
    """Block until every node answers /readyz 200; raise RuntimeError naming the laggards."""
    deadline = time.monotonic() + timeout_s
    pending = list(nodes)
    while pending and time.monotonic() < deadline:
        for node in list(pending):
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(f"{node.node_id} exited: {_tail(node.log_path)}")
            if _status(node.base_url + "/readyz") == 200:
                pending.remove(node)
        time.sleep(0.05)
    if pending:
        names = ", ".join(n.node_id for n in pending)
        raise RuntimeError(f"not ready: {names}: {_tail(pending[0].log_path)}")


def stop_nodes(nodes: list[Node], timeout_s: float = 30.0) -> list[int | None]:
    """SIGTERM every node (they report charges and return leases), then wait."""
    for node in nodes:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for node in nodes:
        if node.proc is None:
            codes.append(None)
            continue
        try:
            codes.append(node.proc.wait(timeout=timeout_s))
        except subprocess.TimeoutExpired:
            node.proc.kill()
            codes.append(node.proc.wait())
    return codes


async def publish_config(config: Config, text: str) -> int:
    """Publish the shared config text as the next CONFIG version; returns the version."""
    client = build_client(config.backend.redis_url)
    try:
        prefix = config.backend.key_prefix
        version = await next_version(client, prefix, DocKind.CONFIG)
        return await publish_document(client, prefix, DocKind.CONFIG, version, text.encode())
    finally:
        await client.aclose()


async def _coordinate(nodes: list[Node], path: Path, config: Config) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reload = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    version = await publish_config(config, path.read_text(encoding="utf-8"))
    await loop.run_in_executor(None, wait_ready, nodes)
    urls = " ".join(n.base_url for n in nodes)
    print(f"fleet ready: {len(nodes)} nodes, config version {version}: {urls}", flush=True)
    while not stop.is_set():
        with_reload = asyncio.create_task(reload.wait())
        with_stop = asyncio.create_task(stop.wait())
        await asyncio.wait(
            {with_reload, with_stop}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
        )
        with_reload.cancel()
        with_stop.cancel()
        if reload.is_set() and not stop.is_set():
            reload.clear()
            await _republish(path, config)
        for node in nodes:
            if node.proc is not None and node.proc.poll() is not None:
                print(f"{node.node_id} exited with {node.proc.returncode}", flush=True)
                return 1
    return 0


async def _republish(path: Path, config: Config) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        parse_config(text, source=str(path))
    except ConfigError as err:
        print(f"{path}: not published: " + "; ".join(err.lines()), flush=True)
        return
    version = await publish_config(config, text)
    print(f"published config version {version}", flush=True)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-1500:]
    except OSError:
        return "(no log)"
