"""Shared launcher of the HTTP baselines: N processes on one port with SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable

from aiohttp import web


def use_uvloop() -> str:
    """Install uvloop when it is importable (the bidder does the same); returns the loop name."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


async def _serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=True, backlog=1024).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def run(make_app: Callable[[], web.Application], host: str, port: int, workers: int) -> None:
    """Fork ``workers`` processes serving ``make_app()``; the parent waits and forwards TERM."""
    use_uvloop()
    if workers <= 1:
        asyncio.run(_serve(make_app(), host, port))
        return
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(_serve(make_app(), host, port))
            finally:
                os._exit(0)
        pids.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in pids:
        os.waitpid(pid, 0)
    sys.exit(0)
