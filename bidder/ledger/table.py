"""Compact ledger state: open-addressing hash tables on 64-bit key digests in numpy arrays.

A key (``f"{auction_id}/{imp_id}"``) is stored as an 8-byte BLAKE2b digest, not as a
Python ``str``: a slot costs a few fixed-size array cells instead of several Python objects
(~400 bytes per reservation, ~200 per charged key before). Two different keys share a
digest with probability 2**-62 per pair, far below any other failure of the ledger.

Linear probing without wrap-around: a key lives at or after its home slot (the digest's
top bits), with no empty slot in between. Deleted slots become tombstones; a rebuild
(vectorised: sort by home slot, then ``pos = i + cummax(home - i)``) drops them, grows or
shrinks the arrays, and is triggered when live + tombstone slots pass ``MAX_LOAD``.
"""

from __future__ import annotations

import hashlib
import math
import mmap
from typing import Any

import numpy as np
import numpy.typing as npt

from bidder.memo import remember

EMPTY = 0
TOMBSTONE = 1  # digests are always >= 2
MAX_LOAD = 0.7  # used slots / capacity that triggers a rebuild
TARGET_LOAD = 0.5  # the most a rebuild leaves: capacity is 2-4x the live entries
MIN_BITS = 10
_SLACK = 64  # slots past the last home slot, so a probe never runs off the end

_blake2b = hashlib.blake2b

Columns = dict[str, npt.NDArray[Any]]


def zeros(size: int, dtype: npt.DTypeLike, *, resident: bool = False) -> npt.NDArray[Any]:
    """A zeroed array; numeric ones live in their own anonymous mapping.

    ``resident``: write every page now, so a fixed-size structure takes its whole memory
    at construction and RSS does not creep up a page at a time while it fills.

    The tables are rebuilt into fresh arrays as they grow and shrink. Mapped directly,
    a freed array goes back to the OS at once, instead of leaving a hole in the C heap
    (glibc raises its mmap threshold after the first frees, so arrays of a few MiB would
    otherwise come from, and fragment, the heap).
    """
    kind = np.dtype(dtype)
    if kind.hasobject or size * kind.itemsize == 0:
        return np.zeros(size, dtype=kind)
    array = np.frombuffer(mmap.mmap(-1, size * kind.itemsize), dtype=kind)
    if resident:
        array.fill(0)
    return array


_RECENT_DIGESTS: dict[str, int] = {}  # a bid's key is looked up 3-5 times (reserve .. charge)
RECENT_DIGESTS_MAX = 4096  # keys remembered before the memo restarts (~0.5 MB at most)


def key_digest(key: str) -> int:
    """The key's 64-bit BLAKE2b digest, never EMPTY or TOMBSTONE; stable across processes.

    Memoised for the most recent keys: deciding a bid looks its key up three times
    (reservation, charged, reserve) and its notice twice more.
    """
    digest = _RECENT_DIGESTS.get(key)
    if digest is None:
        digest = int.from_bytes(_blake2b(key.encode(), digest_size=8).digest(), "little")
        if digest <= TOMBSTONE:
            digest += 2
        remember(_RECENT_DIGESTS, RECENT_DIGESTS_MAX, key, digest)
    return digest


class DigestTable:
    """Digest → row of typed columns; the owner reads and writes columns by slot.

    ``find``/``insert``/``remove`` are O(1) expected. Slots move on a rebuild, so a slot
    is only valid until the next ``insert`` (the only call that may rebuild).
    """

    def __init__(self, dtypes: dict[str, npt.DTypeLike], capacity: int = 1 << MIN_BITS) -> None:
        """``capacity``: slots to start with (rounded up to a power of two), and the fewest
        a rebuild ever leaves, so a table pre-sized for its expected peak is never rebuilt
        smaller and then grown again (RSS stays flat while it fills)."""
        self._dtypes = {name: np.dtype(dtype) for name, dtype in dtypes.items()}
        self.count = 0  # live entries
        self._used = 0  # live entries + tombstones
        self._min_bits = max(MIN_BITS, (max(capacity, 1) - 1).bit_length())
        self._allocate(1 << self._min_bits, 0)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def nbytes(self) -> int:
        return int(self.digests.nbytes) + sum(int(c.nbytes) for c in self.columns.values())

    def find(self, digest: int) -> int:
        """The slot holding ``digest``, or -1."""
        cells = self._cells
        slot = digest >> self._shift
        while True:
            cell = cells[slot]
            if cell == digest:
                return slot
            if cell == EMPTY:
                return -1
            slot += 1

    def insert(self, digest: int) -> int:
        """A slot for ``digest`` (which must be absent); its columns hold stale values."""
        if self._used + 1 > self._capacity * MAX_LOAD:
            self.rebuild()
        cells = self._cells
        slot = digest >> self._shift
        last = len(cells) - 1  # always EMPTY: probes stop before running off the end
        while True:
            cell = cells[slot]
            if cell <= TOMBSTONE:  # EMPTY or TOMBSTONE
                break
            slot += 1
        if slot == last:
            self.rebuild(extra_slack=True)
            return self.insert(digest)
        if cell == EMPTY:
            self._used += 1
        cells[slot] = digest
        self.count += 1
        return slot

    def remove(self, slot: int) -> None:
        self._cells[slot] = TOMBSTONE
        self.count -= 1

    def remove_where(self, mask: npt.NDArray[np.bool_]) -> int:
        """Tombstone every live slot where ``mask`` is true; returns how many."""
        mask = mask & (self.digests > TOMBSTONE)
        removed = int(np.count_nonzero(mask))
        if removed:
            self.digests[mask] = TOMBSTONE
            self.count -= removed
        return removed

    def live(self) -> npt.NDArray[np.bool_]:
        return self.digests > TOMBSTONE

    def rebuild(self, *, extra_slack: bool = False) -> None:
        """Re-place the live slots in fresh arrays sized for them (drops tombstones)."""
        keep = np.flatnonzero(self.digests > TOMBSTONE)
        columns = {name: column[keep] for name, column in self.columns.items()}
        self._place(self.digests[keep], columns, self._slack * 2 if extra_slack else _SLACK)

    def load(self, digests: npt.NDArray[np.uint64], columns: Columns) -> None:
        """Add many entries at once (digests unique and absent from the table)."""
        keep = np.flatnonzero(self.digests > TOMBSTONE)
        merged = {
            name: np.concatenate([column[keep], np.asarray(columns[name], dtype=column.dtype)])
            for name, column in self.columns.items()
        }
        all_digests = np.concatenate([self.digests[keep], np.asarray(digests, dtype=np.uint64)])
        self._place(all_digests, merged, _SLACK)

    def _place(self, digests: npt.NDArray[np.uint64], columns: Columns, slack: int) -> None:
        """Fresh arrays holding exactly these entries: sorted by home slot, then
        ``pos[i] = i + max(home[j] - j for j <= i)`` is where sequential linear-probing
        inserts would have put them."""
        bits = self._min_bits
        while len(digests) + 1 > (1 << bits) * TARGET_LOAD:
            bits += 1
        home = (digests >> np.uint64(64 - bits)).astype(np.int64)
        order = np.argsort(home, kind="stable")
        home = home[order]
        rank = np.arange(len(home), dtype=np.int64)
        pos = np.maximum.accumulate(home - rank) + rank if len(home) else rank
        tail = int(pos[-1]) + 1 if len(pos) else 0
        self._allocate(1 << bits, max(0, tail - (1 << bits)) + slack)
        self.digests[pos] = digests[order]
        for name, column in columns.items():
            self.columns[name][pos] = column[order]
        self._used = self.count = len(digests)

    def _allocate(self, capacity: int, slack: int) -> None:
        self._capacity = capacity
        self._shift = 64 - capacity.bit_length() + 1
        self._slack = max(slack, _SLACK)
        size = capacity + self._slack
        self.digests: npt.NDArray[np.uint64] = zeros(size, np.uint64)
        self._cells = self.digests.data  # Python-int access, ~2x faster than numpy's
        self.columns: Columns = {name: zeros(size, dtype) for name, dtype in self._dtypes.items()}
        self.views: dict[
            str, Any
        ] = {  # numeric columns as memoryviews (object columns: use ``columns``)
            name: column.data for name, column in self.columns.items() if column.dtype != object
        }


class DigestQueue:
    """FIFO of (time, digest) pairs in numpy arrays: 16 bytes an entry, O(1) push and pop."""

    def __init__(self, capacity: int = 1 << MIN_BITS) -> None:
        """``capacity``: entries to start with, and the fewest it ever shrinks to."""
        self._head = self._tail = 0
        self._min_capacity = max(capacity, 1)
        self._allocate(self._min_capacity)

    def __len__(self) -> int:
        return self._tail - self._head

    @property
    def nbytes(self) -> int:
        return int(self._times.nbytes + self._digests.nbytes)

    def push(self, at_s: float, digest: int) -> None:
        if self._tail == len(self._times):
            self._make_room()
        self._time_cells[self._tail] = at_s
        self._digest_cells[self._tail] = digest
        self._tail += 1

    def head_time(self) -> float:
        """Time of the oldest entry; +inf when empty."""
        return self._time_cells[self._head] if self._tail > self._head else math.inf

    def pop(self) -> int:
        """Drop the oldest entry and return its digest (the queue must not be empty)."""
        digest: int = self._digest_cells[self._head]
        self._head += 1
        if self._head == self._tail:
            self._head = self._tail = 0
        return digest

    def _make_room(self) -> None:
        size = len(self)
        times, digests = (
            self._times[self._head : self._tail],
            self._digests[self._head : self._tail],
        )
        capacity = len(self._times)
        if size * 2 > capacity:
            capacity *= 2
        elif size * 8 < capacity and capacity // 2 >= self._min_capacity:
            capacity //= 2
        self._allocate(capacity)
        self._times[:size] = times
        self._digests[:size] = digests
        self._head, self._tail = 0, size

    def _allocate(self, capacity: int) -> None:
        self._times: npt.NDArray[np.float64] = zeros(capacity, np.float64)
        self._digests: npt.NDArray[np.uint64] = zeros(capacity, np.uint64)
        self._time_cells: Any = self._times.data
        self._digest_cells: Any = self._digests.data
