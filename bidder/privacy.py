"""Salted hashing of user ids, IPs and device ids before they reach logs or stores."""

from __future__ import annotations

import hashlib


class IdHasher:
    """Keyed BLAKE2b of an identifier: stable for one salt, useless without it."""

    __slots__ = ("_key",)

    def __init__(self, salt: str) -> None:
        self._key = hashlib.blake2b(salt.encode("utf-8"), digest_size=32).digest()

    def hash(self, raw: str) -> str:
        """16 hex characters (64 bits): enough to key caps and tags without collisions."""
        return hashlib.blake2b(raw.encode("utf-8"), digest_size=8, key=self._key).hexdigest()
