"""Charged keys kept for exactly-once charging: 64-bit digests and charge times, in numpy."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from bidder.ledger.table import DigestTable, key_digest

PURGE_FRACTION = 1 / 16  # physically drop aged-out keys once this much of the window is due


class ChargedKeys:
    """Digests charged within ``retention_s``; 16 bytes a slot, 2-4 slots a key.

    Aging is logical and exact: after ``expire(now)`` a key charged at or before
    ``now - retention_s`` no longer counts. Aged-out slots are dropped in bulk (one
    vectorised pass) once the oldest is ``retention_s * PURGE_FRACTION`` past due, so
    memory is bounded by the keys charged in ``retention_s * (1 + PURGE_FRACTION)``.
    """

    def __init__(self, retention_s: float) -> None:
        self._retention_s = retention_s
        self._table = DigestTable({"charged_s": np.float64})
        self._cutoff_s = -math.inf  # keys charged at or before this have aged out
        self._oldest_s = math.inf  # no slot was charged before this

    def __len__(self) -> int:
        """Slots held, including aged-out ones not yet dropped."""
        return self._table.count

    @property
    def nbytes(self) -> int:
        return self._table.nbytes

    def __contains__(self, key: object) -> bool:
        """``key in charged`` for a key string (hot paths use ``contains(digest)``)."""
        return isinstance(key, str) and self.contains(key_digest(key))

    def contains(self, digest: int) -> bool:
        table = self._table
        slot = table.find(digest)
        return slot >= 0 and table.views["charged_s"][slot] > self._cutoff_s

    def add(self, digest: int, charged_s: float) -> None:
        table = self._table
        slot = table.find(digest)
        if slot < 0:
            slot = table.insert(digest)
        table.views["charged_s"][slot] = charged_s
        self._oldest_s = min(self._oldest_s, charged_s)

    def expire(self, now: float) -> None:
        cutoff_s = now - self._retention_s
        if cutoff_s <= self._cutoff_s:
            return
        self._cutoff_s = cutoff_s
        if self._oldest_s <= cutoff_s - self._retention_s * PURGE_FRACTION:
            self._purge()

    def load(self, digests: npt.NDArray[np.uint64], charged_s: npt.NDArray[np.float64]) -> None:
        """Add recovered keys in charge order; a key charged twice keeps its last time."""
        digests = np.asarray(digests, dtype=np.uint64)
        charged_s = np.asarray(charged_s, dtype=np.float64)
        if self._table.count:  # not the recovery case: keep it simple
            for digest, at_s in zip(digests.tolist(), charged_s.tolist(), strict=True):
                self.add(digest, at_s)
            return
        _, last_from_end = np.unique(digests[::-1], return_index=True)
        keep = len(digests) - 1 - last_from_end
        self._table.load(digests[keep], {"charged_s": charged_s[keep]})
        if len(keep):
            self._oldest_s = min(self._oldest_s, float(charged_s[keep].min()))

    def items(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
        """(digests, charge times) of the keys that still count, oldest first."""
        table = self._table
        times = table.columns["charged_s"]
        mask = table.live() & (times > self._cutoff_s)
        digests, charged_s = table.digests[mask], times[mask].astype(np.float64)
        order = np.argsort(charged_s, kind="stable")
        return digests[order], charged_s[order]

    def _purge(self) -> None:
        table = self._table
        times = table.columns["charged_s"]
        table.remove_where(times <= self._cutoff_s)
        live = table.live()
        self._oldest_s = float(times[live].min()) if table.count else math.inf
        if table.count < table.capacity * 0.1:
            table.rebuild()  # give back the memory of a window that emptied
