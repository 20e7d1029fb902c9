"""EmbeddedTagStore: per-tag expiry, interning, purge and persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from bidder.stores import EmbeddedTagStore, StoreFileError, TagStore

T0 = 1_780_000_000.0


def test_tags_store_satisfies_protocol() -> None:
    store: TagStore = EmbeddedTagStore()
    assert store.tags("u", T0) == frozenset()


def test_tags_each_tag_expires_on_its_own() -> None:
    store = EmbeddedTagStore()
    store.add("u1", ["sports", "autos"], 100, T0)
    store.add("u1", ["travel"], 1_000, T0)
    assert store.tags("u1", T0 + 99) == {"sports", "autos", "travel"}
    assert store.tags("u1", T0 + 100) == {"travel"}
    assert store.tags("u1", T0 + 1_000) == frozenset()
    assert store.tags("u2", T0) == frozenset()


def test_tags_add_again_sets_new_expiry() -> None:
    store = EmbeddedTagStore()
    store.add("u1", ["sports"], 100, T0)
    store.add("u1", ["sports"], 500, T0 + 50)
    assert store.tags("u1", T0 + 549) == {"sports"}
    store.add("u1", ["sports"], 10, T0 + 50)
    assert store.tags("u1", T0 + 60) == frozenset()


def test_tags_strings_are_interned() -> None:
    store = EmbeddedTagStore()
    store.add("u1", ["".join(["spo", "rts"])], 100, T0)
    store.add("u2", ["".join(["sp", "orts"])], 100, T0)
    (first,) = store.tags("u1", T0)
    (second,) = store.tags("u2", T0)
    assert first is second


def test_tags_remove() -> None:
    store = EmbeddedTagStore()
    store.add("u1", ["a", "b"], 100, T0)
    assert store.remove("u1", "a")
    assert not store.remove("u1", "a")
    assert not store.remove("u1", "never")
    assert not store.remove("nobody", "b")
    assert store.tags("u1", T0) == {"b"}
    assert store.remove("u1", "b")
    assert store.user_count() == 0


def test_tags_add_rejects_non_positive_ttl() -> None:
    with pytest.raises(ValueError, match="ttl_s must be > 0, got 0"):
        EmbeddedTagStore().add("u1", ["a"], 0, T0)


def test_tags_purge_drops_expired_tags_and_users() -> None:
    store = EmbeddedTagStore()
    store.add("u1", ["a"], 10, T0)
    store.add("u2", ["a"], 10, T0)
    store.add("u2", ["b"], 100, T0)
    assert store.purge(T0 + 50) == 1
    assert store.user_count() == 1
    assert store.tags("u2", T0 + 50) == {"b"}


def test_tags_save_load_round_trip(tmp_path: Path) -> None:
    store = EmbeddedTagStore()
    store.add("u1", ["a", "b"], 10, T0)
    store.add("u2", ["c"], 1_000, T0)
    path = tmp_path / "tags.json"
    store.save(path)
    loaded = EmbeddedTagStore()
    assert loaded.load(path) == 2
    assert loaded.tags("u1", T0 + 5) == {"a", "b"}
    assert loaded.tags("u2", T0 + 500) == {"c"}
    loaded.add("u3", ["a", "d"], 10, T0)
    assert loaded.tags("u3", T0) == {"a", "d"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"kind": "freqcap", "version": 1}', "expected a 'tags' file of version 1"),
        (b'{"kind": "tags", "version": 1, "tags": ["a"], "users": {"u": [0]}}', "pairs"),
        (
            b'{"kind": "tags", "version": 1, "tags": ["a"], "users": {"u": [3, 5]}}',
            "tag index out of range",
        ),
    ],
)
def test_tags_load_rejects_bad_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "tags.json"
    path.write_bytes(content)
    with pytest.raises(StoreFileError, match=message):
        EmbeddedTagStore().load(path)
