"""Shared fixtures: the 2997 test stream and its training statistics, parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bidder.strategies import TrainStats
from simulator.rlb import Stream, load_train_stats, parse_stream


@pytest.fixture(scope="session")
def test_stream(shared_data: Path) -> tuple[Stream, TrainStats]:
    rlb_dp = shared_data / "ipinyou" / "rlb-dp"
    stats = load_train_stats(rlb_dp / "info" / "2997.info.json")
    return parse_stream(rlb_dp / "streams" / "2997.test.txt"), stats
