"""Secrets the bidder needs (notice keys, user-id salt): from env, else a persisted random one."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)


def persisted_secret(state_dir: Path, name: str) -> str:
    """A random secret kept in ``state_dir/name`` (created once, mode 0600)."""
    path = state_dir / name
    if path.exists():
        return path.read_text("utf-8").strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    log.warning(
        "generated %s in %s (set the environment variable to manage it yourself)", name, state_dir
    )
    return value


def parse_keyring(value: str) -> tuple[dict[str, str], str]:
    """``"k2:secret2,k1:secret1"`` -> ({k2: .., k1: ..}, "k2"); a bare secret is key ``k1``.

    The first key signs; every listed key verifies (rotation: add the new key first,
    keep the old one until its URLs have expired, then drop it).
    """
    items = [part.strip() for part in value.split(",") if part.strip()]
    if not items:
        raise ValueError("notice key ring is empty")
    if len(items) == 1 and ":" not in items[0]:
        return {"k1": items[0]}, "k1"
    keys: dict[str, str] = {}
    for item in items:
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id or not secret:
            raise ValueError("notice key ring entries must look like KEY_ID:SECRET")
        keys[key_id] = secret
    return keys, items[0].partition(":")[0]
