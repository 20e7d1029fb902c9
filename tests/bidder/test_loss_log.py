from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.ledger.table import key_digest
from bidder.loss_log import LossLog, LossRecord

_loss = st.tuples(
    st.text(min_size=1, max_size=12),
    st.sampled_from(["c1", "c2", "c3"]),
    st.integers(0, 10**12),
    st.none() | st.integers(0, 10**6),
    st.none() | st.integers(0, 10**12),
    st.floats(0, 1e9, allow_nan=False),
)


@given(st.integers(1, 7), st.lists(_loss, max_size=30))
def test_loss_log_keeps_the_last_capacity_losses_in_order(
    capacity: int, losses: list[tuple[str, str, int, int | None, int | None, float]]
) -> None:
    log = LossLog(capacity)
    for loss in losses:
        log.append(*loss)
    kept = losses[-capacity:]
    assert len(log) == len(kept)
    assert list(log) == [
        LossRecord(key_digest(k), c, b, code, mtw, at) for k, c, b, code, mtw, at in kept
    ]
    if kept:
        assert log[-1] == list(log)[-1]
        assert log[0] == next(iter(log))


def test_loss_log_index_out_of_range_is_an_index_error() -> None:
    log = LossLog(3)
    with pytest.raises(IndexError):
        log[0]
    log.append("k", "c", 1, None, None, 0.0)
    with pytest.raises(IndexError):
        log[1]
    with pytest.raises(IndexError):
        log[-2]


def test_loss_log_values_it_cannot_store_are_kept_as_not_sent() -> None:
    log = LossLog(2)
    log.append("k", "c", 1, 10**30, -5, 0.0)
    assert (log[-1].loss_code, log[-1].min_to_win_micros) == (None, None)


def test_loss_log_memory_is_fixed_at_construction() -> None:
    log = LossLog(1000)
    before = log.nbytes
    for i in range(5000):
        log.append(f"key-{i}", f"c{i % 3}", i, 102, i, float(i))
    assert log.nbytes == before == 1000 * 44
    assert len(log) == 1000 and log[0].bid_micros == 4000


def test_loss_log_refuses_a_capacity_below_one() -> None:
    with pytest.raises(ValueError, match="capacity"):
        LossLog(0)
