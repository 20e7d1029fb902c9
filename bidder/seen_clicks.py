"""Which bids were clicked already: a click counts once per bid, within a bounded memory.

The oldest keys leave first once ``capacity`` is reached, so a click on a bid older than
the last ``capacity`` clicked bids would count again; at the default of 1,000,000 that
is far beyond a click's useful life. ``benchmarks/bench_memory.py`` measures the bytes
per remembered click.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenClicks:
    """First-click detection over the last ``capacity`` clicked bid keys (FIFO)."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()

    def first(self, key: str) -> bool:
        """Record a click on ``key``; True when no click on it is remembered."""
        keys = self._keys
        if key in keys:
            return False
        keys[key] = None
        if len(keys) > self.capacity:
            keys.popitem(last=False)
        return True

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
