"""The charge outbox: charges this node made that Redis has not confirmed yet.

Same framing as the ledger journal (``bidder.ledger.journal``: CRC-prefixed JSON lines):
``charge`` records when a notice is charged locally, ``ack`` records once Redis has
applied them. On startup every charge without an ack is pending again; re-sending is
safe because Redis de-duplicates charges by key. A torn last line is ignored.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from bidder.ledger.journal import ChargeRecord, parse_charge, parse_line, render_charge, render_line

log = logging.getLogger(__name__)

COMPACT_BYTES = 4 * 1024 * 1024  # rewrite the file once it is this big and nothing is pending


class Outbox:
    """Pending charge reports, in charge order; ``path=None`` keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._pending: OrderedDict[str, ChargeRecord] = OrderedDict()
        self._handle: BinaryIO | None = None
        self._bytes = 0
        if path is not None:
            self._recover(path)
            self._handle = path.open("ab")

    def __len__(self) -> int:
        return len(self._pending)

    def append(self, record: ChargeRecord) -> None:
        """Persist one charge (flushed to the OS) before it counts as pending."""
        if self._handle is not None:
            line = render_charge(record)
            self._handle.write(line)
            self._handle.flush()
            self._bytes += len(line)
        self._pending[record.key] = record

    def batch(self, limit: int) -> list[ChargeRecord]:
        """The oldest ``limit`` pending charges (still pending until acked)."""
        out: list[ChargeRecord] = []
        for record in self._pending.values():
            if len(out) >= limit:
                break
            out.append(record)
        return out

    def ack(self, keys: Iterable[str]) -> None:
        for key in keys:
            if self._pending.pop(key, None) is not None and self._handle is not None:
                line = render_line({"type": "ack", "key": key})
                self._handle.write(line)
                self._bytes += len(line)
        if self._handle is not None:
            self._handle.flush()
            if not self._pending and self._bytes > COMPACT_BYTES:
                self._handle.truncate(0)
                self._bytes = 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _recover(self, path: Path) -> None:
        if not path.exists():
            return
        with path.open("rb") as handle:
            data = handle.read()
        self._bytes = good_bytes = 0
        lines = data.splitlines(keepends=True)
        for number, line in enumerate(lines, start=1):
            self._bytes = good_bytes
            good_bytes += len(line)
            try:
                obj = parse_line(line)
                if obj.get("type") == "ack":
                    self._pending.pop(str(obj["key"]), None)
                else:
                    record = parse_charge(obj)
                    self._pending[record.key] = record
            except (ValueError, KeyError) as exc:
                if number == len(lines):
                    log.warning("%s: torn last record cut away: %s", path, exc)
                    with path.open("r+b") as handle:
                        handle.truncate(self._bytes)
                    break
                raise ValueError(f"{path}: line {number}: {exc}") from None
        else:
            self._bytes = good_bytes
        if self._pending:
            log.info("%s: %d charges not yet confirmed by Redis", path, len(self._pending))
