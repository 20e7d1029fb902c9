"""remember(): the one bounded-memo policy of the bid path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bidder.memo import remember


@given(st.lists(st.integers(0, 50)), st.integers(1, 8))
def test_remember_never_holds_more_than_its_bound_and_keeps_the_last_key(
    keys: list[int], bound: int
) -> None:
    cache: dict[int, str] = {}
    for key in keys:
        assert remember(cache, bound, key, f"v{key}") == f"v{key}"
        assert cache[key] == f"v{key}"  # the newest entry is always there
        assert len(cache) <= bound


def test_remember_empties_a_full_table_before_storing() -> None:
    cache = {1: "a", 2: "b"}
    remember(cache, 2, 3, "c")
    assert cache == {3: "c"}
    remember(cache, 2, 4, "d")
    assert cache == {3: "c", 4: "d"}
