from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.seen_clicks import SeenClicks


def test_a_key_counts_once() -> None:
    seen = SeenClicks(capacity=3)
    assert seen.first("a")
    assert not seen.first("a")
    assert "a" in seen
    assert len(seen) == 1


def test_the_oldest_key_leaves_first_at_capacity() -> None:
    seen = SeenClicks(capacity=2)
    assert seen.first("a") and seen.first("b")
    assert not seen.first("a")  # a repeat does not refresh its place
    assert seen.first("c")  # "a" leaves: it is the oldest
    assert "a" not in seen and "b" in seen and "c" in seen
    assert len(seen) == 2
    assert seen.first("a")  # forgotten, so it counts again


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        SeenClicks(capacity=0)


@given(st.lists(st.sampled_from("abcdefgh"), max_size=60), st.integers(1, 5))
def test_matches_a_fifo_model(keys: list[str], capacity: int) -> None:
    seen = SeenClicks(capacity)
    model: list[str] = []
    for key in keys:
        expected = key not in model
        if expected:
            model.append(key)
            if len(model) > capacity:
                model.pop(0)
        assert seen.first(key) is expected
        assert len(seen) == len(model) <= capacity
        assert all(k in seen for k in model)
