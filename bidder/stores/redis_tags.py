"""Audience tags shared by a fleet: Redis hashes with expiry, a local cache on the hot path.

``tags`` reads the embedded store this class extends and queues users it has not read
from Redis lately; ``add``/``remove``/``load`` change the cache at once and queue the
change. The fleet service writes queued changes (``P t:{user}`` hash ``tag → expires_s``,
the key expiring with its last tag), announces them to the other nodes, and reads queued
users back. A tag added on one node is visible on the others after one sync interval.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from redis.asyncio import Redis

from bidder.fleet import scripts
from bidder.stores.tags import EmbeddedTagStore, _slots

BATCH = 500
MAX_BATCHES = 4  # per sync: the hot path keeps queueing while a sync runs
MAX_FETCH_QUEUE = 100_000
MAX_FETCHED = 1_000_000


@dataclass(frozen=True, slots=True)
class TagChange:
    user_hash: str
    tags: tuple[str, ...]
    expires_s: int  # 0: remove the tags


class RedisTagStore(EmbeddedTagStore):
    """``TagStore`` for a fleet node; see the module docstring."""

    __slots__ = ("_cache_ttl_s", "_fetched_s", "_node_id", "_pending", "_to_fetch", "key_prefix")

    def __init__(self, node_id: str, key_prefix: str, cache_ttl_s: float = 60.0) -> None:
        super().__init__()
        self._node_id = node_id
        self.key_prefix = key_prefix
        self._cache_ttl_s = cache_ttl_s
        self._pending: list[TagChange] = []
        self._to_fetch: dict[str, None] = {}
        self._fetched_s: OrderedDict[str, float] = OrderedDict()

    def tags(self, user_hash: str, now: float) -> frozenset[str]:
        fetched_s = self._fetched_s.get(user_hash)
        if (fetched_s is None or now - fetched_s > self._cache_ttl_s) and len(
            self._to_fetch
        ) < MAX_FETCH_QUEUE:
            self._to_fetch[user_hash] = None
        return super().tags(user_hash, now)

    def add(self, user_hash: str, tags: Iterable[str], ttl_s: float, now: float) -> None:
        names = tuple(sorted(set(tags)))
        super().add(user_hash, names, ttl_s, now)
        if names:
            expires_s = -(-int((now + ttl_s) * 1_000_000) // 1_000_000)  # ceil, like the cache
            self._pending.append(TagChange(user_hash, names, expires_s))

    def remove(self, user_hash: str, tag: str) -> bool:
        removed = super().remove(user_hash, tag)
        self._pending.append(TagChange(user_hash, (tag,), 0))
        return removed

    def load(self, path: Path) -> int:
        """Replace the cache with the file's users and queue them all for Redis."""
        count = super().load(path)
        for user_hash, packed in self._user_to_packed.items():
            for tag_id, expires_s in _slots(packed):
                self._pending.append(TagChange(user_hash, (self._id_to_tag[tag_id],), expires_s))
        return count

    def pending_count(self) -> int:
        return len(self._pending)

    def key(self, user_hash: str) -> str:
        return f"{self.key_prefix}t:{user_hash}"

    async def flush(
        self, client: Redis, channel: str, now: float, max_batches: int = MAX_BATCHES
    ) -> int:
        """Write queued changes (expired ones are dropped) and announce them."""
        sent = 0
        for _ in range(max_batches):
            if not self._pending:
                break
            batch = [c for c in self._pending[:BATCH] if c.expires_s == 0 or c.expires_s > now]
            taken = min(BATCH, len(self._pending))
            async with client.pipeline(transaction=False) as pipe:
                for change in batch:
                    if change.expires_s:
                        pipe.eval(scripts.TAGS_ADD, 1, self.key(change.user_hash),
                                  change.expires_s, *change.tags)  # fmt: skip
                    else:
                        pipe.hdel(self.key(change.user_hash), *change.tags)
                await pipe.execute()
            del self._pending[:taken]
            rows = [[c.user_hash, list(c.tags), c.expires_s] for c in batch]
            await client.publish(channel, b"t " + orjson.dumps([self._node_id, rows]))
            sent += len(batch)
        return sent

    async def fetch(self, client: Redis, now: float, max_batches: int = MAX_BATCHES) -> int:
        done = 0
        for _ in range(max_batches):
            if not self._to_fetch:
                break
            users = list(self._to_fetch)[:BATCH]
            async with client.pipeline(transaction=False) as pipe:
                for user_hash in users:
                    pipe.hgetall(self.key(user_hash))
                results = await pipe.execute()
            for user_hash, tag_to_expiry in zip(users, results, strict=True):
                del self._to_fetch[user_hash]
                self._merge(user_hash, tag_to_expiry, now)
                self._fetched_s[user_hash] = now
                self._fetched_s.move_to_end(user_hash)
            while len(self._fetched_s) > MAX_FETCHED:
                self._fetched_s.popitem(last=False)
            done += len(users)
        return done

    def apply_remote(self, payload: bytes, now: float) -> int:
        node_id, rows = orjson.loads(payload)
        if node_id == self._node_id:
            return 0
        for user_hash, tags, expires_s in rows:
            if expires_s:
                if expires_s > now:
                    super().add(str(user_hash), [str(t) for t in tags], expires_s - now, now)
            else:
                for tag in tags:
                    super().remove(str(user_hash), str(tag))
        return len(rows)

    def _merge(self, user_hash: str, tag_to_expiry: dict[bytes, bytes], now: float) -> None:
        for raw_tag, raw_expiry in tag_to_expiry.items():
            expires_s = int(raw_expiry)
            if expires_s > now:
                super().add(user_hash, [raw_tag.decode()], expires_s - now, now)
