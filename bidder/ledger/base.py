"""The budget-ledger seam: the ``Ledger`` protocol, its result enum and its records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from bidder.config.model import Budget


class ChargeResult(str, Enum):
    """What ``Ledger.charge`` did; a closed set, safe as a metric label."""

    CHARGED = "charged"
    DUPLICATE = "duplicate"  # the key was charged before; nothing charged again
    UNKNOWN = "unknown"  # never reserved (or forgotten: restart, retention passed)
    PRICE_ABOVE_BID = "price_above_bid"  # clearing price > reserved bid; reservation kept
    EXPIRED_NO_BUDGET = "expired_no_budget"  # reservation expired and the price no longer fits


class FsyncPolicy(str, Enum):
    """When the journal is fsynced: after every charge, or only on ``sync()``/``close()``."""

    ALWAYS = "always"
    BATCH = "batch"  # flush to the OS on every charge; fsync when the owner calls sync()


@dataclass(frozen=True, slots=True)
class Spend:
    """A campaign's money at one instant, in micros. ``remaining_*`` are never negative.

    ``remaining_total_micros`` is ``total budget - spent - reserved`` clamped at 0;
    ``remaining_today_micros`` is ``daily budget - spent today - reserved today`` clamped
    at 0 and never more than ``remaining_total_micros``: what a new reservation may take.
    """

    total_micros: int
    today_micros: int
    reserved_micros: int
    remaining_total_micros: int
    remaining_today_micros: int


@dataclass(frozen=True, slots=True)
class LedgerStats:
    """Counters since construction (not persisted), for ``bidder_ledger_*_total`` metrics."""

    reserve_accepted_total: int
    reserve_rejected_budget_total: int  # includes campaigns with no budget set
    reserve_rejected_duplicate_total: int
    charge_result_to_total: Mapping[ChargeResult, int]
    release_total: int
    expired_total: int  # reservations released by expire()
    charged_micros_total: int  # all spend the ledger knows, including replayed spend


class Ledger(Protocol):
    """A budget ledger that never lets charged spend pass a budget.

    Callers guarantee: ``now`` is seconds since the epoch (injected, never read here) and
    moves forward within one process; money is integer micros; ``key`` identifies one
    impression of one auction (``f"{auction_id}/{imp_id}"``). Implementations may assume
    a single thread (one event loop). Invalid arguments (amount <= 0, price < 0) raise
    ``ValueError``; a journal that cannot be written raises ``OSError`` and charges nothing.

    The budget guarantee: ``reserve`` holds a bid's full price before the bid is sent and
    refuses when the hold would pass the total or the daily budget; ``charge`` charges at
    most the held amount. So spent + reserved never passes a budget through this API,
    except that a budget lowered below what is already committed lets the already-held
    reservations settle (no new reservation succeeds until spend is back under it).
    """

    def set_budgets(self, campaign_to_budget: Mapping[str, Budget]) -> None:
        """Replace all budgets (config reload). Spend is kept; absent campaigns get none."""
        ...

    def reserve(self, key: str, campaign_id: str, arm: str, amount_micros: int, now: float) -> bool:
        """Hold ``amount_micros`` for a bid; False if it does not fit or the key is known."""
        ...

    def charge(self, key: str, price_micros: int, now: float) -> ChargeResult:
        """Charge the clearing price for ``key`` once, and release the rest of its hold."""
        ...

    def release(self, key: str, now: float) -> bool:
        """Drop the hold for ``key`` (loss notice); False if nothing was held."""
        ...

    def expire(self, now: float) -> int:
        """Release holds older than the reservation TTL; returns how many. Cheap to poll."""
        ...

    def campaign_spend(self, campaign_id: str, now: float) -> Spend:
        """Spend, holds and what is left for a campaign (zeros for an unknown campaign)."""
        ...

    def arm_spend(self, campaign_id: str) -> Mapping[str, int]:
        """All-time spend per arm in micros; the values sum to the campaign's spend."""
        ...

    def reservation_micros(self, key: str) -> int | None:
        """The amount held for ``key``, or None when nothing is held."""
        ...

    def is_charged(self, key: str) -> bool:
        """Whether ``key`` was charged (within the dedupe retention window)."""
        ...

    def total_charged_micros(self) -> int:
        """Spend over all campaigns and days, in micros."""
        ...

    def stats(self) -> LedgerStats:
        """Counters for metrics."""
        ...
