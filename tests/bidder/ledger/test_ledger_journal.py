"""Journal, recovery and snapshot tests for EmbeddedLedger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bidder.config.model import Budget
from bidder.ledger import ChargeResult, EmbeddedLedger, FsyncPolicy, JournalError
from bidder.ledger.journal import parse_line, render_line

T0 = 1_780_000_000.0
BUDGETS = {"c1": Budget(total_micros=10**12, daily_micros=10**12)}


OpenLedger = Callable[..., EmbeddedLedger]


@pytest.fixture
def open_ledger() -> Iterator[OpenLedger]:
    """Opens ledgers on a path (like a process restart) and closes them all at teardown."""
    opened: list[EmbeddedLedger] = []

    def build(path: Path, **kwargs: object) -> EmbeddedLedger:
        ledger = EmbeddedLedger(path, timezone="Europe/Paris", **kwargs)  # type: ignore[arg-type]
        ledger.set_budgets(BUDGETS)
        opened.append(ledger)
        return ledger

    yield build
    for ledger in opened:
        ledger.close()


def charge_some(ledger: EmbeddedLedger, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        key = f"a{i}/1"
        assert ledger.reserve(key, "c1", f"arm{i % 2}", 1_000, T0 + i)
        assert ledger.charge(key, 100 + i % 500, T0 + i) is ChargeResult.CHARGED


def test_ledger_journal_replays_spend_and_dedupe_after_restart(
    tmp_path: Path, open_ledger: OpenLedger
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 5)
    ledger.reserve("pending/1", "c1", "arm0", 1_000, T0 + 10)
    before = ledger.campaign_spend("c1", T0 + 10)
    arms_before = ledger.arm_spend("c1")
    ledger.close()

    again = open_ledger(path)
    after = again.campaign_spend("c1", T0 + 10)
    assert (after.total_micros, after.today_micros) == (before.total_micros, before.today_micros)
    assert after.reserved_micros == 0  # reservations are not persisted
    assert again.arm_spend("c1") == arms_before
    assert again.charge("a0/1", 100, T0 + 11) is ChargeResult.DUPLICATE
    assert again.charge("pending/1", 100, T0 + 11) is ChargeResult.UNKNOWN
    assert again.total_charged_micros() == sum(100 + i for i in range(5))


def test_ledger_journal_record_format(tmp_path: Path, open_ledger: OpenLedger) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path, fsync=FsyncPolicy.ALWAYS)
    charge_some(ledger, 1)
    lines = path.read_bytes().splitlines(keepends=True)
    assert parse_line(lines[0])["type"] == "header"
    assert parse_line(lines[1]) == {
        "type": "charge",
        "key": "a0/1",
        "campaign": "c1",
        "arm": "arm0",
        "micros": 100,
        "day": "2026-05-28",
        "ts": T0,
    }
    ledger.close()


def test_ledger_journal_torn_last_record_is_truncated(
    tmp_path: Path, open_ledger: OpenLedger, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 3)
    ledger.close()
    good_size = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(b'1234abcd {"type":"charge","key":"a9/1","camp')
    with caplog.at_level(logging.WARNING, logger="bidder.ledger.journal"):
        again = open_ledger(path)
    assert "torn last record at line 5" in caplog.text
    assert path.stat().st_size == good_size
    assert again.total_charged_micros() == 100 + 101 + 102
    charge_some(again, 1, start=3)
    again.close()
    assert open_ledger(path).total_charged_micros() == 100 + 101 + 102 + 103


def test_ledger_journal_corrupt_complete_last_record_is_truncated(
    tmp_path: Path, open_ledger: OpenLedger
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 2)
    ledger.close()
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # flips a bit inside the last record: CRC mismatch
    path.write_bytes(bytes(data))
    assert open_ledger(path).total_charged_micros() == 100


def test_ledger_journal_corruption_in_middle_raises(
    tmp_path: Path, open_ledger: OpenLedger
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 3)
    ledger.close()
    lines = path.read_bytes().splitlines(keepends=True)
    offset = len(lines[0]) + len(lines[1])
    lines[2] = lines[2].replace(b'"micros":101', b'"micros":999')
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError, match=rf"line 3 \(byte offset {offset}\): CRC mismatch"):
        open_ledger(path)


def test_ledger_journal_torn_header_starts_fresh(tmp_path: Path, open_ledger: OpenLedger) -> None:
    path = tmp_path / "ledger.journal"
    path.write_bytes(b"9f3a")
    ledger = open_ledger(path)
    charge_some(ledger, 1)
    ledger.close()
    assert open_ledger(path).total_charged_micros() == 100


def test_ledger_snapshot_round_trip(tmp_path: Path, open_ledger: OpenLedger) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 2_500)  # more keys than one snapshot "keys" record holds
    ledger.snapshot(T0 + 3_000)
    charge_some(ledger, 2, start=2_500)
    spend = ledger.campaign_spend("c1", T0)
    arms = ledger.arm_spend("c1")
    ledger.close()
    assert len(path.read_bytes().splitlines()) == 3  # header + two charges after snapshot

    again = open_ledger(path)
    assert again.campaign_spend("c1", T0) == spend
    assert again.arm_spend("c1") == arms
    assert again.is_charged("a0/1")
    assert again.is_charged("a2501/1")


def test_ledger_snapshot_drops_keys_past_retention(tmp_path: Path, open_ledger: OpenLedger) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path, dedupe_retention_s=100.0)
    charge_some(ledger, 3)  # charged at T0, T0+1, T0+2
    ledger.snapshot(T0 + 101)
    ledger.close()
    again = open_ledger(path, dedupe_retention_s=100.0)
    assert [again.is_charged(f"a{i}/1") for i in range(3)] == [False, False, True]
    assert again.total_charged_micros() == 100 + 101 + 102


def test_ledger_snapshot_crash_before_new_journal_discards_old_journal(
    tmp_path: Path, open_ledger: OpenLedger
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 3)
    ledger.close()
    old_journal = path.read_bytes()
    ledger = open_ledger(path)
    ledger.snapshot(T0 + 10)
    ledger.close()
    path.write_bytes(old_journal)  # as if the crash came between the two renames
    again = open_ledger(path)
    assert again.total_charged_micros() == 100 + 101 + 102


def test_ledger_snapshot_truncated_raises(tmp_path: Path, open_ledger: OpenLedger) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 3)
    ledger.snapshot(T0 + 10)
    ledger.close()
    snapshot = tmp_path / "ledger.journal.snapshot"
    lines = snapshot.read_bytes().splitlines(keepends=True)
    snapshot.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(JournalError, match="snapshot has no end record"):
        open_ledger(path)


def test_ledger_journal_newer_than_snapshot_raises(tmp_path: Path, open_ledger: OpenLedger) -> None:
    path = tmp_path / "ledger.journal"
    header = {"type": "header", "version": 1, "generation": 3, "timezone": "UTC"}
    path.write_bytes(render_line(header))
    with pytest.raises(JournalError, match=r"line 1 .*generation 3 is newer"):
        open_ledger(path)


def test_ledger_journal_unexpected_record_in_middle_raises(
    tmp_path: Path, open_ledger: OpenLedger
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 1)
    ledger.close()
    with path.open("ab") as handle:
        handle.write(render_line({"type": "mystery"}))
        handle.write(render_line({"type": "mystery"}))
    with pytest.raises(JournalError, match=r"line 3 .*unexpected record type 'mystery'"):
        open_ledger(path)


def test_ledger_charge_writes_journal_before_returning(
    tmp_path: Path, open_ledger: OpenLedger
) -> None:
    path = tmp_path / "ledger.journal"
    ledger = open_ledger(path)
    charge_some(ledger, 1)
    assert b'"key":"a0/1"' in path.read_bytes()  # flushed, not closed
    ledger.sync()
    ledger.close()
