"""OpenBids: the fixed-size table of the last bids, against a plain-Python model of it."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.open_bids import MAX_INDEX_LOAD, OpenBids

Value = tuple[float, str, str]


class _Model:
    """The intended semantics: a ring of the last ``capacity`` new ids (an id already kept is
    updated in place); a popped id frees nothing until the ring comes round to its row."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ring: list[str | None] = [None] * capacity
        self.head = 0
        self.kept: OrderedDict[str, Value] = OrderedDict()

    def put(self, key: str, value: Value) -> None:
        if key in self.kept:
            self.kept[key] = value
            return
        evicted = self.ring[self.head]
        if evicted is not None:
            self.kept.pop(evicted, None)
        self.ring[self.head] = key
        self.head = (self.head + 1) % self.capacity
        self.kept[key] = value

    def pop(self, key: str) -> None:
        if self.kept.pop(key, None) is not None:
            self.ring[self.ring.index(key)] = None


def test_open_bids_put_get_pop() -> None:
    bids = OpenBids(4)

    bids.put("a/1", 0.25, "banner", "cr-1")
    bids.put("b/1", 0.5, "video", "cr-2")
    bids.pop("b/1")
    bids.pop("never-seen")

    assert bids.get("a/1") == (0.25, "banner", "cr-1")
    assert bids.get("b/1") is None
    assert bids.get("c/1") is None
    assert len(bids) == 1


def test_open_bids_drops_the_oldest_past_capacity() -> None:
    bids = OpenBids(3)
    for n in range(5):
        bids.put(f"bid-{n}", n / 10, "banner", f"cr-{n}")

    assert [bids.get(f"bid-{n}") is not None for n in range(5)] == [False, False, True, True, True]
    assert len(bids) == 3


def test_open_bids_same_id_again_updates_in_place() -> None:
    bids = OpenBids(2)
    bids.put("x", 0.1, "banner", "cr-1")
    bids.put("y", 0.2, "banner", "cr-1")

    bids.put("x", 0.3, "native", "cr-2")  # keeps its age: the next new id still evicts it
    assert bids.get("x") == (0.3, "native", "cr-2") and len(bids) == 2
    bids.put("z", 0.4, "banner", "cr-1")
    assert bids.get("x") is None and bids.get("y") is not None


def test_open_bids_memory_is_fixed_at_construction() -> None:
    bids = OpenBids(1000)
    before = bids.nbytes

    for n in range(5000):
        bids.put(f"auction-{n}/1", 0.001, "banner", f"cr-{n % 7}")
        if n % 3 == 0:
            bids.pop(f"auction-{n - 1}/1")

    assert bids.nbytes == before
    assert before <= 1000 * (24 + 12 * 2 / MAX_INDEX_LOAD)  # ring rows + index slots
    assert len(bids) <= 1000


def test_open_bids_deleting_in_a_wrapped_run_keeps_the_rest_found() -> None:
    bids = OpenBids(4, _colliding_digest)  # k0, k3, k6: one home slot, the index's last
    for n in (0, 3, 6, 1):
        bids.put(f"k{n}", n / 10, "banner", "cr")

    bids.pop("k0")
    bids.pop("k6")

    assert [bids.get(f"k{n}") for n in (0, 3, 6, 1)] == [
        None, (0.3, "banner", "cr"), None, (0.1, "banner", "cr")
    ]  # fmt: skip


def test_open_bids_rejects_a_capacity_below_one() -> None:
    with pytest.raises(ValueError, match="capacity"):
        OpenBids(0)


_OPS = st.lists(
    st.tuples(st.sampled_from(["put", "pop", "get"]), st.integers(0, 15), st.integers(0, 3)),
    min_size=10,
    max_size=300,
)


def _colliding_digest(key: str) -> int:
    """Deterministic digests whose low bits (home slots) are the last three slots of the
    index: long probe runs that wrap round its end and shift back on every deletion."""
    n = int(key[1:])
    return (n << 32) | (0xFFFF - n % 3)


@given(capacity=st.integers(1, 24), ops=_OPS, colliding=st.booleans())
def test_open_bids_matches_the_model(
    capacity: int, ops: list[tuple[str, int, int]], colliding: bool
) -> None:
    bids = OpenBids(capacity, _colliding_digest) if colliding else OpenBids(capacity)
    model = _Model(capacity)
    for op, n, v in ops:
        key = f"k{n}"
        if op == "put":
            value = (v / 4, f"media-{v % 2}", f"cr-{v}")
            bids.put(key, *value)
            model.put(key, value)
        elif op == "pop":
            bids.pop(key)
            model.pop(key)
        assert bids.get(key) == model.kept.get(key)
        assert len(bids) == len(model.kept)
    for n in range(16):
        assert bids.get(f"k{n}") == model.kept.get(f"k{n}")
