"""The in-process budget ledger: reservations in memory, charges in an append-only journal."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bidder.config.model import Budget
from bidder.ledger.base import ChargeResult, FsyncPolicy, LedgerStats, Spend
from bidder.ledger.day import LocalDayClock
from bidder.ledger.dedupe import ChargedKeys
from bidder.ledger.journal import ChargeRecord, Journal, RecoveredState
from bidder.ledger.table import MIN_BITS, TARGET_LOAD, DigestQueue, DigestTable, key_digest
from bidder.memo import remember

DEFAULT_RESERVATION_TTL_S = 300.0
DEFAULT_DEDUPE_RETENTION_S = 7 * 86_400.0
DEFAULT_EXPIRED_RETENTION_S = 3_600.0
DEFAULT_EXPIRED_MAX_ENTRIES = 100_000
ARMS_INTERNED = 65_536  # distinct arm strings shared by holds before the table restarts

LIVE = 1  # a hold that counts against the budget
EXPIRED = 2  # past the TTL: no longer held, still chargeable while it fits the budget


class _CampaignState:
    """Mutable money of one campaign; budgets are 0 for a campaign without one."""

    __slots__ = (
        "arm_day_to_spent_micros",
        "arm_to_spent_micros",
        "campaign_id",
        "daily_budget_micros",
        "day_to_reserved_micros",
        "day_to_spent_micros",
        "index",
        "reserved_micros",
        "spent_micros",
        "total_budget_micros",
    )

    def __init__(self, campaign_id: str, index: int) -> None:
        self.campaign_id = campaign_id
        self.index = index  # position in the ledger's campaign list (the hold table's column)
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
    """A hold read out of the hold table for a charge (built per charge, never stored)."""

    state: _CampaignState
    campaign_id: str
    arm: str
    amount_micros: int
    day: int  # local day ordinal the hold counts against
    created_s: float


class _HoldKeys:
    """``key in view``: whether the ledger has a hold of one kind for a key."""

    __slots__ = ("_holds", "_kind")

    def __init__(self, holds: DigestTable, kind: int) -> None:
        self._holds = holds
        self._kind = kind

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        slot = self._holds.find(key_digest(key))
        return slot >= 0 and self._holds.views["kind"][slot] == self._kind


class EmbeddedLedger:
    """``Ledger`` in one process; see ``bidder.ledger.base.Ledger`` for the contract.

    ``journal_path=None`` keeps everything in memory (simulator, tests). With a path, an
    existing journal (and snapshot) is replayed on construction; a torn last record is
    cut away with a warning, damage elsewhere raises ``JournalError``.

    Holds (live and recently expired) and charged keys live in numpy hash tables keyed
    by 64-bit key digests (``bidder.ledger.table``), so memory per bid in flight is a few
    dozen bytes of arrays, not Python objects.
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
        presize: bool = False,
    ) -> None:
        """``presize``: allocate the hold tables for ``expired_max_entries`` expired holds
        plus as many live ones up front (about 27 MiB at the default cap, mostly untouched
        pages until used) instead of growing them by doubling, so a long-running server's
        RSS does not step up while expired holds accumulate. The simulator leaves it off."""
        if reservation_ttl_s <= 0 or dedupe_retention_s <= 0 or expired_retention_s < 0:
            raise ValueError("TTLs and retention windows must be > 0")
        if expired_max_entries < 0:
            raise ValueError(f"expired_max_entries must be >= 0, got {expired_max_entries}")
        self._days = LocalDayClock(timezone)
        self._ttl_s = float(reservation_ttl_s)
        self._expired_retention_s = float(expired_retention_s)
        self._expired_max_entries = expired_max_entries
        self._campaigns: dict[str, _CampaignState] = {}
        self._states: list[_CampaignState] = []  # by _CampaignState.index
        peak = expired_max_entries if presize else 0
        self._holds = DigestTable(
            {"created_s": np.float64, "amount": np.int64, "day": np.int32, "kind": np.uint8,
             "campaign": np.int32, "arm": object},
            capacity=int(2 * peak / TARGET_LOAD),
        )  # fmt: skip
        self._n_live = self._n_expired_held = 0
        # (created_s, digest) of every hold, oldest first; the same for holds that expired.
        # Twice the peak: a full queue is compacted in place instead of doubled.
        self._live_queue = DigestQueue(max(2 * peak, 1 << MIN_BITS))
        self._expired_queue = DigestQueue(max(2 * peak, 1 << MIN_BITS))
        self._arms: dict[str, str] = {}  # one shared str per arm for the hold table
        self._charged = ChargedKeys(float(dedupe_retention_s))
        # ``key in`` views with the names of the old dicts (bidder.leases_local reads them)
        self._reservations = _HoldKeys(self._holds, LIVE)
        self._expired = _HoldKeys(self._holds, EXPIRED)
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
        digest = key_digest(key)
        holds = self._holds
        slot = holds.find(digest)
        if (slot >= 0 and holds.views["kind"][slot] == LIVE) or self._charged.contains(digest):
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
        if slot >= 0:  # an expired hold for the key: the new hold replaces it
            self._n_expired_held -= 1
        else:
            slot = holds.insert(digest)
        views = holds.views
        views["created_s"][slot] = now
        views["amount"][slot] = amount_micros
        views["day"][slot] = day
        views["kind"][slot] = LIVE
        views["campaign"][slot] = state.index
        arms = self._arms
        shared_arm = arms.get(arm)
        if shared_arm is None:
            shared_arm = remember(arms, ARMS_INTERNED, arm, arm)
        holds.columns["arm"][slot] = shared_arm
        self._n_live += 1
        self._live_queue.push(now, digest)
        self._n_reserve_ok += 1
        return True

    def charge(self, key: str, price_micros: int, now: float) -> ChargeResult:
        if price_micros < 0:
            raise ValueError(f"price_micros must be >= 0, got {price_micros}")
        digest = key_digest(key)
        holds = self._holds
        slot = holds.find(digest)
        views = holds.views
        live = slot >= 0 and views["kind"][slot] == LIVE
        if not live and self._charged.contains(digest):
            self._n_duplicate += 1
            return ChargeResult.DUPLICATE
        if slot < 0:
            self._n_unknown += 1
            return ChargeResult.UNKNOWN
        amount_micros: int = views["amount"][slot]
        if price_micros > amount_micros:
            self._n_above_bid += 1
            return ChargeResult.PRICE_ABOVE_BID
        state = self._states[views["campaign"][slot]]
        day: int = views["day"][slot]
        if not live and not state.fits(price_micros, day):
            self._n_expired_no_budget += 1
            return ChargeResult.EXPIRED_NO_BUDGET
        arm: str = holds.columns["arm"][slot]
        res = _Reservation(
            state, state.campaign_id, arm, amount_micros, day, views["created_s"][slot]
        )
        self._record(key, res, price_micros, now)  # raises OSError before any change
        self._charged.add(digest, now)
        holds.remove(slot)
        if live:
            self._n_live -= 1
            self._unhold(state, amount_micros, day)
        else:
            self._n_expired_held -= 1
        self._add_spend(state, arm, day, price_micros)
        self._n_charged += 1
        return ChargeResult.CHARGED

    def release(self, key: str, now: float) -> bool:
        holds = self._holds
        slot = holds.find(key_digest(key))
        if slot < 0:
            return False
        views = holds.views
        holds.remove(slot)
        if views["kind"][slot] != LIVE:  # a loss notice settles an expired hold too
            self._n_expired_held -= 1
            return False
        self._n_live -= 1
        self._unhold(
            self._states[views["campaign"][slot]], views["amount"][slot], views["day"][slot]
        )
        self._n_release += 1
        return True

    def expire(self, now: float) -> int:
        cutoff_s = now - self._ttl_s
        count = self._expire_live(cutoff_s)
        self._drop_expired(cutoff_s - self._expired_retention_s)
        self._charged.expire(now)
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
        holds = self._holds
        slot = holds.find(key_digest(key))
        if slot < 0 or holds.views["kind"][slot] != LIVE:
            return None
        amount_micros: int = holds.views["amount"][slot]
        return amount_micros

    def is_charged(self, key: str) -> bool:
        return self._charged.contains(key_digest(key))

    def total_charged_micros(self) -> int:
        return self._total_charged_micros

    def reserved_count(self) -> int:
        """Reservations currently held (a gauge)."""
        return self._n_live

    def memory(self) -> dict[str, int]:
        """Entries and bytes of the per-key state (for benchmarks and tests)."""
        return {
            "holds_live": self._n_live,
            "holds_expired": self._n_expired_held,
            "holds_bytes": self._holds.nbytes
            + self._live_queue.nbytes
            + self._expired_queue.nbytes,
            "charged_keys": len(self._charged),
            "charged_bytes": self._charged.nbytes,
        }

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
        self._charged.expire(now)
        if self._journal is not None:
            digests, charged_s = self._charged.items()
            self._journal.compact(dict(self._spend_slots()), digests, charged_s)

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

    def _expire_live(self, cutoff_s: float) -> int:
        """Live holds created at or before ``cutoff_s`` become expired: unhold them."""
        queue, holds = self._live_queue, self._holds
        views = holds.views
        kind, created_s = views["kind"], views["created_s"]
        count = 0
        while queue.head_time() <= cutoff_s:
            at_s = queue.head_time()
            digest = queue.pop()
            slot = holds.find(digest)
            if slot < 0 or kind[slot] != LIVE or created_s[slot] != at_s:
                continue  # settled already, or the key was reserved again later
            state = self._states[views["campaign"][slot]]
            self._unhold(state, views["amount"][slot], views["day"][slot])
            kind[slot] = EXPIRED
            self._expired_queue.push(at_s, digest)
            count += 1
        self._n_live -= count
        self._n_expired_held += count
        return count

    def _drop_expired(self, cutoff_s: float) -> None:
        """Forget expired holds created at or before ``cutoff_s``, and the oldest past the cap."""
        queue, holds = self._expired_queue, self._holds
        views = holds.views
        kind, created_s = views["kind"], views["created_s"]
        cap = self._expired_max_entries
        while queue.head_time() <= cutoff_s or (self._n_expired_held > cap and len(queue)):
            at_s = queue.head_time()
            slot = holds.find(queue.pop())
            if slot >= 0 and kind[slot] == EXPIRED and created_s[slot] == at_s:
                holds.remove(slot)
                self._n_expired_held -= 1

    def _record(self, key: str, res: _Reservation, price_micros: int, now: float) -> None:
        """Journal the charge (the commit point; raises OSError before any change)."""
        if self._journal is not None:
            self._journal.append(
                ChargeRecord(key, res.campaign_id, res.arm, price_micros, res.day, now)
            )

    @staticmethod
    def _unhold(state: _CampaignState, amount_micros: int, day: int) -> None:
        state.reserved_micros -= amount_micros
        day_to_reserved = state.day_to_reserved_micros
        left = day_to_reserved[day] - amount_micros
        if left:
            day_to_reserved[day] = left
        else:
            del day_to_reserved[day]

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
            state = self._campaigns[campaign_id] = _CampaignState(campaign_id, len(self._states))
            self._states.append(state)
        return state

    def _load(self, recovered: RecoveredState) -> None:
        for (campaign_id, arm, day), micros in recovered.spend_to_micros.items():
            self._add_spend(self._campaign(campaign_id), arm, day, micros)
        digests, charged_s = recovered.charged_arrays()
        self._charged.load(digests, charged_s)

    def _spend_slots(self) -> Iterator[tuple[tuple[str, str, int], int]]:
        """((campaign, arm, day), micros) for every slot with spend."""
        for campaign_id, state in self._campaigns.items():
            for (arm, day), micros in state.arm_day_to_spent_micros.items():
                yield (campaign_id, arm, day), micros
