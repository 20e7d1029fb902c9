"""Bounded memo tables for values that repeat on the bid path (labels, digests, escapes).

The hit path stays inline at each call site (``cache.get(key)``); a miss calls
:func:`remember`, the one eviction policy: a full table is emptied and the hot set refills
it within a few requests. That costs nothing per hit (no LRU bookkeeping) and bounds the
memory a stream of distinct keys can take.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], max_entries: int, key: K, value: V) -> V:
    """Store ``value`` under ``key`` (emptying ``cache`` first when it holds
    ``max_entries``) and return it."""
    if len(cache) >= max_entries:
        cache.clear()
    cache[key] = value
    return value
