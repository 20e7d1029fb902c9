"""`rtb serve`: run the bidder on a config file (bid port, plus the admin API on localhost)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import time
from pathlib import Path

from aiohttp import web

from bidder.admin import reload_config
from bidder.app import build_admin_app, build_app
from bidder.config.load import load_config, redacted
from bidder.config.model import BackendKind
from bidder.errors import ConfigError
from bidder.heap import freeze_startup_heap
from bidder.limits import LimitedTCPSite, runner_kwargs
from bidder.logs import setup_json_logging
from bidder.malloc import tune_malloc
from bidder.runtime import Runtime, build_runtime
from bidder.workers import use_uvloop
from rtb.model_setup import resolve_scorer

NAME = "serve"
HELP = "run the bidder HTTP server on a config file"
EPILOG = """examples:
  rtb serve                                   # config.yaml, ports from the file (8080, admin 8081)
  rtb serve --config config.yaml --port 8080
  kill -HUP <pid>                             # reload config.yaml (validated first)
  curl -X POST -H "Authorization: Bearer $RTB_ADMIN_TOKEN" localhost:8081/admin/reload
"""

log = logging.getLogger("rtb.serve")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yaml", help="config file (default: config.yaml)")
    p.add_argument("--host", default=None, help="listen address (default: server.host)")
    p.add_argument("--port", type=int, default=None, help="listen port (default: server.port)")
    p.add_argument(
        "--admin-port", type=int, default=None, help="admin port (default: server.admin_port)"
    )
    p.add_argument("--no-model-build", action="store_true", help="never build a default model")


def run(args: argparse.Namespace) -> int:
    setup_json_logging()
    path = Path(args.config)
    try:
        config = load_config(path)
    except ConfigError as err:
        for line in err.lines():
            print(f"{path}: {line}")
        return 1
    log.info("config %s loaded: %s", config.version, redacted(config))
    tune_malloc(config.server.malloc_tuning)  # before the model and state are loaded
    host = args.host or config.server.host
    port = args.port if args.port is not None else config.server.port
    admin_port = args.admin_port if args.admin_port is not None else config.server.admin_port
    if config.server.workers > 1 and config.backend.kind is BackendKind.EMBEDDED:
        from bidder.workers import supervise  # N processes on one port, budget leases

        return supervise(config, path, host, port, config.server.admin_host, admin_port,
                         allow_build=not args.no_model_build, clock=time.time)  # fmt: skip
    use_uvloop()
    scorer = resolve_scorer(config, allow_build=not args.no_model_build)
    runtime = build_runtime(config, scorer, clock=time.time, config_path=path)
    asyncio.run(_serve(runtime, host, port, config.server.admin_host, admin_port))
    return 0


async def _serve(runtime: Runtime, host: str, port: int, admin_host: str, admin_port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, lambda: reload_config(runtime))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    limits = runner_kwargs(runtime.config.server)
    app = build_app(runtime, with_admin=admin_port == 0)
    runners = [web.AppRunner(app, access_log=None, **limits)]
    if admin_port:
        runners.append(web.AppRunner(build_admin_app(runtime), access_log=None))
    for runner in runners:
        await runner.setup()
    max_connections = runtime.config.server.max_connections
    registry = runtime.metrics.registry
    site = LimitedTCPSite(
        runners[0], host, port, max_connections=max_connections, registry=registry
    )
    await site.start()
    if admin_port:
        await web.TCPSite(runners[1], admin_host, admin_port).start()
        log.info("admin API on http://%s:%d", admin_host, admin_port)
    log.info("serving on http://%s:%d (model %s)", host, port, runtime.auction.scorer.version)
    freeze_startup_heap()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        for runner in reversed(runners):
            await runner.cleanup()
