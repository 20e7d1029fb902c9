"""Redis outage: bid within held leases, then fail closed; journal notices; reconcile once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bidder.config.model import BackendKind, BackendSettings, Budget
from bidder.fleet import scripts
from bidder.fleet.plan import DocKind
from bidder.fleet.service import FleetService
from bidder.ledger.base import ChargeResult
from bidder.ledger.redis import LeaseSettings, RedisLedger
from bidder.stores.redis_freqcap import RedisFrequencyStore
from bidder.stores.redis_tags import RedisTagStore
from tests.bidder.serving import START, FakeClock
from tests.fleet.conftest import PrivateRedis

pytestmark = pytest.mark.redis

PRICE = 100_000
DAILY = 100_000_000  # slice at 1% = 1_000_000 = 10 bids of PRICE
LEASE_TTL_S = 30


@pytest.fixture
async def node(
    private_redis: PrivateRedis, tmp_path: Path
) -> AsyncIterator[tuple[FleetService, FakeClock]]:
    clock = FakeClock()
    settings = BackendSettings(kind=BackendKind.REDIS, redis_url=private_redis.url,
                               key_prefix="fault:", node_id="n1", lease_ttl_s=LEASE_TTL_S)  # fmt: skip
    ledger = RedisLedger(LeaseSettings("n1", "fault:", 0.01, LEASE_TTL_S), None,
                         tmp_path / "outbox")  # fmt: skip
    ledger.set_budgets({"c1": Budget(10 * DAILY, DAILY), "c2": Budget(10 * DAILY, DAILY)})
    readiness: list[bool] = []

    def on_document(kind: DocKind, version: int, payload: bytes) -> None:
        pass

    service = FleetService(settings, ledger, RedisFrequencyStore("n1", "fault:"),
                           RedisTagStore("n1", "fault:"), clock, on_document,
                           readiness.append)  # fmt: skip
    yield service, clock
    await service.close()
    ledger.close()


def bid_and_win(ledger: RedisLedger, campaign: str, key: str, now: float) -> bool:
    if not ledger.reserve(key, campaign, "arm", PRICE, now):
        return False
    assert ledger.charge(key, PRICE, now) is ChargeResult.CHARGED
    return True


async def test_fault_outage_bids_within_lease_then_reconciles_once(
    node: tuple[FleetService, FakeClock], private_redis: PrivateRedis
) -> None:
    service, clock = node
    ledger = service.ledger
    timeline: list[str] = []
    assert await service.sync_once()
    before = sum(bid_and_win(ledger, "c1", f"pre{i}/1", clock()) for i in range(3))
    assert await service.sync_once()
    timeline.append(f"t=0s   redis up: lease 1_000_000 micros, {before} wins reported")

    private_redis.stop(keep_data=True)
    assert not await service.sync_once()
    during = 0
    while bid_and_win(ledger, "c1", f"out{during}/1", clock()):
        during += 1
    assert during == 10 - before  # the rest of the held slice, then no more bids
    timeline.append(f"t=0s   redis down: {during} more wins within the lease, then no bid")
    c2_wins = sum(bid_and_win(ledger, "c2", f"c2-{i}/1", clock()) for i in range(2))
    clock.advance(LEASE_TTL_S + 1)
    assert not await service.sync_once()
    assert not ledger.reserve("late/1", "c2", "arm", PRICE, clock())  # slice left, lease stale
    timeline.append(f"t={LEASE_TTL_S + 1}s  lease not renewed for lease_ttl_s: fail closed "
                    f"(c2 had {c2_wins} wins and slice left)")  # fmt: skip
    pending = ledger.lease_stats().pending_reports
    assert pending == during + c2_wins

    private_redis.start()
    assert await service.sync_once()
    assert ledger.lease_stats().pending_reports == 0
    client = Redis.from_url(private_redis.url)
    try:
        spent = int(await client.get(scripts.campaign_key("fault:", "c1", "spent")) or 0)
        assert spent == (before + during) * PRICE
        # re-send every journaled notice after reconciliation: nothing changes
        for key in [f"out{i}/1" for i in range(during)]:
            ledger._outbox.append(_record(key))
        await ledger.report(client)
        assert int(await client.get(scripts.campaign_key("fault:", "c1", "spent"))) == spent
    finally:
        await client.aclose()
    assert ledger.reserve("after/1", "c1", "arm", PRICE, clock())  # bidding again
    timeline.append(f"t={LEASE_TTL_S + 1}s  redis back: {pending} journaled charges reconciled, "
                    f"spent {spent} = {(before + during)} x {PRICE}, re-sent notices ignored")  # fmt: skip
    print("\n" + "\n".join(timeline))


def _record(key: str):  # type: ignore[no-untyped-def]
    from bidder.ledger.journal import ChargeRecord

    return ChargeRecord(key, "c1", "arm", PRICE, 740_000, START)
