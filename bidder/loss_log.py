"""The last loss notices, kept for bid shading: a fixed-size ring of numeric rows.

Each loss notice leaves the exchange's loss code and minimum price to win, which a
shading strategy can learn from. Kept as a ``deque`` of small structs (with the bid's key
string) this cost ~330 bytes and six Python objects a loss, and grew for as long as the
deque was filling (100,000 losses: a quarter of an hour at 100 losses/s), which showed up
as most of the RSS growth left in the 10-minute soak. Here the rows live in numpy arrays
allocated and written once at construction (their own anonymous mappings), 44 bytes a
row: 4.2 MiB for 100,000 losses, whatever the traffic.

Campaign ids are interned as small ints (a closed set from the config); the bid's key is
kept as its 64-bit ledger digest, which is what the ledger and snapshots key on anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from msgspec import Struct

from bidder.ledger.table import key_digest, zeros
from bidder.names import NameIds

NONE = -1  # loss code or min-to-win not sent by the exchange (or not a usable number)
_MAX_STORED = (1 << 62) - 1  # larger (or negative) values from a notice's query are kept as NONE


def _stored(value: int | None) -> int:
    return value if value is not None and 0 <= value <= _MAX_STORED else NONE


class LossRecord(Struct, frozen=True, gc=False):
    """A loss notice: the exchange's loss code and min-to-win (``None`` when not sent)."""

    key_digest: int
    campaign_id: str
    bid_micros: int
    loss_code: int | None
    min_to_win_micros: int | None
    at_s: float


class LossLog:
    """The last ``capacity`` loss notices, oldest dropped first; fixed memory."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._head = 0  # the row the next loss takes
        self._count = 0
        self._campaigns = NameIds()
        # resident: every page touched now, so RSS does not creep while the ring fills
        self._digest = zeros(capacity, np.uint64, resident=True)
        self._campaign = zeros(capacity, np.int32, resident=True)
        self._bid_micros = zeros(capacity, np.int64, resident=True)
        self._loss_code = zeros(capacity, np.int64, resident=True)
        self._min_to_win_micros = zeros(capacity, np.int64, resident=True)
        self._at_s = zeros(capacity, np.float64, resident=True)

    def __len__(self) -> int:
        return self._count

    def append(
        self,
        key: str,
        campaign_id: str,
        bid_micros: int,
        loss_code: int | None,
        min_to_win_micros: int | None,
        at_s: float,
    ) -> None:
        row = self._head
        self._digest[row] = key_digest(key)
        self._campaign[row] = self._campaigns.id_of(campaign_id)
        self._bid_micros[row] = bid_micros
        self._loss_code[row] = _stored(loss_code)
        self._min_to_win_micros[row] = _stored(min_to_win_micros)
        self._at_s[row] = at_s
        self._head = (row + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def __getitem__(self, index: int) -> LossRecord:
        """``index`` counts from the oldest kept loss (0) or, negative, from the newest."""
        if not -self._count <= index < self._count:
            raise IndexError(f"loss index {index} out of range ({self._count} kept)")
        if index < 0:
            index += self._count
        row = (self._head - self._count + index) % self.capacity
        code = int(self._loss_code[row])
        min_to_win = int(self._min_to_win_micros[row])
        return LossRecord(
            key_digest=int(self._digest[row]),
            campaign_id=self._campaigns.names[int(self._campaign[row])],
            bid_micros=int(self._bid_micros[row]),
            loss_code=None if code == NONE else code,
            min_to_win_micros=None if min_to_win == NONE else min_to_win,
            at_s=float(self._at_s[row]),
        )

    def __iter__(self) -> Iterator[LossRecord]:
        return (self[i] for i in range(self._count))

    @property
    def nbytes(self) -> int:
        return sum(int(column.nbytes) for column in self._columns())

    def _columns(self) -> tuple[np.ndarray[tuple[int], np.dtype[np.generic]], ...]:
        return (
            self._digest,
            self._campaign,
            self._bid_micros,
            self._loss_code,
            self._min_to_win_micros,
            self._at_s,
        )
