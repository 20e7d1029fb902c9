"""First-party events (site visits, carts, purchases): store protocol and embedded store.

Events arrive from the tracking pixel and the conversion endpoint with the user id already
replaced by its salted hash (``IdHasher``). The embedded store appends one JSON line per
event to ``state_dir/events.jsonl`` and keeps per-user summaries in memory; the audience
builder reads the same file (``read_events``). A Redis store would implement the same
``EventStore`` protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class EventKind(str, Enum):
    VISIT = "visit"
    CART = "cart"
    PURCHASE = "purchase"


class EventSource(str, Enum):
    PIXEL = "pixel"
    CONVERSION = "conversion"


@dataclass(frozen=True, slots=True)
class Event:
    """One first-party event; ``user_hash`` is ``IdHasher.hash(uid)``, never the raw id."""

    ts: float
    advertiser: str
    kind: EventKind
    user_hash: str
    value_micros: int = 0
    source: EventSource = EventSource.PIXEL

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "event",
            "v": SCHEMA_VERSION,
            "ts": round(self.ts, 3),
            "adv": self.advertiser,
            "ev": self.kind.value,
            "user": self.user_hash,
            "value_micros": self.value_micros,
            "source": self.source.value,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Event:
        """Raises ``KeyError``/``ValueError``/``TypeError`` on a malformed record."""
        return cls(
            ts=float(record["ts"]),
            advertiser=str(record["adv"]),
            kind=EventKind(record["ev"]),
            user_hash=str(record["user"]),
            value_micros=int(record.get("value_micros", 0)),
            source=EventSource(record.get("source", "pixel")),
        )


@dataclass(slots=True)
class UserSummary:
    """Per (advertiser, user) counts and last times, kept up to date as events arrive."""

    first_s: float
    last_s: float
    kind_to_count: dict[EventKind, int] = field(default_factory=dict)
    kind_to_last_s: dict[EventKind, float] = field(default_factory=dict)
    revenue_micros: int = 0

    def update(self, event: Event) -> None:
        self.first_s = min(self.first_s, event.ts)
        self.last_s = max(self.last_s, event.ts)
        self.kind_to_count[event.kind] = self.kind_to_count.get(event.kind, 0) + 1
        last = self.kind_to_last_s.get(event.kind)
        self.kind_to_last_s[event.kind] = event.ts if last is None else max(last, event.ts)
        if event.kind is EventKind.PURCHASE:
            self.revenue_micros += event.value_micros


class EventStore(Protocol):
    """Append-only first-party events with per-user summaries."""

    def append(self, event: Event) -> None: ...

    def summary(self, advertiser: str, user_hash: str) -> UserSummary | None: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class EmbeddedEventStore:
    """``EventStore`` on a JSON-lines file (or memory only when ``path`` is None).

    Each append is written and flushed at once: events are rare next to bid requests, and
    a line per event keeps the file readable by the audience builder at any moment.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._summaries: dict[tuple[str, str], UserSummary] = {}
        self._count = 0
        self._fh: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                for event in read_events(path):
                    self._index(event)
            self._fh = path.open("ab")

    def append(self, event: Event) -> None:
        if self._fh is not None:
            self._fh.write(orjson.dumps(event.to_record(), option=orjson.OPT_SORT_KEYS) + b"\n")
            self._fh.flush()
        self._index(event)

    def summary(self, advertiser: str, user_hash: str) -> UserSummary | None:
        return self._summaries.get((advertiser, user_hash))

    def count(self) -> int:
        return self._count

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _index(self, event: Event) -> None:
        key = (event.advertiser, event.user_hash)
        summary = self._summaries.get(key)
        if summary is None:
            summary = self._summaries[key] = UserSummary(event.ts, event.ts)
        summary.update(event)
        self._count += 1


def read_events(path: Path) -> Iterator[Event]:
    """Events in ``path``; malformed lines (a torn last write) are skipped and logged."""
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                if record.get("type") != "event":
                    continue
                yield Event.from_record(record)
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError, AttributeError):
                log.warning("%s:%d: skipped a malformed event line", path, number)


def write_events(path: Path, events: Iterable[Event]) -> int:
    """Append ``events`` to ``path`` (tests, imports); returns the number written."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as fh:
        for event in events:
            fh.write(orjson.dumps(event.to_record(), option=orjson.OPT_SORT_KEYS) + b"\n")
            n += 1
    return n
