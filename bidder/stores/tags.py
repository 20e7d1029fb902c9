"""Audience tags per user, each with its own expiry; protocol and embedded store.

The embedded store interns every tag string once (``tag → id``) and keeps, per user, one
packed int: 64 bits per tag, ``expires_s << 32 | tag_id``, with expiry in whole epoch
seconds rounded up. Three tags cost one 56-byte int plus the dict slot and the hash.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from bidder.stores.persist import StoreFileError, read_document, write_atomic

FILE_KIND = "tags"
FILE_VERSION = 1
_HALF_BITS = 32
_HALF_MASK = (1 << _HALF_BITS) - 1
_SLOT_BITS = 64
_SLOT_MASK = (1 << _SLOT_BITS) - 1
_EMPTY: frozenset[str] = frozenset()


class TagStore(Protocol):
    """Audience tags by user hash. A tag added at ``now`` with ``ttl_s`` is present while
    ``now' < now + ttl_s`` (implementations may round the expiry up to whole seconds).
    Adding a tag the user already has sets its expiry anew (the latest add wins)."""

    def tags(self, user_hash: str, now: float) -> frozenset[str]:
        """The user's unexpired tags (empty for an unknown user)."""
        ...

    def add(self, user_hash: str, tags: Iterable[str], ttl_s: float, now: float) -> None: ...

    def remove(self, user_hash: str, tag: str) -> bool:
        """Drop one tag; False if the user did not have it."""
        ...

    def purge(self, now: float) -> int:
        """Drop expired tags and emptied users; returns the users dropped."""
        ...

    def save(self, path: Path) -> None: ...

    def load(self, path: Path) -> int: ...


def _slots(packed: int) -> list[tuple[int, int]]:
    """(tag_id, expires_s) pairs of a packed value."""
    out = []
    while packed:
        slot = packed & _SLOT_MASK
        out.append((slot & _HALF_MASK, slot >> _HALF_BITS))
        packed >>= _SLOT_BITS
    return out


def _pack(pairs: Iterable[tuple[int, int]]) -> int:
    packed = 0
    for tag_id, expires_s in pairs:
        packed = (packed << _SLOT_BITS) | (expires_s << _HALF_BITS) | tag_id
    return packed


class EmbeddedTagStore:
    """``TagStore`` in memory. Tag strings are interned for the store's lifetime (the tag
    vocabulary is small); ``purge`` is a full scan, to run every few minutes."""

    __slots__ = ("_id_to_tag", "_tag_to_id", "_user_to_packed")

    def __init__(self) -> None:
        self._tag_to_id: dict[str, int] = {}
        self._id_to_tag: list[str] = []
        self._user_to_packed: dict[str, int] = {}

    def tags(self, user_hash: str, now: float) -> frozenset[str]:
        packed = self._user_to_packed.get(user_hash)
        if packed is None:
            return _EMPTY
        id_to_tag = self._id_to_tag
        found = []
        while packed:
            slot = packed & _SLOT_MASK
            if (slot >> _HALF_BITS) > now:
                found.append(id_to_tag[slot & _HALF_MASK])
            packed >>= _SLOT_BITS
        return frozenset(found) if found else _EMPTY

    def add(self, user_hash: str, tags: Iterable[str], ttl_s: float, now: float) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        expires_s = math.ceil(now + ttl_s)
        if not 0 < expires_s <= _HALF_MASK:
            raise ValueError(f"expiry must be epoch seconds in (0, 2**32), got {expires_s}")
        new_ids = {self._intern(tag) for tag in tags}
        if not new_ids:
            return
        kept = [
            pair
            for pair in _slots(self._user_to_packed.get(user_hash, 0))
            if pair[1] > now and pair[0] not in new_ids
        ]
        kept.extend((tag_id, expires_s) for tag_id in sorted(new_ids))
        self._user_to_packed[user_hash] = _pack(kept)

    def remove(self, user_hash: str, tag: str) -> bool:
        packed = self._user_to_packed.get(user_hash)
        tag_id = self._tag_to_id.get(tag)
        if packed is None or tag_id is None:
            return False
        pairs = _slots(packed)
        kept = [pair for pair in pairs if pair[0] != tag_id]
        if len(kept) == len(pairs):
            return False
        if kept:
            self._user_to_packed[user_hash] = _pack(kept)
        else:
            del self._user_to_packed[user_hash]
        return True

    def purge(self, now: float) -> int:
        user_to_packed = self._user_to_packed
        emptied = []
        for user_hash, packed in user_to_packed.items():
            pairs = _slots(packed)
            kept = [pair for pair in pairs if pair[1] > now]
            if not kept:
                emptied.append(user_hash)
            elif len(kept) != len(pairs):
                user_to_packed[user_hash] = _pack(kept)  # same key: safe while iterating
        for user_hash in emptied:
            del user_to_packed[user_hash]
        return len(emptied)

    def user_count(self) -> int:
        return len(self._user_to_packed)

    def save(self, path: Path) -> None:
        """Atomically write ``{tags: [names], users: {hash: [tag_index, expires_s, ...]}}``."""
        users = {
            user_hash: [value for pair in _slots(packed) for value in pair]
            for user_hash, packed in self._user_to_packed.items()
        }
        document = {"kind": FILE_KIND, "version": FILE_VERSION, "tags": self._id_to_tag,
                    "users": users}  # fmt: skip
        write_atomic(path, document)

    def load(self, path: Path) -> int:
        """Replace the contents with ``path``'s; returns the users loaded."""
        document = read_document(path, FILE_KIND, FILE_VERSION)
        try:
            id_to_tag = [str(tag) for tag in document["tags"]]
            user_to_packed = {
                str(user_hash): _pack(_checked_pairs(flat, len(id_to_tag)))
                for user_hash, flat in document["users"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreFileError(path, f"malformed entry: {exc!r}") from None
        self._id_to_tag = [self._canonical(tag) for tag in id_to_tag]
        self._tag_to_id = {tag: i for i, tag in enumerate(self._id_to_tag)}
        self._user_to_packed = user_to_packed
        return len(user_to_packed)

    def _intern(self, tag: str) -> int:
        tag_id = self._tag_to_id.get(tag)
        if tag_id is None:
            tag_id = len(self._id_to_tag)
            tag = self._canonical(tag)
            self._id_to_tag.append(tag)
            self._tag_to_id[tag] = tag_id
        return tag_id

    @staticmethod
    def _canonical(tag: str) -> str:
        return sys.intern(tag)


def _checked_pairs(flat: list[object], tag_count: int) -> list[tuple[int, int]]:
    if len(flat) % 2:
        raise ValueError("a user's entry must hold (tag_index, expires_s) pairs")
    pairs = []
    for tag_id, expires_s in zip(flat[::2], flat[1::2], strict=True):
        if not isinstance(tag_id, int) or not 0 <= tag_id < tag_count:
            raise ValueError(f"tag index out of range: {tag_id!r}")
        if not isinstance(expires_s, int) or not 0 < expires_s <= _HALF_MASK:
            raise ValueError(f"expiry must be an int in (0, 2**32), got {expires_s!r}")
        pairs.append((tag_id, expires_s))
    return pairs
