"""Plan and config distribution: versions only go up, and a node that missed the
announcement catches up from the version key on its next sync."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bidder.fleet.plan import (
    DocKind,
    next_version,
    parse_plan,
    publish_document,
    read_document,
    render_plan,
)
from optimizer.plan import Plan

pytestmark = pytest.mark.redis


def test_plan_document_round_trips() -> None:
    plan = Plan(version=3, bid_multipliers={"c1": 0.5}, arm_shares={"c1": {"a": 1.0}},
                creative_weights={"c1": {"cr": 2.0}})  # fmt: skip
    assert parse_plan(render_plan(plan)) == plan


def test_plan_document_rejects_other_json() -> None:
    with pytest.raises(ValueError, match="not a plan document"):
        parse_plan(b'{"version": 1}')


async def test_plan_publish_keeps_the_newest_version(shared_redis: Redis, key_prefix: str) -> None:
    v1 = await next_version(shared_redis, key_prefix, DocKind.PLAN)
    assert await publish_document(shared_redis, key_prefix, DocKind.PLAN, v1, b"one") == v1
    v2 = await next_version(shared_redis, key_prefix, DocKind.PLAN)
    assert v2 > v1
    assert await publish_document(shared_redis, key_prefix, DocKind.PLAN, v2, b"two") == v2
    assert await publish_document(shared_redis, key_prefix, DocKind.PLAN, v1, b"old") == v2
    assert await read_document(shared_redis, key_prefix, DocKind.PLAN) == (v2, b"two")
    assert await read_document(shared_redis, key_prefix, DocKind.CONFIG) is None
