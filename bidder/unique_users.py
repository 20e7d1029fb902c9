"""Unique-user count in fixed memory: a HyperLogLog sketch (16 KiB) per campaign.

An exact set of salted user hashes costs ~100 bytes a user and grows with every new user.
The sketch keeps 2**14 one-byte registers: a user's 64-bit BLAKE2b digest picks a register
(top 14 bits) and offers the rank of its first set bit in the other 50; a register keeps
the largest. The count is Ertl's improved estimator ("New cardinality estimation
algorithms for HyperLogLog sketches", 2017), unbiased from 0 to far beyond any campaign's
reach without HLL++'s bias tables. Relative standard error ``1.04 / sqrt(2**14)`` = 0.81 %
(tests hold it within 3 sigma on fixed inputs); small counts are almost exact (a user is
lost only when two of them share register and rank: below 10 users in 16,384 registers,
next to never). Adding the same user again never changes the count.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

PRECISION = 14  # register index bits
REGISTERS = 1 << PRECISION
RANK_BITS = 64 - PRECISION
RELATIVE_STANDARD_ERROR = 1.04 / math.sqrt(REGISTERS)
_RANK_MASK = (1 << RANK_BITS) - 1
_ALPHA_INF = 1 / (2 * math.log(2))

_blake2b = hashlib.blake2b


class UniqueUsers:
    """``add(user_hash)`` and ``len()``: an estimate of how many different users were added."""

    __slots__ = ("_cells", "_registers")

    def __init__(self) -> None:
        self._registers = np.zeros(REGISTERS, dtype=np.uint8)
        self._registers.fill(0)  # touch its pages now: the sketch never grows after this
        self._cells = self._registers.data  # Python-int access for the per-notice update

    def add(self, user: str) -> None:
        digest = int.from_bytes(_blake2b(user.encode(), digest_size=8).digest(), "little")
        register = digest >> RANK_BITS
        rank = RANK_BITS - (digest & _RANK_MASK).bit_length() + 1  # 1 .. RANK_BITS + 1
        cells = self._cells
        cells[register] = max(cells[register], rank)

    def __len__(self) -> int:
        return round(self.estimate())

    def __bool__(self) -> bool:
        return bool(self._registers.any())

    @property
    def nbytes(self) -> int:
        return int(self._registers.nbytes)

    def estimate(self) -> float:
        """Ertl's improved raw estimator over the register histogram."""
        counts = np.bincount(self._registers, minlength=RANK_BITS + 2).tolist()
        m = float(REGISTERS)
        if counts[0] == REGISTERS:
            return 0.0
        z = m * _tau(1.0 - counts[RANK_BITS + 1] / m)
        for k in range(RANK_BITS, 0, -1):
            z = 0.5 * (z + counts[k])
        z += m * _sigma(counts[0] / m)
        return _ALPHA_INF * m * m / z


def _sigma(x: float) -> float:
    """x + sum over k >= 1 of x**(2**k) * 2**(k-1); x < 1."""
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    """(1 - x - sum over k >= 1 of (1 - x**(2**-k))**2 * 2**-k) / 3; 0 at 0 and at 1."""
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0
