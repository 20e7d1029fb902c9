"""Redis frequency caps and audience tags: exact counts, cross-node visibility, retries."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from bidder.fleet.plan import events_channel
from bidder.stores.redis_freqcap import RedisFrequencyStore
from bidder.stores.redis_tags import RedisTagStore
from tests.bidder.serving import START

pytestmark = pytest.mark.redis

WINDOW_S = 3600


async def test_redis_frequency_counts_exact_across_nodes_and_retries(
    shared_redis: Redis, key_prefix: str
) -> None:
    a = RedisFrequencyStore("a", key_prefix)
    b = RedisFrequencyStore("b", key_prefix)
    channel = events_channel(key_prefix)
    for i in range(7):
        a.record("u1", "c1", WINDOW_S, START + i)
        b.record("u1", "c1", WINDOW_S, START + i)  # same second on two nodes: two events
    retry = list(a._pending)  # a batch whose reply was lost is written again
    await a.flush(shared_redis, channel)
    a._pending.extend(retry)
    await a.flush(shared_redis, channel)
    await b.flush(shared_redis, channel)
    assert await shared_redis.zcard(a.key("c1", "u1")) == 14  # no lost, no double events


async def test_redis_frequency_reads_other_nodes_on_a_cache_miss(
    shared_redis: Redis, key_prefix: str
) -> None:
    a = RedisFrequencyStore("a", key_prefix)
    b = RedisFrequencyStore("b", key_prefix)
    for i in range(3):
        a.record("u1", "c1", WINDOW_S, START + i)
    await a.flush(shared_redis, events_channel(key_prefix))
    assert b.count("u1", "c1", WINDOW_S, START + 10) == 0  # first sight: queued for a read
    assert await b.fetch(shared_redis, START + 10) == 1
    assert b.count("u1", "c1", WINDOW_S, START + 10) == 3
    assert b.count("u1", "c1", WINDOW_S, START + WINDOW_S + 1) == 1  # window slides


async def test_redis_frequency_applies_announced_impressions_once(key_prefix: str) -> None:
    a = RedisFrequencyStore("a", key_prefix)
    b = RedisFrequencyStore("b", key_prefix)
    payload = b'["a", [["c1", "u1", 3600, %d]]]' % int(START)
    assert b.apply_remote(payload) == 1
    assert a.apply_remote(payload) == 0  # a node ignores its own announcements
    assert b.count("u1", "c1", WINDOW_S, START + 1) == 1


async def test_redis_tags_added_on_one_node_read_on_another(
    shared_redis: Redis, key_prefix: str
) -> None:
    START = float(int(time.time()))  # noqa: N806 - Redis expires keys on its own clock
    a = RedisTagStore("a", key_prefix)
    b = RedisTagStore("b", key_prefix)
    channel = events_channel(key_prefix)
    a.add("u1", ["sports", "travel"], 600, START)
    a.add("u1", ["news"], 60, START)
    await a.flush(shared_redis, channel, START)
    assert b.tags("u1", START + 1) == frozenset()
    await b.fetch(shared_redis, START + 1)
    assert b.tags("u1", START + 1) == {"sports", "travel", "news"}
    assert b.tags("u1", START + 61) == {"sports", "travel"}
    assert await shared_redis.expiretime(a.key("u1")) == int(START) + 600
    a.remove("u1", "travel")
    await a.flush(shared_redis, channel, START + 2)
    assert set(await shared_redis.hkeys(a.key("u1"))) == {b"sports", b"news"}
