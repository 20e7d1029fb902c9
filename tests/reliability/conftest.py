"""Fixtures for the reliability tests: an in-process bidder app on its own event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bidder.limits import runner_kwargs
from bidder.runtime import Runtime
from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_app, make_runtime


class ErrorRecords(logging.Handler):
    """Keeps every record at ERROR or above (hypothesis tests cannot use ``caplog``)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(repr=False)
class LoopServer:
    """An app served on a private event loop, so sync (hypothesis) tests can drive it."""

    loop: asyncio.AbstractEventLoop
    client: TestClient  # type: ignore[type-arg]
    runtime: Runtime
    errors: ErrorRecords

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)


@pytest.fixture(scope="module")
def loop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopServer]:
    state = tmp_path_factory.mktemp("state")
    runtime = make_runtime(GOLDEN_CONFIG, Path(state), FakeClock())
    loop = asyncio.new_event_loop()

    async def start() -> TestClient:  # type: ignore[type-arg]
        server = TestServer(make_app(runtime), **runner_kwargs(runtime.config.server))
        client = TestClient(server)
        await client.start_server()
        return client

    try:
        client = loop.run_until_complete(start())
    except BaseException:
        loop.close()
        raise
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    try:
        yield LoopServer(loop, client, runtime, errors)
    finally:
        logging.getLogger().removeHandler(errors)
        loop.run_until_complete(client.close())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
