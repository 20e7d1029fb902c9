"""Budget ledger: reserve a bid's price, charge the clearing price once, never overspend."""

from bidder.ledger.base import ChargeResult, FsyncPolicy, Ledger, LedgerStats, Spend
from bidder.ledger.embedded import EmbeddedLedger
from bidder.ledger.journal import JournalError

__all__ = [
    "ChargeResult",
    "EmbeddedLedger",
    "FsyncPolicy",
    "JournalError",
    "Ledger",
    "LedgerStats",
    "Spend",
]
