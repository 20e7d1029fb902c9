"""EmbeddedFrequencyStore: sliding-window counts, purge and persistence."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import given

from bidder.stores import EmbeddedFrequencyStore, FrequencyStore, StoreFileError

T0 = 1_780_000_000.0
DAY_S = 86_400


def test_freqcap_store_satisfies_protocol() -> None:
    store: FrequencyStore = EmbeddedFrequencyStore()
    assert store.count("u", "c", DAY_S, T0) == 0


def test_freqcap_count_within_window() -> None:
    store = EmbeddedFrequencyStore()
    store.record("u1", "c1", 3_600, T0)
    store.record("u1", "c1", 3_600, T0 + 60)
    assert store.count("u1", "c1", 3_600, T0 + 60) == 2
    assert store.count("u1", "c1", 3_600, T0 + 3_599) == 2
    assert store.count("u1", "c1", 3_600, T0 + 3_600) == 1
    assert store.count("u1", "c1", 3_600, T0 + 3_660) == 0
    assert store.count("u1", "c2", 3_600, T0) == 0
    assert store.count("u2", "c1", 3_600, T0) == 0


def test_freqcap_fractional_time_never_undercounts() -> None:
    store = EmbeddedFrequencyStore()
    store.record("u1", "c1", 10, T0 + 0.9)
    assert store.count("u1", "c1", 10, T0 + 10.8) == 1  # 9.9 s later: still inside


def test_freqcap_count_saturates_at_max_events() -> None:
    store = EmbeddedFrequencyStore(max_events=3)
    for i in range(5):
        store.record("u1", "c1", DAY_S, T0 + i)
    assert store.count("u1", "c1", DAY_S, T0 + 5) == 3


def test_freqcap_record_drops_events_outside_window() -> None:
    store = EmbeddedFrequencyStore(max_events=2)
    store.record("u1", "c1", 100, T0)
    store.record("u1", "c1", 100, T0 + 200)
    store.record("u1", "c1", 100, T0 + 201)
    assert store.count("u1", "c1", 100, T0 + 201) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_s": 0, "now": T0}, "window_s must be > 0, got 0"),
        ({"window_s": 10, "now": 2.0**33}, "now must be epoch seconds below 2\\*\\*32"),
    ],
)
def test_freqcap_record_invalid_arguments_raise(kwargs: dict[str, float], message: str) -> None:
    store = EmbeddedFrequencyStore()
    with pytest.raises(ValueError, match=message):
        store.record("u1", "c1", int(kwargs["window_s"]), kwargs["now"])


def test_freqcap_purge_forgets_expired_users() -> None:
    store = EmbeddedFrequencyStore()
    store.record("old", "c1", 100, T0)
    store.record("new", "c1", 100, T0 + 50)
    assert store.purge(T0 + 120) == 1
    assert store.user_count() == 1
    assert store.count("new", "c1", 100, T0 + 120) == 1


def test_freqcap_save_load_round_trip(tmp_path: Path) -> None:
    store = EmbeddedFrequencyStore()
    store.record("u1", "c1", 3_600, T0)
    store.record("u1", "c1", 3_600, T0 + 1)
    store.record("u2", "c2", DAY_S, T0)
    path = tmp_path / "freqcap.json"
    store.save(path)
    assert not path.with_name("freqcap.json.tmp").exists()
    loaded = EmbeddedFrequencyStore()
    assert loaded.load(path) == 2
    assert loaded.count("u1", "c1", 3_600, T0 + 2) == 2
    assert loaded.count("u2", "c2", DAY_S, T0 + 2) == 1
    assert loaded.purge(T0 + 3_601) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{nope", "not valid JSON"),
        (b"[]", "top level is not an object"),
        (b'{"kind": "tags", "version": 1}', "expected a 'freqcap' file of version 1"),
        (b'{"kind": "freqcap", "version": 1, "campaigns": {"c": {}}}', "malformed entry"),
        (
            b'{"kind":"freqcap","version":1,"campaigns":{"c":{"window_s":5,"users":{"u":[-1]}}}}',
            "event time must be an int",
        ),
    ],
)
def test_freqcap_load_rejects_bad_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "freqcap.json"
    path.write_bytes(content)
    with pytest.raises(StoreFileError, match=message):
        EmbeddedFrequencyStore().load(path)


@given(offsets_s=st.lists(st.integers(0, 2_000), max_size=20), window_s=st.integers(1, 500))
def test_freqcap_count_matches_naive_window(offsets_s: list[int], window_s: int) -> None:
    store = EmbeddedFrequencyStore(max_events=32)
    seen: list[float] = []
    now = T0
    for offset in sorted(offsets_s):
        now = T0 + offset
        store.record("u", "c", window_s, now)
        seen.append(now)
    assert store.count("u", "c", window_s, now) == sum(1 for t in seen if now - t < window_s)
