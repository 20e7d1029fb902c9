"""Frequency caps shared by a fleet: exact counts in Redis, a local cache on the hot path.

``count`` and ``record`` touch only the embedded store this class extends. ``record``
also queues the impression with a unique event id (``node:sequence``); the fleet
service writes the queue to a Redis sorted set per (campaign, user) with ``ZADD NX``
(so a re-sent batch adds nothing), publishes it so other nodes add it to their cache,
and reads users the hot path has not seen lately back from Redis.

What "exact" means: Redis holds every recorded impression exactly once (no lost and no
double increments, even across retries and outages). Enforcement at bid time reads the
local cache, so it can lag by the impressions in flight: those recorded on other nodes
within the last sync interval plus bids already sent and not yet won.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from bidder.fleet import scripts
from bidder.stores.freqcap import DEFAULT_MAX_EVENTS, EmbeddedFrequencyStore, _pack

FETCH_BATCH = 500
MAX_BATCHES = 4  # per sync: the hot path keeps queueing while a sync runs
MAX_FETCH_QUEUE = 100_000
MAX_FETCHED = 1_000_000  # (campaign, user) pairs remembered as fresh


@dataclass(frozen=True, slots=True)
class Impression:
    campaign_id: str
    user_hash: str
    window_s: int
    second: int
    event_id: str


class RedisFrequencyStore(EmbeddedFrequencyStore):
    """``FrequencyStore`` for a fleet node; see the module docstring for the guarantees."""

    __slots__ = ("_cache_ttl_s", "_fetched_s", "_node_id", "_pending", "_seq", "_to_fetch",
                 "key_prefix")  # fmt: skip

    def __init__(
        self, node_id: str, key_prefix: str, cache_ttl_s: float = 60.0,
        max_events: int = DEFAULT_MAX_EVENTS,
    ) -> None:  # fmt: skip
        super().__init__(max_events)
        self._node_id = node_id
        self.key_prefix = key_prefix
        self._cache_ttl_s = cache_ttl_s
        self._seq = 0
        self._pending: list[Impression] = []
        self._to_fetch: dict[tuple[str, str], int] = {}  # (campaign, user) → window_s
        self._fetched_s: OrderedDict[tuple[str, str], float] = OrderedDict()

    def count(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> int:
        pair = (campaign_id, user_hash)
        fetched_s = self._fetched_s.get(pair)
        if (fetched_s is None or now - fetched_s > self._cache_ttl_s) and len(
            self._to_fetch
        ) < MAX_FETCH_QUEUE:
            self._to_fetch[pair] = window_s
        return super().count(user_hash, campaign_id, window_s, now)

    def record(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> None:
        super().record(user_hash, campaign_id, window_s, now)
        self._seq += 1
        event_id = f"{self._node_id}:{self._seq}"
        second = max(1, math.ceil(now))
        self._pending.append(Impression(campaign_id, user_hash, window_s, second, event_id))

    def pending_count(self) -> int:
        return len(self._pending)

    def key(self, campaign_id: str, user_hash: str) -> str:
        return f"{self.key_prefix}f:{campaign_id}:{user_hash}"

    async def flush(self, client: Redis, channel: str, max_batches: int = MAX_BATCHES) -> int:
        """Write queued impressions (idempotently) and announce them; returns how many."""
        sent = 0
        for _ in range(max_batches):
            if not self._pending:
                break
            batch = self._pending[:FETCH_BATCH]
            async with client.pipeline(transaction=False) as pipe:
                for imp in batch:
                    args: list[str | int] = [
                        imp.second,
                        imp.event_id,
                        imp.second - imp.window_s,
                        imp.window_s + 60,
                    ]
                    pipe.eval(
                        scripts.FREQ_RECORD, 1, self.key(imp.campaign_id, imp.user_hash), *args
                    )
                await pipe.execute()
            del self._pending[: len(batch)]
            message = [self._node_id, [[i.campaign_id, i.user_hash, i.window_s, i.second]
                                        for i in batch]]  # fmt: skip
            await client.publish(channel, b"f " + orjson.dumps(message))
            sent += len(batch)
        return sent

    async def fetch(self, client: Redis, now: float, max_batches: int = MAX_BATCHES) -> int:
        """Re-read queued (campaign, user) pairs from Redis into the cache."""
        done = 0
        for _ in range(max_batches):
            if not self._to_fetch:
                break
            pairs = list(self._to_fetch.items())[:FETCH_BATCH]
            async with client.pipeline(transaction=False) as pipe:
                for (campaign_id, user_hash), window_s in pairs:
                    key = self.key(campaign_id, user_hash)
                    pipe.zrangebyscore(key, f"({now - window_s}", "+inf", withscores=True)
                results = await pipe.execute()
            for ((campaign_id, user_hash), window_s), members in zip(pairs, results, strict=True):
                del self._to_fetch[(campaign_id, user_hash)]
                seconds = [int(score) for _, score in members]
                self._merge(campaign_id, user_hash, window_s, seconds)
                self._fetched_s[(campaign_id, user_hash)] = now
                self._fetched_s.move_to_end((campaign_id, user_hash))
            while len(self._fetched_s) > MAX_FETCHED:
                self._fetched_s.popitem(last=False)
            done += len(pairs)
        return done

    def apply_remote(self, payload: bytes) -> int:
        """Add impressions another node announced; returns how many were added."""
        node_id, rows = orjson.loads(payload)
        if node_id == self._node_id:
            return 0
        for campaign_id, user_hash, window_s, second in rows:
            super().record(str(user_hash), str(campaign_id), int(window_s), float(second))
        return len(rows)

    def _merge(
        self, campaign_id: str, user_hash: str, window_s: int, remote_seconds: list[int]
    ) -> None:
        """Redis is authoritative for flushed events; keep this node's unflushed ones too."""
        mine = [p.second for p in self._pending
                if p.campaign_id == campaign_id and p.user_hash == user_hash]  # fmt: skip
        seconds = sorted(remote_seconds + mine, reverse=True)[: self._max_events]
        users = self._campaign_to_users.setdefault(campaign_id, {})
        self._campaign_to_window_s[campaign_id] = window_s
        if seconds:
            users[user_hash] = _pack(seconds)
        else:
            users.pop(user_hash, None)
