"""Retention: the bid log rotates daily and old days are deleted; audience tags live capped.

The bid log ``server.bidlog_path`` (``var/bidlog.jsonl``) is the live file. Once it holds
a past UTC day (by its first record's ``ts``), the background ticker renames it to
``var/bidlog-<that day>.jsonl``; dated files more than ``server.bidlog_retention_days``
days old are deleted. Tags never outlive ``server.tag_retention_days``, whatever TTL they
were added with or were loaded from disk with. ``apply_retention`` runs all three.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import orjson

from bidder.config.model import ServerSettings
from bidder.stores import tags as tag_module
from bidder.stores.tags import EmbeddedTagStore

log = logging.getLogger(__name__)

DAY_S = 86_400
_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})$")


def day_of(now_s: float) -> str:
    """``YYYY-MM-DD`` (UTC) of an epoch time."""
    return dt.datetime.fromtimestamp(now_s, dt.UTC).date().isoformat()


def dated_path(base: Path, day: str) -> Path:
    """``var/bidlog.jsonl`` + ``2026-06-01`` -> ``var/bidlog-2026-06-01.jsonl``."""
    return base.with_name(f"{base.stem}-{day}{base.suffix}")


def prune_bidlogs(base: Path, retention_days: int, now_s: float) -> list[Path]:
    """Delete the dated files of ``base`` older than ``retention_days``; returns them.

    A file for day D is kept while D >= today - retention_days (today counts as day 0).
    """
    oldest_kept = (dt.datetime.fromtimestamp(now_s, dt.UTC).date()) - dt.timedelta(
        days=retention_days
    )
    removed: list[Path] = []
    prefix = base.stem + "-"
    for path in base.parent.glob(f"{base.stem}-*{base.suffix}"):
        day = path.name[len(prefix) : len(path.name) - len(base.suffix)]
        if not _DATE_RE.match(day):
            continue
        try:
            date = dt.date.fromisoformat(day)
        except ValueError:
            continue
        if date < oldest_kept:
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.info("bid log retention: deleted %d file(s) older than %s", len(removed), oldest_kept)
    return removed


def capped_ttl_s(ttl_s: float, retention_days: int) -> float:
    """The TTL to store a tag with: never more than the retention period."""
    return min(ttl_s, retention_days * DAY_S)


def cap_tag_expiries(store: EmbeddedTagStore, retention_days: int, now_s: float) -> int:
    """Shorten every tag expiring after ``now + retention``; returns users changed.

    Reads the store's packed slots directly (TODO(reliability issue): a public
    ``EmbeddedTagStore.cap_expiry`` would keep this inside the store).
    """
    latest_s = int(now_s + retention_days * DAY_S)
    changed = 0
    packed_by_user = store._user_to_packed
    for user_hash, packed in packed_by_user.items():
        pairs = tag_module._slots(packed)
        if any(expires_s > latest_s for _, expires_s in pairs):
            capped = [(tag_id, min(expires_s, latest_s)) for tag_id, expires_s in pairs]
            packed_by_user[user_hash] = tag_module._pack(capped)  # same key: safe
            changed += 1
    return changed


def rotate_bidlog(base: Path, now_s: float) -> Path | None:
    """Rename the live file to its day's dated name once that day is over; returns it.

    If the dated file exists already (a restart the same day), the live file is appended
    to it. A record being flushed during the rename lands in the renamed file: nothing is
    lost.
    """
    try:
        with base.open("rb") as fh:
            first = fh.readline()
    except FileNotFoundError:
        return None
    try:
        day = day_of(float(orjson.loads(first)["ts"]))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        day = day_of(base.stat().st_mtime)  # an unreadable first line: file time
    if day >= day_of(now_s):
        return None
    target = dated_path(base, day)
    if target.exists():
        with target.open("ab") as out:
            out.write(base.read_bytes())
        base.unlink()
    else:
        base.rename(target)
    return target


def apply_retention(server: ServerSettings, tags: EmbeddedTagStore, now_s: float) -> None:
    """Rotate and prune the bid log, and cap tag lifetimes (the app's background ticker)."""
    if server.bidlog_path:
        base = Path(server.bidlog_path)
        rotate_bidlog(base, now_s)
        prune_bidlogs(base, server.bidlog_retention_days, now_s)
    cap_tag_expiries(tags, server.tag_retention_days, now_s)
