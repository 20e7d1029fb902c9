"""RedisLedger against the shared Redis: leases, exactly-once charges, the budget bound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bidder.config.model import Budget
from bidder.fleet import scripts
from bidder.ledger.base import ChargeResult
from bidder.ledger.journal import ChargeRecord
from bidder.ledger.redis import LeaseSettings, RedisLedger
from tests.bidder.serving import START

pytestmark = pytest.mark.redis

DAILY = 10_000_000
TOTAL = 50_000_000
_OPEN: list[RedisLedger] = []


@pytest.fixture(autouse=True)
def _close_ledgers() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def make_ledger(prefix: str, node: str, path: Path | None = None, fraction: float = 0.01,
                ttl_s: float = 30.0) -> RedisLedger:  # fmt: skip
    settings = LeaseSettings(node, prefix, lease_fraction=fraction, lease_ttl_s=ttl_s)
    outbox = path / f"{node}.outbox" if path is not None else None
    ledger = RedisLedger(settings, None, outbox)
    ledger.set_budgets({"c1": Budget(TOTAL, DAILY)})
    _OPEN.append(ledger)
    return ledger


async def redis_spent(client: Redis, prefix: str, campaign: str = "c1") -> int:
    return int(await client.get(scripts.campaign_key(prefix, campaign, "spent")) or 0)


async def test_redis_ledger_refuses_before_first_sync(key_prefix: str) -> None:
    ledger = make_ledger(key_prefix, "n1")
    assert not ledger.reserve("a/1", "c1", "arm", 1000, START)
    assert ledger.lease_stats().fenced_total == 1


async def test_redis_ledger_lease_caps_local_holds_at_the_slice(
    shared_redis: Redis, key_prefix: str
) -> None:
    ledger = make_ledger(key_prefix, "n1")
    await ledger.sync_leases(shared_redis, START)
    slice_micros = int(0.01 * DAILY)
    assert ledger.outstanding_micros("c1") == slice_micros
    held = 0
    while ledger.reserve(f"a{held}/1", "c1", "arm", 10_000, START):
        held += 10_000
    assert held == slice_micros


async def test_redis_ledger_charge_reported_once_when_resent(
    shared_redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    ledger = make_ledger(key_prefix, "n1", tmp_path)
    await ledger.sync_leases(shared_redis, START)
    assert ledger.reserve("a1/1", "c1", "arm", 5000, START)
    assert ledger.charge("a1/1", 4000, START + 1) is ChargeResult.CHARGED
    assert ledger.charge("a1/1", 4000, START + 1) is ChargeResult.DUPLICATE
    assert await ledger.report(shared_redis) == 1
    # a report whose reply was lost is sent again: Redis applies it once
    ledger._outbox.append(ChargeRecord("a1/1", "c1", "arm", 4000, 740_000, START + 1))
    assert await ledger.report(shared_redis) == 1
    assert await redis_spent(shared_redis, key_prefix) == 4000
    stats = ledger.lease_stats()
    assert (stats.reported_total, stats.reported_duplicate_total) == (1, 1)


async def test_redis_ledger_outbox_survives_restart(
    shared_redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    ledger = make_ledger(key_prefix, "n1", tmp_path)
    await ledger.sync_leases(shared_redis, START)
    for i in range(3):
        assert ledger.reserve(f"a{i}/1", "c1", "arm", 5000, START)
        assert ledger.charge(f"a{i}/1", 5000, START) is ChargeResult.CHARGED
    await ledger.report(shared_redis)  # the first three reach Redis
    assert ledger.reserve("a9/1", "c1", "arm", 5000, START)
    assert ledger.charge("a9/1", 5000, START) is ChargeResult.CHARGED
    ledger.close()  # crash before reporting a9
    again = make_ledger(key_prefix, "n1", tmp_path)
    assert again.lease_stats().pending_reports == 1
    assert await again.report(shared_redis) == 1
    assert await redis_spent(shared_redis, key_prefix) == 4 * 5000


async def test_redis_ledger_nodes_never_pass_the_budget(
    shared_redis: Redis, key_prefix: str
) -> None:
    nodes = [make_ledger(key_prefix, f"n{i}", fraction=0.05) for i in range(3)]
    for node in nodes:
        await node.sync_leases(shared_redis, START)
    charged = 0
    for step in range(400):
        for i, node in enumerate(nodes):
            key = f"a{step}-{i}/1"
            if node.reserve(key, "c1", "arm", 30_000, START):
                assert node.charge(key, 25_000, START) is ChargeResult.CHARGED
                charged += 25_000
        if step % 5 == 0:
            for node in nodes:
                await node.sync_leases(shared_redis, START)
    for node in nodes:
        await node.release_all(shared_redis)
    spent = await redis_spent(shared_redis, key_prefix)
    assert spent == charged
    assert DAILY - 3 * 30_000 < spent <= DAILY  # exhausted (less than a bid per node left)
    assert await shared_redis.hlen(scripts.campaign_key(key_prefix, "c1", "leases")) == 0


async def test_redis_ledger_release_all_frees_the_slice_for_others(
    shared_redis: Redis, key_prefix: str
) -> None:
    tight = {"c1": Budget(1_000_000, 1_000_000)}
    a, b = make_ledger(key_prefix, "a", fraction=1.0), make_ledger(key_prefix, "b", fraction=1.0)
    a.set_budgets(tight)
    b.set_budgets(tight)
    await a.sync_leases(shared_redis, START)
    await b.sync_leases(shared_redis, START)
    assert (a.outstanding_micros("c1"), b.outstanding_micros("c1")) == (1_000_000, 0)
    await a.release_all(shared_redis)
    await b.sync_leases(shared_redis, START + 1)
    assert b.outstanding_micros("c1") == 1_000_000


async def test_redis_ledger_budget_lowered_gives_surplus_back(
    shared_redis: Redis, key_prefix: str
) -> None:
    ledger = make_ledger(key_prefix, "n1", fraction=0.5)
    await ledger.sync_leases(shared_redis, START)
    assert ledger.outstanding_micros("c1") == DAILY // 2
    ledger.set_budgets({"c1": Budget(TOTAL, DAILY // 10)})
    await ledger.sync_leases(shared_redis, START + 1)
    assert ledger.outstanding_micros("c1") == DAILY // 20
    raw = await shared_redis.hget(scripts.campaign_key(key_prefix, "c1", "leases"), "n1")
    assert raw is not None and int(raw.split()[0]) == DAILY // 20


async def test_redis_ledger_campaign_spend_is_the_fleet_view(
    shared_redis: Redis, key_prefix: str
) -> None:
    a, b = make_ledger(key_prefix, "a"), make_ledger(key_prefix, "b")
    for node in (a, b):
        await node.sync_leases(shared_redis, START)
    assert a.reserve("x/1", "c1", "arm", 7000, START)
    a.charge("x/1", 7000, START)
    await a.sync_leases(shared_redis, START)
    await b.sync_leases(shared_redis, START)
    assert b.campaign_spend("c1", START).total_micros == 7000
