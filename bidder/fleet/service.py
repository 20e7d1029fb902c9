"""The fleet service: one node's background work against Redis, off the hot path.

Every ``sync_interval_s`` it reports charges and renews leases (``RedisLedger.sync``),
writes and reads frequency and tag changes, and catches up on published documents; a
pub/sub listener applies other nodes' changes and version announcements as they come.
When Redis is unreachable each step fails fast and is retried on the next interval;
the node keeps bidding within its leases until they lapse (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bidder.config.model import BackendSettings
from bidder.fleet.plan import DocKind, events_channel, read_document, read_version
from bidder.ledger.redis import DRAIN_BATCHES, RedisLedger
from bidder.stores.redis_freqcap import RedisFrequencyStore
from bidder.stores.redis_tags import RedisTagStore

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 1.0
LISTEN_POLL_S = 1.0
DocumentHandler = Callable[[DocKind, int, bytes], None]


def build_client(redis_url: str, *, blocking: bool = False) -> Redis:
    """A client that fails fast (no retries, 1 s timeouts): the service loop retries.

    ``blocking`` (the pub/sub listener) waits for messages without a read timeout.
    """
    return Redis.from_url(
        redis_url,
        socket_timeout=None if blocking else SOCKET_TIMEOUT_S,
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )


class FleetService:
    def __init__(
        self,
        settings: BackendSettings,
        ledger: RedisLedger,
        frequency: RedisFrequencyStore,
        tags: RedisTagStore,
        clock: Callable[[], float],
        on_document: DocumentHandler,
        on_ready: Callable[[bool], None],
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.frequency = frequency
        self.tags = tags
        self.clock = clock
        self.on_document = on_document
        self.on_ready = on_ready
        self.prefix = settings.key_prefix
        self.channel = events_channel(self.prefix)
        self.versions: dict[DocKind, int] = {kind: 0 for kind in DocKind}
        self.connected = False
        self.syncs_total = 0
        self.failures_total = 0
        self._client: Redis | None = None
        self._wake = asyncio.Event()
        ledger.on_starved = self._wake.set

    @property
    def client(self) -> Redis:
        if self._client is None:
            self._client = build_client(self.settings.redis_url)
        return self._client

    async def run(self) -> None:
        """Sync forever (until cancelled); a pub/sub listener runs alongside."""
        listener = asyncio.create_task(self._listen())
        try:
            task = asyncio.current_task()
            while True:
                await self.sync_once()
                if task is not None and task.cancelling():
                    # redis-py can swallow a cancellation that lands inside a command
                    raise asyncio.CancelledError
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.sync_interval_s)
                self._wake.clear()
        finally:
            listener.cancel()
            await asyncio.wait({listener}, timeout=SOCKET_TIMEOUT_S)

    async def sync_once(self) -> bool:
        """One round of background work; False (and logged once per outage) on failure."""
        client = self.client
        try:
            now = self.clock()
            await self.ledger.sync_leases(client, now)
            await self.frequency.flush(client, self.channel)
            await self.tags.flush(client, self.channel, now)
            await self.frequency.fetch(client, now)
            await self.tags.fetch(client, now)
            await self._catch_up(client)
        except (RedisError, OSError) as exc:
            self.failures_total += 1
            if self.connected:
                log.warning("redis unreachable, bidding within held leases: %r", exc)
            self.connected = False
            self.on_ready(self.ledger.lease_valid(self.clock()))
            return False
        if not self.connected:
            log.info("redis sync ok (node %s)", self.ledger.settings.node_id)
        self.connected = True
        self.syncs_total += 1
        self.on_ready(True)
        return True

    async def close(self) -> None:
        """Report what is pending and hand leases back; best effort when Redis is down."""
        client = self.client
        try:
            now = self.clock()
            await self.frequency.flush(client, self.channel, DRAIN_BATCHES)
            await self.tags.flush(client, self.channel, now, DRAIN_BATCHES)
            await self.ledger.release_all(client)
        except (RedisError, OSError) as exc:
            log.warning("redis unreachable at shutdown; charges stay in the outbox: %r", exc)
        finally:
            self.on_ready(False)
            await client.aclose()
            self._client = None

    async def _catch_up(self, client: Redis) -> None:
        for kind in DocKind:
            if await read_version(client, self.prefix, kind) <= self.versions[kind]:
                continue
            found = await read_document(client, self.prefix, kind)
            if found is None:
                continue
            version, payload = found
            if version > self.versions[kind]:
                try:
                    self.on_document(kind, version, payload)
                except Exception:
                    log.exception("could not apply %s version %d; keeping the old one",
                                  kind.value, version)  # fmt: skip
                self.versions[kind] = version  # a bad version is not retried forever

    async def _listen(self) -> None:
        sub_client = build_client(self.settings.redis_url, blocking=True)
        try:
            await self._listen_with(sub_client)
        finally:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(SOCKET_TIMEOUT_S):
                    await sub_client.aclose()

    async def _listen_with(self, sub_client: Redis) -> None:
        while True:
            pubsub = sub_client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=LISTEN_POLL_S
                    )
                    if message is not None and message.get("type") == "message":
                        self._on_message(bytes(message["data"]))
            except (RedisError, OSError):
                await asyncio.sleep(self.settings.sync_interval_s)
            finally:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(SOCKET_TIMEOUT_S):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, data: bytes) -> None:
        kind, _, payload = data.partition(b" ")
        try:
            if kind == b"f":
                self.frequency.apply_remote(payload)
            elif kind == b"t":
                self.tags.apply_remote(payload, self.clock())
            elif kind == b"v":
                self._wake.set()  # a new document: catch up now, not at the next tick
        except (ValueError, TypeError):
            log.warning("malformed fleet message ignored: %.80r", data)
