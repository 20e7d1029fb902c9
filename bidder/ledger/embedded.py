"""The in-process budget ledger: reservations in memory, charges in an append-only journal."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from bidder.config.model import Budget
from bidder.ledger.base import ChargeResult, FsyncPolicy, LedgerStats, Spend
from bidder.ledger.day import LocalDayClock
from bidder.ledger.journal import ChargeRecord, Journal, RecoveredState

DEFAULT_RESERVATION_TTL_S = 300.0
DEFAULT_DEDUPE_RETENTION_S = 7 * 86_400.0
DEFAULT_EXPIRED_RETENTION_S = 3_600.0
DEFAULT_EXPIRED_MAX_ENTRIES = 100_000


class _CampaignState:
    """Mutable money of one campaign; budgets are 0 for a campaign without one."""

    __slots__ = (
        "arm_day_to_spent_micros",
        "arm_to_spent_micros",
        "daily_budget_micros",
        "day_to_reserved_micros",
        "day_to_spent_micros",
        "reserved_micros",
        "spent_micros",
        "total_budget_micros",
    )

    def __init__(self) -> None:
        self.total_budget_micros = 0
        self.daily_budget_micros = 0
        self.spent_micros = 0
        self.reserved_micros = 0
        self.day_to_spent_micros: dict[int, int] = {}
        self.day_to_reserved_micros: dict[int, int] = {}
        self.arm_to_spent_micros: dict[str, int] = {}
        self.arm_day_to_spent_micros: dict[tuple[str, int], int] = {}  # for snapshots

    def fits(self, amount_micros: int, day: int) -> bool:
        committed_today = self.day_to_spent_micros.get(day, 0) + self.day_to_reserved_micros.get(
            day, 0
        )
        return (
            self.spent_micros + self.reserved_micros + amount_micros <= self.total_budget_micros
            and committed_today + amount_micros <= self.daily_budget_micros
        )


class _Reservation(NamedTuple):
    state: _CampaignState
    campaign_id: str
    arm: str
    amount_micros: int
    day: int  # local day ordinal the hold counts against
    created_s: float


class EmbeddedLedger:
    """``Ledger`` in one process; see ``bidder.ledger.base.Ledger`` for the contract.

    ``journal_path=None`` keeps everything in memory (simulator, tests). With a path, an
    existing journal (and snapshot) is replayed on construction; a torn last record is
    cut away with a warning, damage elsewhere raises ``JournalError``.
    """

    def __init__(
        self,
        journal_path: Path | None = None,
        *,
        timezone: str = "UTC",
        reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S,
        dedupe_retention_s: float = DEFAULT_DEDUPE_RETENTION_S,
        fsync: FsyncPolicy = FsyncPolicy.BATCH,
        expired_retention_s: float = DEFAULT_EXPIRED_RETENTION_S,
        expired_max_entries: int = DEFAULT_EXPIRED_MAX_ENTRIES,
    ) -> None:
        if reservation_ttl_s <= 0 or dedupe_retention_s <= 0 or expired_retention_s < 0:
            raise ValueError("TTLs and retention windows must be > 0")
        if expired_max_entries < 0:
            raise ValueError(f"expired_max_entries must be >= 0, got {expired_max_entries}")
        self._days = LocalDayClock(timezone)
        self._ttl_s = float(reservation_ttl_s)
        self._dedupe_retention_s = float(dedupe_retention_s)
        self._expired_retention_s = float(expired_retention_s)
        self._expired_max_entries = expired_max_entries
        self._campaigns: dict[str, _CampaignState] = {}
        self._reservations: dict[str, _Reservation] = {}
        self._expiry_heap: list[tuple[float, str]] = []  # (created_s, key); lazy deletion
        self._expired: OrderedDict[str, _Reservation] = OrderedDict()
        self._charged: OrderedDict[str, float] = OrderedDict()  # key → charged_s, by time
        self._total_charged_micros = 0
        self._n_reserve_ok = self._n_reserve_budget = self._n_reserve_dup = 0
        self._n_charged = self._n_duplicate = self._n_unknown = 0
        self._n_above_bid = self._n_expired_no_budget = 0
        self._n_release = self._n_expired = 0
        self._journal: Journal | None = None
        if journal_path is not None:
            self._journal = Journal(journal_path, self._days.timezone, fsync)
            self._load(self._journal.recover())

    # -- budgets ---------------------------------------------------------------------

    def set_budgets(self, campaign_to_budget: Mapping[str, Budget]) -> None:
        for campaign_id, budget in campaign_to_budget.items():
            if budget.total_micros < 0 or budget.daily_micros < 0:
                raise ValueError(f"{campaign_id}: budgets must be >= 0 micros, got {budget}")
        for campaign_id, state in self._campaigns.items():
            if campaign_id not in campaign_to_budget:
                state.total_budget_micros = state.daily_budget_micros = 0
        for campaign_id, budget in campaign_to_budget.items():
            state = self._campaign(campaign_id)
            state.total_budget_micros = budget.total_micros
            state.daily_budget_micros = budget.daily_micros

    # -- hot path --------------------------------------------------------------------

    def reserve(self, key: str, campaign_id: str, arm: str, amount_micros: int, now: float) -> bool:
        if amount_micros <= 0:
            raise ValueError(f"amount_micros must be > 0, got {amount_micros}")
        if key in self._reservations or key in self._charged:
            self._n_reserve_dup += 1
            return False
        state = self._campaigns.get(campaign_id)
        day = self._days.day(now)
        if state is None or not state.fits(amount_micros, day):
            self._n_reserve_budget += 1
            return False
        state.reserved_micros += amount_micros
        day_to_reserved = state.day_to_reserved_micros
        day_to_reserved[day] = day_to_reserved.get(day, 0) + amount_micros
        self._reservations[key] = _Reservation(state, campaign_id, arm, amount_micros, day, now)
        heapq.heappush(self._expiry_heap, (now, key))
        self._n_reserve_ok += 1
        return True

    def charge(self, key: str, price_micros: int, now: float) -> ChargeResult:
        if price_micros < 0:
            raise ValueError(f"price_micros must be >= 0, got {price_micros}")
        res = self._reservations.get(key)
        if res is not None:
            if price_micros > res.amount_micros:
                self._n_above_bid += 1
                return ChargeResult.PRICE_ABOVE_BID
            self._record(key, res, price_micros, now)  # raises OSError before any change
            del self._reservations[key]
            self._unhold(res)
            self._apply(res, price_micros)
            self._n_charged += 1
            return ChargeResult.CHARGED
        return self._charge_cold(key, price_micros, now)

    def release(self, key: str, now: float) -> bool:
        self._expired.pop(key, None)  # a loss notice settles an expired hold too
        res = self._reservations.pop(key, None)
        if res is None:
            return False
        self._unhold(res)
        self._n_release += 1
        return True

    def expire(self, now: float) -> int:
        cutoff_s = now - self._ttl_s
        heap = self._expiry_heap
        reservations = self._reservations
        expired = self._expired
        count = 0
        while heap and heap[0][0] <= cutoff_s:
            key = heapq.heappop(heap)[1]
            res = reservations.get(key)
            if res is None or res.created_s > cutoff_s:
                continue  # settled already, or the key was reserved again later
            del reservations[key]
            self._unhold(res)
            expired[key] = res
            count += 1
        while len(expired) > self._expired_max_entries:
            expired.popitem(last=False)
        expired_cutoff_s = cutoff_s - self._expired_retention_s
        while expired and expired[next(iter(expired))].created_s <= expired_cutoff_s:
            expired.popitem(last=False)
        charged = self._charged
        charged_cutoff_s = now - self._dedupe_retention_s
        while charged and charged[next(iter(charged))] <= charged_cutoff_s:
            charged.popitem(last=False)
        self._n_expired += count
        return count

    # -- queries ---------------------------------------------------------------------

    def campaign_spend(self, campaign_id: str, now: float) -> Spend:
        state = self._campaigns.get(campaign_id)
        if state is None:
            return Spend(0, 0, 0, 0, 0)
        day = self._days.day(now)
        today_micros = state.day_to_spent_micros.get(day, 0)
        remaining_total = max(
            0, state.total_budget_micros - state.spent_micros - state.reserved_micros
        )
        committed_today = today_micros + state.day_to_reserved_micros.get(day, 0)
        remaining_today = max(0, state.daily_budget_micros - committed_today)
        return Spend(
            total_micros=state.spent_micros,
            today_micros=today_micros,
            reserved_micros=state.reserved_micros,
            remaining_total_micros=remaining_total,
            remaining_today_micros=min(remaining_today, remaining_total),
        )

    def arm_spend(self, campaign_id: str) -> Mapping[str, int]:
        state = self._campaigns.get(campaign_id)
        return {} if state is None else dict(state.arm_to_spent_micros)

    def reservation_micros(self, key: str) -> int | None:
        res = self._reservations.get(key)
        return None if res is None else res.amount_micros

    def is_charged(self, key: str) -> bool:
        return key in self._charged

    def total_charged_micros(self) -> int:
        return self._total_charged_micros

    def reserved_count(self) -> int:
        """Reservations currently held (a gauge)."""
        return len(self._reservations)

    def stats(self) -> LedgerStats:
        return LedgerStats(
            reserve_accepted_total=self._n_reserve_ok,
            reserve_rejected_budget_total=self._n_reserve_budget,
            reserve_rejected_duplicate_total=self._n_reserve_dup,
            charge_result_to_total={
                ChargeResult.CHARGED: self._n_charged,
                ChargeResult.DUPLICATE: self._n_duplicate,
                ChargeResult.UNKNOWN: self._n_unknown,
                ChargeResult.PRICE_ABOVE_BID: self._n_above_bid,
                ChargeResult.EXPIRED_NO_BUDGET: self._n_expired_no_budget,
            },
            release_total=self._n_release,
            expired_total=self._n_expired,
            charged_micros_total=self._total_charged_micros,
        )

    # -- persistence -----------------------------------------------------------------

    def snapshot(self, now: float) -> None:
        """Compact: drop dedupe keys past retention, write a snapshot, start a new journal."""
        charged = self._charged
        cutoff_s = now - self._dedupe_retention_s
        while charged and charged[next(iter(charged))] <= cutoff_s:
            charged.popitem(last=False)
        if self._journal is not None:
            self._journal.compact(dict(self._spend_slots()), iter(charged.items()))

    def sync(self) -> None:
        """fsync the journal (call periodically under ``FsyncPolicy.BATCH``)."""
        if self._journal is not None:
            self._journal.sync()

    def close(self) -> None:
        """fsync and close the journal; idempotent."""
        if self._journal is not None:
            self._journal.close()

    def __enter__(self) -> EmbeddedLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------

    def _charge_cold(self, key: str, price_micros: int, now: float) -> ChargeResult:
        """Charge for a key with no live hold: a duplicate, an expired hold or unknown."""
        if key in self._charged:
            self._n_duplicate += 1
            return ChargeResult.DUPLICATE
        res = self._expired.get(key)
        if res is None:
            self._n_unknown += 1
            return ChargeResult.UNKNOWN
        if price_micros > res.amount_micros:
            self._n_above_bid += 1
            return ChargeResult.PRICE_ABOVE_BID
        if not res.state.fits(price_micros, res.day):
            self._n_expired_no_budget += 1
            return ChargeResult.EXPIRED_NO_BUDGET
        self._record(key, res, price_micros, now)
        del self._expired[key]
        self._apply(res, price_micros)
        self._n_charged += 1
        return ChargeResult.CHARGED

    def _record(self, key: str, res: _Reservation, price_micros: int, now: float) -> None:
        if self._journal is not None:
            self._journal.append(
                ChargeRecord(key, res.campaign_id, res.arm, price_micros, res.day, now)
            )
        self._charged[key] = now

    @staticmethod
    def _unhold(res: _Reservation) -> None:
        state = res.state
        state.reserved_micros -= res.amount_micros
        day_to_reserved = state.day_to_reserved_micros
        left = day_to_reserved[res.day] - res.amount_micros
        if left:
            day_to_reserved[res.day] = left
        else:
            del day_to_reserved[res.day]

    def _apply(self, res: _Reservation, price_micros: int) -> None:
        self._add_spend(res.state, res.arm, res.day, price_micros)

    def _add_spend(self, state: _CampaignState, arm: str, day: int, micros: int) -> None:
        state.spent_micros += micros
        state.day_to_spent_micros[day] = state.day_to_spent_micros.get(day, 0) + micros
        state.arm_to_spent_micros[arm] = state.arm_to_spent_micros.get(arm, 0) + micros
        slot = (arm, day)
        state.arm_day_to_spent_micros[slot] = state.arm_day_to_spent_micros.get(slot, 0) + micros
        self._total_charged_micros += micros

    def _campaign(self, campaign_id: str) -> _CampaignState:
        state = self._campaigns.get(campaign_id)
        if state is None:
            state = self._campaigns[campaign_id] = _CampaignState()
        return state

    def _load(self, recovered: RecoveredState) -> None:
        for (campaign_id, arm, day), micros in recovered.spend_to_micros.items():
            self._add_spend(self._campaign(campaign_id), arm, day, micros)
        self._charged.update(recovered.key_to_charged_s)

    def _spend_slots(self) -> Iterator[tuple[tuple[str, str, int], int]]:
        """((campaign, arm, day), micros) for every slot with spend."""
        for campaign_id, state in self._campaigns.items():
            for (arm, day), micros in state.arm_day_to_spent_micros.items():
                yield (campaign_id, arm, day), micros
