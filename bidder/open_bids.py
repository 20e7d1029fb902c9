"""The last bids sent, for attributing their notices: a fixed-capacity ring indexed by digest.

``Stats`` remembers each bid's pCTR, media type and creative until its notices arrive. Kept
as a Python mapping (an ``OrderedDict`` of up to 200,000 bid-id strings and small structs)
this cost ~200 bytes a bid and grew for as long as the mapping was filling. Here it is a
table of fixed size, allocated once:

- a ring of ``capacity`` rows (digest, pCTR, media id, creative id): the newest bid takes
  the row after the previous one and evicts the bid that row held (oldest dropped first);
- an open-addressing index (linear probing, backward-shift deletion, so no tombstones and
  no rebuilds) from the bid id's 64-bit digest to its row, at most 40 % full;
- media and creative names interned as small ints (a closed set from the config).

24 bytes a row plus 12 bytes an index slot: 10.6 MiB for 200,000 bids. The digest is Python's
own ``hash`` of the id string (64-bit SipHash, cached on the string, keyed per process):
two ids share one with probability 2**-64 per pair, so a notice is misattributed with
probability below 1e-13 at 200,000 bids kept. A bid whose loss notice arrived frees its row
only when the ring comes round to it, so at most ``capacity`` of the last bids are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bidder.ledger.table import zeros
from bidder.names import NameIds

_MASK64 = (1 << 64) - 1
EMPTY = 0  # a free index slot or ring row; digests are never 0
MAX_INDEX_LOAD = 0.4  # index slots >= capacity / this, rounded up to a power of two


def bid_digest(key: str) -> int:
    """The id's 64-bit digest (``hash``, never ``EMPTY``); stable within one process."""
    return (hash(key) & _MASK64) or 1


class OpenBids:
    """Bid id -> (pCTR, media, creative) for the last ``capacity`` bids; fixed memory."""

    def __init__(self, capacity: int, digest: Callable[[str], int] = bid_digest) -> None:
        """``digest``: id -> 64-bit int, never ``EMPTY`` (tests pass colliding ones)."""
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._digest = digest
        slots = 1
        while slots * MAX_INDEX_LOAD < capacity:
            slots *= 2
        self._mask = slots - 1
        self._head = 0  # the ring row the next new bid takes
        self._count = 0
        self._names = NameIds()
        # Every array is allocated and written once here (their own anonymous mappings,
        # ``resident``), so the process's RSS takes the whole table at startup
        # and does not creep up by a page at a time while the ring fills during the first
        # ``capacity`` bids: after warm-up, memory does not depend on how many bids were
        # seen.
        self._arrays = {
            "ring_digest": zeros(capacity, np.uint64, resident=True),
            "ring_pctr": zeros(capacity, np.float64, resident=True),
            "ring_media": zeros(capacity, np.int32, resident=True),
            "ring_creative": zeros(capacity, np.int32, resident=True),
            "index_digest": zeros(slots, np.uint64, resident=True),
            "index_row": zeros(slots, np.int32, resident=True),
        }
        # memoryviews: Python-int reads and writes, ~2x faster than numpy scalar indexing
        cells: dict[str, Any] = {name: a.data for name, a in self._arrays.items()}
        self._ring_digest = cells["ring_digest"]
        self._ring_pctr = cells["ring_pctr"]
        self._ring_media = cells["ring_media"]
        self._ring_creative = cells["ring_creative"]
        self._index_digest = cells["index_digest"]
        self._index_row = cells["index_row"]

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays (fixed at construction)."""
        return sum(int(a.nbytes) for a in self._arrays.values())

    def put(self, key: str, pctr: float, media: str, creative: str) -> None:
        """Remember a bid; an id already kept is updated in place (keeps its age)."""
        digest = self._digest(key)
        slot = self._find(digest)
        if slot >= 0:
            row = self._index_row[slot]
        else:
            row = self._head
            self._head = row + 1 if row + 1 < self.capacity else 0
            evicted = self._ring_digest[row]
            if evicted != EMPTY:
                self._unindex(self._find(evicted))
                self._count -= 1
            self._index(digest, row)
            self._ring_digest[row] = digest
            self._count += 1
        self._ring_pctr[row] = pctr
        self._ring_media[row] = self._names.id_of(media)
        self._ring_creative[row] = self._names.id_of(creative)

    def get(self, key: str) -> tuple[float, str, str] | None:
        """(pCTR, media, creative) of a kept bid, else None."""
        slot = self._find(self._digest(key))
        if slot < 0:
            return None
        row = self._index_row[slot]
        names = self._names.names
        return (
            self._ring_pctr[row],
            names[self._ring_media[row]],
            names[self._ring_creative[row]],
        )

    def pop(self, key: str) -> None:
        """Forget a bid (its loss notice came); absent ids are ignored."""
        slot = self._find(self._digest(key))
        if slot < 0:
            return
        self._ring_digest[self._index_row[slot]] = EMPTY
        self._unindex(slot)
        self._count -= 1

    def _find(self, digest: int) -> int:
        """The index slot holding ``digest``, or -1."""
        cells, mask = self._index_digest, self._mask
        slot = digest & mask
        while True:
            cell = cells[slot]
            if cell == digest:
                return slot
            if cell == EMPTY:
                return -1
            slot = (slot + 1) & mask

    def _index(self, digest: int, row: int) -> None:
        cells, mask = self._index_digest, self._mask
        slot = digest & mask
        while cells[slot] != EMPTY:
            slot = (slot + 1) & mask
        cells[slot] = digest
        self._index_row[slot] = row

    def _unindex(self, slot: int) -> None:
        """Empty ``slot``, shifting back later entries of its probe run (no tombstones)."""
        cells, rows, mask = self._index_digest, self._index_row, self._mask
        hole = slot
        probe = slot
        while True:
            probe = (probe + 1) & mask
            digest = cells[probe]
            if digest == EMPTY:
                break
            # the entry may fill the hole if its home slot is not in (hole, probe]
            if (probe - digest) & mask >= (probe - hole) & mask:
                cells[hole] = digest
                rows[hole] = rows[probe]
                hole = probe
        cells[hole] = EMPTY
