"""The ledger's append-only charge journal and its snapshot: format, recovery, compaction.

Both files are text, one record per line: ``<crc32 as 8 hex digits> <JSON object>\\n``,
where the CRC-32 (zlib) covers the JSON bytes. The first line of each file is a header
``{"type": "header", "version": 2, "generation": G, "timezone": ...}``. The journal then
holds ``charge`` records; the snapshot holds ``spend`` aggregates, ``digests`` chunks (the
charged keys' 64-bit digests and charge times as base64 of little-endian uint64 and
float64 arrays) and a closing ``end`` record. Version 1 files (snapshots with ``keys``
chunks of key strings) are still read. A journal whose generation is older than the snapshot's was
already folded into the snapshot (a crash during compaction) and is discarded.
"""

from __future__ import annotations

import base64
import logging
import os
import zlib
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import orjson

from bidder.ledger.base import FsyncPolicy
from bidder.ledger.day import day_to_iso, iso_to_day
from bidder.ledger.table import key_digest

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
KEYS_PER_RECORD = 4096

log = logging.getLogger(__name__)


class JournalError(Exception):
    """A journal or snapshot that cannot be recovered safely (fatal at startup)."""

    code = "corrupt_journal"

    def __init__(self, path: Path, line: int, offset: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.offset = offset
        self.reason = reason
        super().__init__(f"{path}: line {line} (byte offset {offset}): {reason}")


@dataclass(frozen=True, slots=True)
class ChargeRecord:
    key: str
    campaign_id: str
    arm: str
    micros: int
    day_ordinal: int  # local date of the reservation, in the ledger's timezone
    charged_s: float


@dataclass(slots=True)
class RecoveredState:
    """What replay found: spend aggregates and charged key digests in charge order."""

    generation: int = 0
    spend_to_micros: dict[tuple[str, str, int], int] = field(default_factory=dict)
    digests: array[int] = field(default_factory=lambda: array("Q"))
    charged_s: array[float] = field(default_factory=lambda: array("d"))

    def add_charge(self, record: ChargeRecord) -> None:
        slot = (record.campaign_id, record.arm, record.day_ordinal)
        self.spend_to_micros[slot] = self.spend_to_micros.get(slot, 0) + record.micros
        self.add_key(key_digest(record.key), record.charged_s)

    def add_key(self, digest: int, charged_s: float) -> None:
        self.digests.append(digest)
        self.charged_s.append(charged_s)

    def charged_arrays(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float64]]:
        """(digests, charge times) in charge order; a key may appear more than once."""
        return (np.frombuffer(self.digests, dtype=np.uint64).copy(),
                np.frombuffer(self.charged_s, dtype=np.float64).copy())  # fmt: skip


def render_line(obj: dict[str, Any]) -> bytes:
    payload = orjson.dumps(obj)
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def parse_line(line: bytes) -> dict[str, Any]:
    """One framed line → its JSON object; raises ValueError saying what is wrong."""
    if not line.endswith(b"\n"):
        raise ValueError("record not terminated by a newline (torn write)")
    if len(line) < 11 or line[8:9] != b" ":
        raise ValueError("record too short or missing its CRC prefix")
    payload = line[9:-1]
    try:
        crc = int(line[:8], 16)
    except ValueError:
        raise ValueError("CRC prefix is not hexadecimal") from None
    if zlib.crc32(payload) != crc:
        raise ValueError("CRC mismatch")
    obj = orjson.loads(payload)  # JSONDecodeError is a ValueError
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ValueError("record is not an object with a 'type'")
    return obj


def parse_charge(obj: dict[str, Any]) -> ChargeRecord:
    key, campaign_id, arm = obj.get("key"), obj.get("campaign"), obj.get("arm")
    micros, day, ts = obj.get("micros"), obj.get("day"), obj.get("ts")
    if not (isinstance(key, str) and isinstance(campaign_id, str) and isinstance(arm, str)):
        raise ValueError("charge needs string key, campaign and arm")
    if not isinstance(micros, int) or micros < 0:
        raise ValueError(f"charge micros must be an int >= 0, got {micros!r}")
    if not isinstance(day, str) or not isinstance(ts, int | float):
        raise ValueError("charge needs a 'day' date string and a numeric 'ts'")
    return ChargeRecord(key, campaign_id, arm, micros, iso_to_day(day), float(ts))


def render_charge(record: ChargeRecord) -> bytes:
    return render_line(
        {
            "type": "charge",
            "key": record.key,
            "campaign": record.campaign_id,
            "arm": record.arm,
            "micros": record.micros,
            "day": day_to_iso(record.day_ordinal),
            "ts": record.charged_s,
        }
    )


def _header(generation: int, timezone: str) -> dict[str, Any]:
    return {"type": "header", "version": FORMAT_VERSION, "generation": generation,
            "timezone": timezone}  # fmt: skip


def _iter_lines(handle: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
    """(1-based line number, byte offset, raw line) for each line of a file."""
    offset = 0
    for number, line in enumerate(handle, start=1):
        yield number, offset, line
        offset += len(line)


def _check_header(obj: dict[str, Any]) -> int:
    if obj["type"] != "header" or obj.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"expected a version {READABLE_VERSIONS} header, got {obj!r}")
    generation = obj.get("generation")
    if not isinstance(generation, int) or generation < 0:
        raise ValueError(f"header generation must be an int >= 0, got {generation!r}")
    return generation


def _b64(values: npt.NDArray[np.generic]) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, lines: Iterable[bytes]) -> None:
    """Write to ``path.tmp``, fsync, rename over ``path``, fsync the directory."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        for line in lines:
            handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    _fsync_dir(path)


class Journal:
    """Owns ``<path>`` (the journal) and ``<path>.snapshot``; one writer per path."""

    def __init__(self, path: Path, timezone: str, fsync: FsyncPolicy = FsyncPolicy.BATCH) -> None:
        self.path = path
        self.snapshot_path = path.with_name(path.name + ".snapshot")
        self._timezone = timezone
        self._fsync_always = fsync is FsyncPolicy.ALWAYS
        self._handle: BinaryIO | None = None
        self.generation = 0

    def recover(self) -> RecoveredState:
        """Read snapshot then journal, cut a torn last record, and open for appending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = RecoveredState()
        if self.snapshot_path.exists():
            self._read_snapshot(state)
        self.generation = state.generation
        journal_generation = self._replay_journal(state) if self.path.exists() else None
        if journal_generation is None or journal_generation < state.generation:
            if journal_generation is not None:
                log.warning("ledger journal %s predates its snapshot; discarded", self.path)
            _write_atomic(self.path, [render_line(_header(self.generation, self._timezone))])
        self._handle = self.path.open("ab")
        return state

    def append(self, record: ChargeRecord) -> None:
        """Append one charge; flushed (and fsynced under ``always``) before returning."""
        handle = self._handle
        if handle is None:
            raise RuntimeError("journal is not open (call recover() first)")
        handle.write(render_charge(record))
        handle.flush()
        if self._fsync_always:
            os.fsync(handle.fileno())

    def sync(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self.sync()
            self._handle.close()
            self._handle = None

    def compact(
        self,
        spend_to_micros: dict[tuple[str, str, int], int],
        digests: npt.NDArray[np.uint64],
        charged_s: npt.NDArray[np.float64],
    ) -> None:
        """Write a snapshot of generation G+1, then start an empty journal of G+1.

        The snapshot rename is the commit point: a crash before it keeps the old snapshot
        and journal; a crash after it leaves a journal of generation G, which recovery
        recognises as folded in and discards.
        """
        generation = self.generation + 1
        _write_atomic(self.snapshot_path, self._snapshot_lines(generation, spend_to_micros,
                                                               digests, charged_s))  # fmt: skip
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        _write_atomic(self.path, [render_line(_header(generation, self._timezone))])
        self.generation = generation
        self._handle = self.path.open("ab")

    def _snapshot_lines(
        self,
        generation: int,
        spend_to_micros: dict[tuple[str, str, int], int],
        digests: npt.NDArray[np.uint64],
        charged_s: npt.NDArray[np.float64],
    ) -> Iterator[bytes]:
        yield render_line(_header(generation, self._timezone))
        for (campaign_id, arm, day), micros in spend_to_micros.items():
            yield render_line({"type": "spend", "campaign": campaign_id, "arm": arm,
                               "day": day_to_iso(day), "micros": micros})  # fmt: skip
        digests = np.ascontiguousarray(digests, dtype="<u8")
        charged_s = np.ascontiguousarray(charged_s, dtype="<f8")
        for start in range(0, len(digests), KEYS_PER_RECORD):
            end = start + KEYS_PER_RECORD
            yield render_line({"type": "digests", "d": _b64(digests[start:end]),
                               "t": _b64(charged_s[start:end])})  # fmt: skip
        yield render_line({"type": "end", "spend_records": len(spend_to_micros),
                           "key_count": len(digests)})  # fmt: skip

    def _read_snapshot(self, state: RecoveredState) -> None:
        """Any damage is fatal: the snapshot is only ever written whole and renamed."""
        path = self.snapshot_path
        ended = False
        number, offset = 0, 0
        with path.open("rb") as handle:
            for number, offset, line in _iter_lines(handle):
                try:
                    if ended:
                        raise ValueError("data after the end record")
                    obj = parse_line(line)
                    if number == 1:
                        state.generation = _check_header(obj)
                    else:
                        ended = self._apply_snapshot_record(obj, state)
                except (ValueError, TypeError, KeyError) as exc:
                    raise JournalError(path, number, offset, str(exc)) from None
        if not ended:
            raise JournalError(path, number, offset, "snapshot has no end record (truncated)")

    @staticmethod
    def _apply_snapshot_record(obj: dict[str, Any], state: RecoveredState) -> bool:
        kind = obj["type"]
        if kind == "spend":
            record = parse_charge({**obj, "key": "", "ts": 0.0})
            slot = (record.campaign_id, record.arm, record.day_ordinal)
            state.spend_to_micros[slot] = state.spend_to_micros.get(slot, 0) + record.micros
        elif kind == "digests":
            digests = np.frombuffer(base64.b64decode(obj["d"], validate=True), dtype="<u8")
            charged_s = np.frombuffer(base64.b64decode(obj["t"], validate=True), dtype="<f8")
            if len(digests) != len(charged_s) or (digests < 2).any():
                raise ValueError("digests and charge times differ in length, or a digest < 2")
            state.digests.extend(digests.tolist())
            state.charged_s.extend(charged_s.tolist())
        elif kind == "keys":  # version 1: key strings
            for key, charged_s in obj["keys"]:
                state.add_key(key_digest(str(key)), float(charged_s))
        elif kind == "end":
            if obj.get("spend_records") != len(state.spend_to_micros):
                raise ValueError("end record's spend count does not match")
            return True
        else:
            raise ValueError(f"unexpected record type {kind!r} in a snapshot")
        return False

    def _replay_journal(self, state: RecoveredState) -> int | None:
        """Apply the journal's charges; returns its generation, None if it was empty."""
        path = self.path
        size = path.stat().st_size
        generation: int | None = None
        with path.open("rb") as handle:
            for number, offset, line in _iter_lines(handle):
                try:
                    obj = parse_line(line)
                    if number == 1:
                        generation = _check_header(obj)
                    elif obj["type"] != "charge":
                        raise ValueError(f"unexpected record type {obj['type']!r}")
                    elif generation == state.generation:
                        state.add_charge(parse_charge(obj))
                except ValueError as exc:
                    if offset + len(line) < size:
                        raise JournalError(path, number, offset, str(exc)) from None
                    log.warning("ledger journal %s: torn last record at line %d (byte offset "
                                "%d): %s; truncated", path, number, offset, exc)  # fmt: skip
                    with path.open("r+b") as writer:
                        writer.truncate(offset)
                    return generation
                if generation is not None and generation > state.generation:
                    reason = (f"journal generation {generation} is newer than the snapshot's "
                              f"{state.generation}")  # fmt: skip
                    raise JournalError(path, number, offset, reason)
        return generation
