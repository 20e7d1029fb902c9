"""Frequency caps: how often a user saw a campaign in a window; protocol and embedded store.

The embedded store keeps one dict per campaign, ``user_hash → packed int``: the user's
recent impression times as whole epoch seconds (rounded up, so a cap is never
under-enforced), 32 bits each, newest in the low bits. One impression costs one small
int (32 bytes) plus the dict slot and the user's hash string.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

from bidder.stores.persist import StoreFileError, read_document, write_atomic

FILE_KIND = "freqcap"
FILE_VERSION = 1
DEFAULT_MAX_EVENTS = 16
_SLOT_BITS = 32
_SLOT_MASK = (1 << _SLOT_BITS) - 1


class FrequencyStore(Protocol):
    """Impressions per (user, campaign) in a sliding window.

    Callers pass a campaign's fixed ``window_s`` on every call and ``now`` in epoch
    seconds. An impression recorded at ``t`` counts while ``now - t < window_s``.
    Implementations may saturate counts at a documented maximum.
    """

    def count(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> int:
        """Impressions of ``campaign_id`` seen by the user within the last ``window_s``."""
        ...

    def record(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> None:
        """Count one impression (on a win notice)."""
        ...

    def purge(self, now: float) -> int:
        """Forget users with nothing left inside any window; returns how many entries."""
        ...

    def save(self, path: Path) -> None: ...

    def load(self, path: Path) -> int: ...


def _unpack(packed: int) -> list[int]:
    """Event seconds, newest first."""
    out = []
    while packed:
        out.append(packed & _SLOT_MASK)
        packed >>= _SLOT_BITS
    return out


def _check_second(value: object) -> int:
    if not isinstance(value, int) or not 0 < value <= _SLOT_MASK:
        raise ValueError(f"event time must be an int in (0, 2**32), got {value!r}")
    return value


def _pack(seconds_newest_first: list[int]) -> int:
    packed = 0
    for second in reversed(seconds_newest_first):
        packed = (packed << _SLOT_BITS) | second
    return packed


class EmbeddedFrequencyStore:
    """``FrequencyStore`` in memory; counts saturate at ``max_events`` per user and campaign.

    A campaign's ``frequency_cap.max_impressions`` must not exceed ``max_events``.
    ``purge`` is a full scan: run it every few minutes, not per request.
    """

    __slots__ = ("_campaign_to_users", "_campaign_to_window_s", "_max_events")

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self._max_events = max_events
        self._campaign_to_users: dict[str, dict[str, int]] = {}
        self._campaign_to_window_s: dict[str, int] = {}  # the latest window recorded with

    def count(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> int:
        users = self._campaign_to_users.get(campaign_id)
        if users is None:
            return 0
        packed = users.get(user_hash)
        if packed is None:
            return 0
        cutoff_s = now - window_s
        n = 0
        while packed:
            if (packed & _SLOT_MASK) > cutoff_s:
                n += 1
            packed >>= _SLOT_BITS
        return n

    def record(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        if now > _SLOT_MASK:
            raise ValueError(f"now must be epoch seconds below 2**32, got {now}")
        users = self._campaign_to_users.get(campaign_id)
        if users is None:
            users = self._campaign_to_users[campaign_id] = {}
        self._campaign_to_window_s[campaign_id] = window_s
        cutoff_s = now - window_s
        kept = [max(1, math.ceil(now))]  # 0 would read as an empty slot
        packed = users.get(user_hash, 0)
        while packed and len(kept) < self._max_events:
            second = packed & _SLOT_MASK
            if second > cutoff_s:
                kept.append(second)
            packed >>= _SLOT_BITS
        users[user_hash] = _pack(kept)

    def purge(self, now: float) -> int:
        removed = 0
        for campaign_id, users in self._campaign_to_users.items():
            cutoff_s = now - self._campaign_to_window_s.get(campaign_id, 0)
            stale = [u for u, packed in users.items() if max(_unpack(packed)) <= cutoff_s]
            for user_hash in stale:
                del users[user_hash]
            removed += len(stale)
        return removed

    def user_count(self) -> int:
        """(user, campaign) entries held, for a gauge."""
        return sum(len(users) for users in self._campaign_to_users.values())

    def save(self, path: Path) -> None:
        """Atomically write every entry as JSON: ``{campaigns: {id: {window_s, users}}}``."""
        campaigns = {
            campaign_id: {
                "window_s": self._campaign_to_window_s.get(campaign_id, 0),
                "users": {u: _unpack(packed) for u, packed in users.items()},
            }
            for campaign_id, users in self._campaign_to_users.items()
        }
        write_atomic(path, {"kind": FILE_KIND, "version": FILE_VERSION, "campaigns": campaigns})

    def load(self, path: Path) -> int:
        """Replace the contents with ``path``'s; returns the entries loaded."""
        document = read_document(path, FILE_KIND, FILE_VERSION)
        campaign_to_users: dict[str, dict[str, int]] = {}
        campaign_to_window_s: dict[str, int] = {}
        try:
            for campaign_id, entry in document["campaigns"].items():
                campaign_to_window_s[campaign_id] = int(entry["window_s"])
                campaign_to_users[campaign_id] = {
                    str(u): _pack([_check_second(s) for s in seconds][: self._max_events])
                    for u, seconds in entry["users"].items()
                }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreFileError(path, f"malformed entry: {exc!r}") from None
        self._campaign_to_users = campaign_to_users
        self._campaign_to_window_s = campaign_to_window_s
        return self.user_count()
