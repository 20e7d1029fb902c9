"""Compact ledger state: digest tables, queues, charged keys, and memory per key."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from bidder.config.model import Budget
from bidder.ledger import ChargeResult, EmbeddedLedger
from bidder.ledger.dedupe import ChargedKeys
from bidder.ledger.journal import render_line
from bidder.ledger.table import TOMBSTONE, DigestQueue, DigestTable, key_digest

T0 = 1_780_000_000.0


def test_table_key_digest_is_stable_and_never_a_marker() -> None:
    assert key_digest("a/1") == key_digest("a/1") != key_digest("a/2")
    assert key_digest("a/1") == 0xC01606FD5B9D7FB2  # pinned: snapshots store digests
    assert key_digest("00000000000000000000") != key_digest("00000000000000000001")
    assert min(key_digest(f"k{i}") for i in range(1_000)) > TOMBSTONE


def test_table_matches_a_dict_through_inserts_removes_and_rebuilds() -> None:
    table = DigestTable({"value": np.int64, "label": object})
    reference: dict[int, int] = {}
    rng = random.Random(7)
    digests = [key_digest(f"k{i}") for i in range(5_000)]
    for step in range(40_000):
        digest = rng.choice(digests)
        slot = table.find(digest)
        assert (slot >= 0) == (digest in reference)
        if slot >= 0:
            assert table.views["value"][slot] == reference[digest]
            assert table.columns["label"][slot] == str(reference[digest])
            if rng.random() < 0.5:
                table.remove(slot)
                del reference[digest]
        else:
            slot = table.insert(digest)
            table.views["value"][slot] = step
            table.columns["label"][slot] = str(step)
            reference[digest] = step
        assert table.count == len(reference)
    assert table.capacity <= 4 * max(len(reference), 1024)


def test_table_load_places_entries_where_find_sees_them() -> None:
    table = DigestTable({"value": np.int64})
    first = table.insert(key_digest("old"))
    table.views["value"][first] = -1
    digests = np.array([key_digest(f"k{i}") for i in range(3_000)], dtype=np.uint64)
    table.load(digests, {"value": np.arange(3_000)})
    assert table.count == 3_001
    assert table.views["value"][table.find(key_digest("old"))] == -1
    assert all(table.views["value"][table.find(int(d))] == i for i, d in enumerate(digests))


def test_table_queue_is_fifo_and_gives_memory_back() -> None:
    queue = DigestQueue()
    for i in range(10_000):
        queue.push(float(i), i + 2)
    grown = queue.nbytes
    popped = [queue.pop() for _ in range(9_990)]
    assert popped == list(range(2, 9_992))
    assert queue.head_time() == 9_990.0
    for i in range(10_000, 30_000):  # steady flow: pushes make room by compacting
        queue.push(float(i), i + 2)
        queue.pop()
    assert len(queue) == 10
    assert queue.nbytes <= grown
    while len(queue):
        queue.pop()
    assert queue.head_time() == float("inf")


def test_charged_keys_age_out_exactly_and_are_dropped_in_bulk() -> None:
    keys = ChargedKeys(retention_s=1_600.0)
    for i in range(2_000):
        keys.add(key_digest(f"k{i}"), T0 + i)
    keys.expire(T0 + 1_600)
    assert not keys.contains(key_digest("k0"))
    assert keys.contains(key_digest("k1"))
    assert len(keys) == 2_000  # aged out logically, not yet dropped
    keys.expire(T0 + 1_600 + 101)  # the oldest is 1/16 of the window past due
    assert len(keys) == 2_000 - 101 - 1
    assert keys.contains(key_digest("k102")) and not keys.contains(key_digest("k101"))
    digests, charged_s = keys.items()
    assert len(digests) == len(keys) and list(charged_s) == sorted(charged_s)


def build_ledger(**kwargs: object) -> EmbeddedLedger:
    ledger = EmbeddedLedger(**kwargs)  # type: ignore[arg-type]
    ledger.set_budgets({"c1": Budget(total_micros=10**15, daily_micros=10**15)})
    return ledger


def test_ledger_state_per_key_is_compact() -> None:
    ledger = build_ledger(reservation_ttl_s=300.0, expired_max_entries=20_000)
    for i in range(40_000):
        key = f"{i:020x}"
        assert ledger.reserve(key, "c1", f"ex|site:s{i % 7}|{i % 24:02d}|cr", 5_000, T0 + i / 100)
        if i % 2 == 0:
            assert ledger.charge(key, 4_000, T0 + i / 100) is ChargeResult.CHARGED
    ledger.expire(T0 + 400 + 300)  # every hold left has expired; the cap keeps 20,000
    memory = ledger.memory()
    assert (memory["holds_live"], memory["holds_expired"]) == (0, 20_000)
    assert memory["charged_keys"] == 20_000
    assert memory["holds_bytes"] / 20_000 < 250  # Python str + tuple + dict + heap: ~450
    assert memory["charged_bytes"] / 20_000 < 70  # Python str + float + dict: ~200


def test_ledger_expired_holds_are_chargeable_until_the_cap_drops_them() -> None:
    ledger = build_ledger(reservation_ttl_s=10.0, expired_max_entries=3)
    for i in range(5):
        ledger.reserve(f"a/{i}", "c1", "x", 100, T0 + i)
    ledger.release("a/3", T0 + 5)
    assert ledger.expire(T0 + 14) == 4
    assert ledger.memory()["holds_expired"] == 3
    assert ledger.charge("a/0", 100, T0 + 15) is ChargeResult.UNKNOWN
    assert [ledger.charge(f"a/{i}", 100, T0 + 15) for i in (1, 2, 4)] == [ChargeResult.CHARGED] * 3


def test_ledger_reads_a_version_1_snapshot_of_key_strings(tmp_path: Path) -> None:
    path = tmp_path / "ledger.journal"
    header = {"type": "header", "version": 1, "generation": 1, "timezone": "UTC"}
    spend = {"type": "spend", "campaign": "c1", "arm": "x", "day": "2026-05-28", "micros": 700}
    keys = {"type": "keys", "keys": [["a/1", T0], ["a/2", T0 + 1]]}
    end = {"type": "end", "spend_records": 1, "key_count": 2}
    path.with_name("ledger.journal.snapshot").write_bytes(
        b"".join(render_line(r) for r in (header, spend, keys, end))
    )
    path.write_bytes(render_line(header))
    with EmbeddedLedger(path) as ledger:
        assert ledger.is_charged("a/1") and ledger.is_charged("a/2")
        assert not ledger.is_charged("a/3")
        assert ledger.total_charged_micros() == 700
        ledger.snapshot(T0 + 2)
    snapshot = path.with_name("ledger.journal.snapshot").read_bytes()
    assert b'"type":"digests"' in snapshot and b"a/1" not in snapshot
    with EmbeddedLedger(path) as again:
        assert again.is_charged("a/1") and again.is_charged("a/2")


@pytest.mark.parametrize("field", ["d", "t"])
def test_ledger_snapshot_with_damaged_digests_record_raises(tmp_path: Path, field: str) -> None:
    from bidder.ledger import JournalError

    path = tmp_path / "ledger.journal"
    header = {"type": "header", "version": 2, "generation": 1, "timezone": "UTC"}
    digests = {"type": "digests", "d": "AAAAAAAAAAA=", "t": "AAAAAAAAAAA="}  # digest 0
    digests[field] = "not base64!"
    end = {"type": "end", "spend_records": 0, "key_count": 1}
    path.with_name("ledger.journal.snapshot").write_bytes(
        b"".join(render_line(r) for r in (header, digests, end))
    )
    with pytest.raises(JournalError, match="line 2"):
        EmbeddedLedger(path)


def test_ledger_key_views_answer_in_for_held_expired_and_charged_keys() -> None:
    ledger = build_ledger(reservation_ttl_s=10.0)
    for key in ("a/1", "a/2", "a/3"):
        ledger.reserve(key, "c1", "x", 100, T0)
    ledger.charge("a/2", 100, T0)
    ledger.expire(T0 + 5)
    ledger.reserve("a/4", "c1", "x", 100, T0 + 5)
    ledger.expire(T0 + 10)
    assert ["a/4" in ledger._reservations, "a/1" in ledger._reservations] == [True, False]
    assert ["a/1" in ledger._expired, "a/4" in ledger._expired] == [True, False]
    assert ["a/2" in ledger._charged, "a/1" in ledger._charged, 3 in ledger._charged] == [
        True,
        False,
        False,
    ]


def test_table_key_digest_memo_gives_the_computed_digest_and_stays_bounded() -> None:
    import hashlib

    from bidder.ledger import table

    keys = [f"bid-{i}" for i in range(table.RECENT_DIGESTS_MAX + 10)]
    for key in keys + keys[:50]:  # the last 50 are answered by the memo (or recomputed)
        raw = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        assert key_digest(key) == (raw if raw > TOMBSTONE else raw + 2)
    assert len(table._RECENT_DIGESTS) <= table.RECENT_DIGESTS_MAX


def test_table_presized_capacity_is_the_floor_of_every_rebuild() -> None:
    table = DigestTable({"v": np.int64}, capacity=5_000)
    assert table.capacity == 8_192  # rounded up to a power of two
    digests = [key_digest(f"p/{i}") for i in range(3_000)]
    for d in digests:
        table.insert(d)
    for d in digests:
        table.remove(table.find(d))
    table.rebuild()  # nothing live: an unsized table would shrink to its minimum here
    assert table.capacity == 8_192
    assert DigestTable({"v": np.int64}).capacity == 1 << 10


def test_table_queue_never_shrinks_below_its_presized_capacity() -> None:
    queue = DigestQueue(4_096)
    sized = queue.nbytes
    for round_ in range(3):
        for i in range(10_000):
            queue.push(float(i), i + 2)
        while len(queue):
            queue.pop()
        queue.push(0.0, 2)  # a push at the end of the arrays makes room: shrink or not
        queue.pop()
        assert queue.nbytes >= sized, round_


def test_ledger_presized_holds_memory_is_flat_while_expired_holds_accumulate() -> None:
    ledger = build_ledger(reservation_ttl_s=60.0, expired_max_entries=30_000, presize=True)
    sized = ledger.memory()["holds_bytes"]
    for i in range(90_000):
        ledger.reserve(f"{i:020x}", "c1", "arm", 5_000, T0 + i / 100)
        if i % 4 == 0:
            ledger.charge(f"{i:020x}", 4_000, T0 + i / 100)
        ledger.expire(T0 + i / 100)
    memory = ledger.memory()
    assert memory["holds_expired"] == 30_000  # the cap is full: the peak presize plans for
    assert memory["holds_bytes"] == sized
    unsized = build_ledger(reservation_ttl_s=60.0, expired_max_entries=30_000)
    assert unsized.memory()["holds_bytes"] < sized // 10
