"""The fleet budget ledger: the embedded ledger's rules, spending leases taken from Redis.

A node never spends shared budget directly. It takes a *lease* (a slice of a campaign's
remaining total and daily budget, at most ``lease_fraction`` of the daily budget) with
an atomic Lua script, and the local ``EmbeddedLedger`` it extends enforces
``spent + reserved <= leased`` with exactly the embedded rules: the local budgets are
set to ``local spend + outstanding lease``. Charges are written to an outbox first and
reported to Redis in the background, de-duplicated there by ``SET NX`` on the charge
key, so each (auction, impression) is charged once across the fleet even when reports
are re-sent after a crash or an outage. See docs/fleet.md for the overspend bound.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bidder.config.model import Budget
from bidder.fleet import scripts
from bidder.fleet.outbox import Outbox
from bidder.ledger.base import Spend
from bidder.ledger.day import day_to_iso
from bidder.ledger.embedded import DEFAULT_RESERVATION_TTL_S, EmbeddedLedger, _Reservation
from bidder.ledger.journal import ChargeRecord

log = logging.getLogger(__name__)

REPORT_BATCH = 500
MAX_BATCHES = 4  # per sync, so a busy node still tops its leases up every interval
DRAIN_BATCHES = 1_000_000


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    node_id: str
    key_prefix: str
    lease_fraction: float = 0.01
    lease_ttl_s: float = 30.0
    dedupe_ttl_s: int = 7 * 86_400


@dataclass(slots=True)
class _FleetView:
    """What the last lease call saw in Redis for one campaign."""

    spent_micros: int = 0
    spent_today_micros: int = 0
    leased_by_others_micros: int = 0


@dataclass(frozen=True, slots=True)
class LeaseStats:
    """Counters since construction, for logs and tests."""

    granted_micros_total: int
    returned_micros_total: int
    reported_total: int  # charges Redis applied
    reported_duplicate_total: int  # charges Redis had already (re-sent reports)
    fenced_total: int  # reservations refused because the lease was stale
    pending_reports: int


class RedisLedger(EmbeddedLedger):
    """``Ledger`` for one node of a fleet; the hot path touches local state only.

    ``sync_leases`` (awaited by the fleet service every ``sync_interval_s``) reports charges,
    tops leases up and renews them. Until the first successful sync, and once
    ``lease_ttl_s`` has passed since the last one, ``reserve`` refuses (fail closed);
    in between, the node bids within the slices it holds even when Redis is down.
    """

    def __init__(
        self,
        settings: LeaseSettings,
        journal_path: Path | None = None,
        outbox_path: Path | None = None,
        *,
        timezone: str = "UTC",
        reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S,
    ) -> None:
        if not 0 < settings.lease_fraction <= 1:
            raise ValueError(f"lease_fraction must be in (0, 1], got {settings.lease_fraction}")
        super().__init__(journal_path, timezone=timezone, reservation_ttl_s=reservation_ttl_s)
        self.settings = settings
        self._outbox = Outbox(outbox_path)
        self._configured: dict[str, Budget] = {}
        self._outstanding: dict[str, int] = {}  # campaign → lease micros not yet charged
        self._views: dict[str, _FleetView] = {}
        self._lease_day = -1
        self._valid_until_s = 0.0
        self._renewed_s = -math.inf
        self._last_now_s = 0.0
        self._n_granted = self._n_returned = self._n_reported = self._n_dup = 0
        self._n_fenced = 0
        self._exhausted: set[str] = set()  # campaigns whose last top-up found no budget
        self.on_starved: Callable[[], None] | None = None  # asks the service to sync now

    # -- Ledger API ------------------------------------------------------------------

    def set_budgets(self, campaign_to_budget: Mapping[str, Budget]) -> None:
        for campaign_id, budget in campaign_to_budget.items():
            if budget.total_micros < 0 or budget.daily_micros < 0:
                raise ValueError(f"{campaign_id}: budgets must be >= 0 micros, got {budget}")
        self._configured = dict(campaign_to_budget)
        self._apply_local_budgets()

    def reserve(self, key: str, campaign_id: str, arm: str, amount_micros: int, now: float) -> bool:
        if now > self._valid_until_s or self._days.day(now) != self._lease_day:
            self._n_fenced += 1
            return False
        if super().reserve(key, campaign_id, arm, amount_micros, now):
            return True
        if self.on_starved is not None and campaign_id not in self._exhausted:
            self.on_starved()  # the slice ran out between syncs: top it up now
        return False

    def campaign_spend(self, campaign_id: str, now: float) -> Spend:
        """The fleet's view (as of the last sync) plus this node's unreported charges."""
        local = super().campaign_spend(campaign_id, now)
        budget = self._configured.get(campaign_id)
        view = self._views.get(campaign_id)
        if budget is None or view is None:
            return local
        unreported = sum(
            r.micros for r in self._outbox.batch(len(self._outbox)) if r.campaign_id == campaign_id
        )
        total = view.spent_micros + unreported
        today = view.spent_today_micros + unreported
        committed = local.reserved_micros + view.leased_by_others_micros
        remaining_total = max(0, budget.total_micros - total - committed)
        remaining_today = max(0, budget.daily_micros - today - committed)
        return Spend(total, today, local.reserved_micros, remaining_total,
                     min(remaining_today, remaining_total))  # fmt: skip

    def outstanding_micros(self, campaign_id: str) -> int:
        """Lease micros this node holds for the campaign and has not charged."""
        return self._outstanding.get(campaign_id, 0)

    def lease_stats(self) -> LeaseStats:
        return LeaseStats(
            granted_micros_total=self._n_granted,
            returned_micros_total=self._n_returned,
            reported_total=self._n_reported,
            reported_duplicate_total=self._n_dup,
            fenced_total=self._n_fenced,
            pending_reports=len(self._outbox),
        )

    def lease_valid(self, now: float) -> bool:
        return now <= self._valid_until_s

    def close(self) -> None:
        self._outbox.close()
        super().close()

    # -- background (awaited by the fleet service) -----------------------------------

    async def sync_leases(self, client: Any, now: float) -> None:
        """Report charges, then take, top up and renew leases; raises on Redis errors."""
        await self.report(client)
        day = self._days.day(now)
        if day != self._lease_day:
            self._outstanding.clear()  # the lease script restarts a node's slice per day
        renew = now - self._renewed_s >= self.settings.lease_ttl_s / 3
        calls = []
        for campaign_id, budget in self._configured.items():
            target = int(self.settings.lease_fraction * budget.daily_micros)
            outstanding = self._outstanding.get(campaign_id, 0)
            reserved = super().campaign_spend(campaign_id, now).reserved_micros
            free = outstanding - reserved
            if free > target:  # budget lowered: give the surplus back
                await self._give_back(client, campaign_id, free - target)
                outstanding -= free - target
            add = target - outstanding if free * 2 < target or day != self._lease_day else 0
            if add > 0 or renew:
                calls.append((campaign_id, budget, max(add, 0)))
        for campaign_id in [c for c in self._outstanding if c not in self._configured]:
            await self._give_back(client, campaign_id, -1)
            del self._outstanding[campaign_id]
        await self._lease(client, calls, day)
        await self._refresh_views(
            client,
            [c for c in self._configured if c not in dict.fromkeys(call[0] for call in calls)],
            day,
        )
        self._lease_day = day
        self._valid_until_s = now + self.settings.lease_ttl_s
        if renew or calls:
            self._renewed_s = now
        self._apply_local_budgets(now)

    async def report(self, client: Redis) -> int:
        """Send pending charges to Redis (each applied at most once); returns how many."""
        sent = 0
        for _ in range(MAX_BATCHES):  # bounded: a busy node must still reach its top-up
            if not len(self._outbox):
                break
            batch = self._outbox.batch(REPORT_BATCH)
            async with client.pipeline(transaction=False) as pipe:
                for record in batch:
                    self._charge_call(pipe, record)
                results = await pipe.execute()
            self._outbox.ack(record.key for record in batch)
            applied = sum(1 for result in results if int(result) == 1)
            self._n_reported += applied
            self._n_dup += len(batch) - applied
            sent += len(batch)
        return sent

    async def release_all(self, client: Any) -> None:
        """Shutdown: report what is pending, then hand every slice back to the fleet."""
        while len(self._outbox):
            await self.report(client)
        for campaign_id in list(self._outstanding):
            await self._give_back(client, campaign_id, -1)
        self._outstanding.clear()
        self._valid_until_s = 0.0
        self._apply_local_budgets()

    # -- internals -------------------------------------------------------------------

    def _record(self, key: str, res: _Reservation, price_micros: int, now: float) -> None:
        self._outbox.append(
            ChargeRecord(key, res.campaign_id, res.arm, price_micros, res.day, now)
        )  # before the journal: a charge Redis never hears of would be unbounded overspend
        super()._record(key, res, price_micros, now)
        if res.campaign_id in self._outstanding:
            self._outstanding[res.campaign_id] -= price_micros

    def _charge_call(self, pipe: object, record: ChargeRecord) -> None:
        prefix, cid = self.settings.key_prefix, record.campaign_id
        day = day_to_iso(record.day_ordinal)
        keys = [
            f"{prefix}dd:{record.key}",
            scripts.campaign_key(prefix, cid, "spent"),
            scripts.campaign_key(prefix, cid, f"spent:{day}"),
            scripts.campaign_key(prefix, cid, "leases"),
        ]
        args: list[str | int] = [
            self.settings.node_id,
            record.micros,
            self.settings.dedupe_ttl_s,
            day,
        ]
        pipe.eval(scripts.CHARGE, len(keys), *keys, *args)  # type: ignore[attr-defined]

    async def _lease(self, client: Redis, calls: list[tuple[str, Budget, int]], day: int) -> None:
        if not calls:
            return
        prefix, iso = self.settings.key_prefix, day_to_iso(day)
        ttl_ms = int(self.settings.lease_ttl_s * 1000)
        async with client.pipeline(transaction=False) as pipe:
            for campaign_id, budget, add in calls:
                keys = [
                    scripts.campaign_key(prefix, campaign_id, "spent"),
                    scripts.campaign_key(prefix, campaign_id, f"spent:{iso}"),
                    scripts.campaign_key(prefix, campaign_id, "leases"),
                ]
                args: list[str | int] = [self.settings.node_id, iso, add, budget.total_micros,
                        budget.daily_micros, ttl_ms, ttl_ms]  # fmt: skip
                pipe.eval(scripts.LEASE, len(keys), *keys, *args)
            results = await pipe.execute()
        for (campaign_id, _, add), result in zip(calls, results, strict=True):
            granted, spent, spent_day, others = (int(x) for x in result)
            self._outstanding[campaign_id] = self._outstanding.get(campaign_id, 0) + granted
            if add > 0 and granted == 0:
                self._exhausted.add(campaign_id)
            elif granted > 0 or add == 0:
                self._exhausted.discard(campaign_id)
            self._views[campaign_id] = _FleetView(spent, spent_day, others)
            self._n_granted += granted

    async def _refresh_views(self, client: Redis, campaign_ids: list[str], day: int) -> None:
        """Fleet spend for campaigns whose lease was not touched (one MGET)."""
        if not campaign_ids:
            return
        prefix, iso = self.settings.key_prefix, day_to_iso(day)
        keys = []
        for campaign_id in campaign_ids:
            keys.append(scripts.campaign_key(prefix, campaign_id, "spent"))
            keys.append(scripts.campaign_key(prefix, campaign_id, f"spent:{iso}"))
        values = await client.mget(keys)
        for i, campaign_id in enumerate(campaign_ids):
            view = self._views.setdefault(campaign_id, _FleetView())
            view.spent_micros = int(values[2 * i] or 0)
            view.spent_today_micros = int(values[2 * i + 1] or 0)

    async def _give_back(self, client: Redis, campaign_id: str, micros: int) -> None:
        key = scripts.campaign_key(self.settings.key_prefix, campaign_id, "leases")
        await client.eval(scripts.RETURN, 1, key, self.settings.node_id, micros)
        returned = self._outstanding.get(campaign_id, 0) if micros < 0 else micros
        self._outstanding[campaign_id] = self._outstanding.get(campaign_id, 0) - returned
        self._n_returned += max(0, returned)

    def _apply_local_budgets(self, now: float | None = None) -> None:
        """Local budgets = local spend + outstanding lease, so the embedded rules bound
        ``reserved + new hold <= outstanding`` for the total and for the lease's day."""
        if now is not None:
            self._last_now_s = now
        at = self._last_now_s
        local: dict[str, Budget] = {}
        for campaign_id in self._configured:
            spend = super().campaign_spend(campaign_id, at)
            outstanding = max(0, self._outstanding.get(campaign_id, 0))
            local[campaign_id] = Budget(
                spend.total_micros + outstanding, spend.today_micros + outstanding
            )
        super().set_budgets(local)
