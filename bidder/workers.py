"""Several bidder processes on one port (``server.workers > 1``), supervised by the parent.

The parent resolves the shared secrets, opens the authoritative ledger journal, runs the
lease server (``bidder.leases_local``) on a Unix socket and starts ``workers`` processes
(spawned, so each has a clean interpreter and its own model copy). Every worker binds
the bid port with ``SO_REUSEPORT`` and the kernel spreads connections over them. The
parent restarts a worker that dies (at most once a second), forwards SIGHUP (reload),
and on SIGTERM stops the workers, which hand their leases back first.

Per worker: its own state directory (``state_dir/worker-N``: frequency caps, audience
tags) and bid log (``<bidlog_path>.wN``). Metrics of all workers are merged by
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the parent).
The admin API (a localhost port) is served by worker 0 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bidder.config.model import Config
from bidder.heap import freeze_startup_heap
from bidder.ledger.embedded import EmbeddedLedger
from bidder.secrets import persisted_secret

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
SOCKET_NAME = "leases.sock"


def use_uvloop() -> str:
    """Run asyncio on uvloop when it is installed (unless ``RTB_LOOP=asyncio``); returns
    the loop's name."""
    if os.environ.get("RTB_LOOP") == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a spawned worker needs (picklable)."""

    index: int
    config_path: str
    host: str
    port: int
    admin_host: str
    admin_port: int  # 0: no admin listener in this worker
    lease_socket: str
    notice_secret: str
    user_id_salt: str
    allow_build: bool
    clock: Callable[[], float]  # seconds since the epoch (picklable: time.time)


def worker_config(config: Config, spec: WorkerSpec) -> Config:
    """The worker's view: shared secrets, its own state directory and bid log."""
    server = config.server
    state_dir = str(Path(server.state_dir) / f"worker-{spec.index}")
    bidlog = f"{server.bidlog_path}.w{spec.index}" if server.bidlog_path else None
    server = dataclasses.replace(
        server,
        state_dir=state_dir,
        bidlog_path=bidlog,
        notice_secret=spec.notice_secret,
        user_id_salt=spec.user_id_salt,
    )
    return dataclasses.replace(config, server=server)


# -- the worker process ------------------------------------------------------------------


def worker_main(spec: WorkerSpec) -> None:
    """Entry point of a spawned worker process."""
    from bidder.logs import setup_json_logging

    setup_json_logging()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    use_uvloop()
    asyncio.run(_worker(spec))


class _ReusePortSite(web.TCPSite):
    """The limited bid listener, bound with SO_REUSEPORT."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, **kw: Any) -> None:
        from bidder.limits import LimitedTCPSite

        self._inner = LimitedTCPSite(runner, host, port, **kw)
        super().__init__(runner, host, port, reuse_port=True)

    async def start(self) -> None:
        inner = self._inner
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            inner.limiter, self._host, self._port, backlog=self._backlog, reuse_port=True
        )


async def _worker(spec: WorkerSpec) -> None:
    from bidder.admin import reload_config
    from bidder.app import build_admin_app, build_app
    from bidder.config.load import load_config
    from bidder.leases_local import (
        LeaseClient,
        LocalLeaseLedger,
        lease_loop,
        local_lease_settings,
    )
    from bidder.limits import runner_kwargs
    from bidder.runtime import build_runtime
    from rtb.model_setup import resolve_scorer

    config = worker_config(load_config(Path(spec.config_path)), spec)
    server = config.server
    backend = config.backend
    name = f"worker-{spec.index}"
    state_dir = Path(server.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    ledger = LocalLeaseLedger(
        local_lease_settings(name, backend.lease_fraction, float(backend.lease_ttl_s)),
        None,  # the parent journals charges
        state_dir / "outbox.journal",  # charges not yet reported survive a crash
        timezone=server.timezone,
        reservation_ttl_s=server.reservation_ttl_s,
    )
    scorer = resolve_scorer(config, allow_build=spec.allow_build)
    runtime = build_runtime(
        config, scorer, clock=spec.clock, config_path=Path(spec.config_path), ledger=ledger
    )

    def answer_notice(msg: dict[str, Any]) -> dict[str, Any]:
        from bidder.notices import NoticeKind

        kind = NoticeKind(msg["kind"])
        query = {str(k): str(v) for k, v in msg["query"].items()}
        try:
            facts = runtime.signer.verify(kind, query, float(msg["now"]), server.notice_ttl_s)
        except Exception:
            return {"owned": False}
        if not ledger.knows(facts.key):
            return {"owned": False}
        outcome = runtime.notices.handle(kind, query, float(msg["now"]))
        runtime.bidlog.add_notice(kind, outcome, float(msg["now"]))
        return {
            "owned": True,
            "status": outcome.status,
            "result": outcome.result,
            "location": outcome.location,
        }

    client = LeaseClient(Path(spec.lease_socket), name, answer_notice)
    await client.connect()
    runtime.notice_relay = NoticeRelay(ledger, client, runtime.signer, server.notice_ttl_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: reload_config(runtime))
    leases = asyncio.create_task(
        lease_loop(ledger, client, runtime.clock, float(backend.sync_interval_s))
    )
    app = build_app(runtime)
    runners = [web.AppRunner(app, access_log=None, **runner_kwargs(server))]
    if spec.admin_port:
        runners.append(web.AppRunner(build_admin_app(runtime), access_log=None))
    for runner in runners:
        await runner.setup()
    site = _ReusePortSite(
        runners[0],
        spec.host,
        spec.port,
        max_connections=server.max_connections,
        registry=runtime.metrics.registry,
    )
    await site.start()
    if spec.admin_port:
        await web.TCPSite(runners[1], spec.admin_host, spec.admin_port).start()
    log.info("%s serving on http://%s:%d (pid %d)", name, spec.host, spec.port, os.getpid())
    freeze_startup_heap()
    try:
        await stop.wait()
    finally:
        await site.stop()  # no new connections; the lease loop hands slices back
        leases.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leases
        for runner in reversed(runners):
            await runner.cleanup()
        await client.close()


class NoticeRelay:
    """Sends a notice this worker does not hold to the worker that does (via the parent)."""

    def __init__(self, ledger: Any, client: Any, signer: Any, ttl_s: int) -> None:
        self.ledger = ledger
        self.client = client
        self.signer = signer
        self.ttl_s = ttl_s

    def is_local(self, kind: Any, query: dict[str, str], now_s: float) -> bool:
        """True when this worker should handle the notice (it holds the bid, or it is a
        click, or the notice does not verify: then the local answer is the refusal)."""
        from bidder.notices import NoticeKind

        if kind is NoticeKind.CLICK:
            return True
        try:
            facts = self.signer.verify(kind, query, now_s, self.ttl_s)
        except Exception:
            return True
        return bool(facts.test) or bool(self.ledger.knows(facts.key))

    async def forward(self, kind: Any, query: dict[str, str], now_s: float) -> dict[str, Any]:
        msg = {"op": "notice", "kind": kind.value, "query": query, "now": now_s}
        try:
            answer: dict[str, Any] = await self.client.call(msg)
        except (OSError, TimeoutError):
            return {"owned": False}
        return answer


# -- the parent (supervisor) -------------------------------------------------------------


def supervise(
    config: Config,
    config_path: Path,
    host: str,
    port: int,
    admin_host: str,
    admin_port: int,
    *,
    allow_build: bool,
    clock: Callable[[], float],
) -> int:
    """Run ``config.server.workers`` workers until SIGTERM/SIGINT; returns an exit code."""
    server = config.server
    state_dir = Path(server.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    salt = server.user_id_salt or persisted_secret(state_dir, "user-id.salt")
    ring = server.notice_secret or persisted_secret(state_dir, "notice.key")
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    own_metrics_dir = metrics_dir is None
    if metrics_dir is None:
        metrics_dir = tempfile.mkdtemp(prefix="rtb-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    else:
        for f in Path(metrics_dir).glob("*.db"):
            f.unlink()
    sock = state_dir / SOCKET_NAME
    specs = [
        WorkerSpec(
            i,
            str(config_path),
            host,
            port,
            admin_host,
            admin_port if i == 0 else 0,
            str(sock),
            ring,
            salt,
            allow_build,
            clock,
        )
        for i in range(server.workers)
    ]
    use_uvloop()
    try:
        return asyncio.run(_supervise(config, config_path, specs))
    finally:
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


async def _supervise(config: Config, config_path: Path, specs: list[WorkerSpec]) -> int:
    from bidder.config.load import load_config
    from bidder.leases_local import LeaseServer

    server = config.server
    ledger = EmbeddedLedger(
        Path(server.state_dir) / "ledger.journal",
        timezone=server.timezone,
        reservation_ttl_s=server.reservation_ttl_s,
        presize=True,
    )
    leases = LeaseServer(ledger, server.timezone)
    leases.set_budgets({c.id: c.budget for c in config.campaigns})
    ledger.snapshot(specs[0].clock())
    await leases.start(Path(specs[0].lease_socket))
    ctx = mp.get_context("spawn")
    procs: dict[int, Any] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            fresh = load_config(config_path)
        except Exception as exc:
            log.error("reload refused, keeping the running config: %s", exc)
            return
        leases.set_budgets({c.id: c.budget for c in fresh.campaigns})
        for proc in procs.values():
            if proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGHUP)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)

    def start(spec: WorkerSpec) -> None:
        proc = ctx.Process(target=worker_main, args=(spec,), name=f"rtb-worker-{spec.index}")
        proc.start()
        procs[spec.index] = proc
        log.info("started worker %d (pid %d)", spec.index, proc.pid)

    for spec in specs:
        start(spec)
    last_start: dict[int, float] = {s.index: time.monotonic() for s in specs}
    tick = 0
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            tick += 1
            for spec in specs:
                proc = procs[spec.index]
                if proc.is_alive() or stop.is_set():
                    continue
                _mark_dead(proc.pid)
                log.error(
                    "worker %d (pid %s) exited with %s; restarting",
                    spec.index,
                    proc.pid,
                    proc.exitcode,
                )
                wait = RESTART_DELAY_S - (time.monotonic() - last_start[spec.index])
                if wait > 0:
                    await asyncio.sleep(wait)
                start(spec)
                last_start[spec.index] = time.monotonic()
            if tick % 120 == 0:
                ledger.sync()
    finally:
        await _stop_all(procs)
        await asyncio.sleep(0.1)  # let the last reports and returns arrive
        await leases.close()
        ledger.close()
    return 0


async def _stop_all(procs: dict[int, Any], timeout_s: float = 10.0) -> None:
    for proc in procs.values():
        if proc.is_alive() and proc.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(p.is_alive() for p in procs.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for proc in procs.values():
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        _mark_dead(proc.pid)


def _mark_dead(pid: int | None) -> None:
    if pid is None or "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return
    with contextlib.suppress(Exception):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
