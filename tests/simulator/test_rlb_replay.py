"""The rlb replay protocol: exact published iPinYou 2997 rows, the fast budget walk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.strategies import TrainStats, build_strategy
from simulator.rlb import (
    ReplayConfig,
    episode_budget,
    load_train_stats,
    parse_stream,
    replay,
    sampled_stats,
    walk_reference,
    win_mask,
)
from simulator.tune import tune


@pytest.fixture(scope="module")
def rlb_dir(shared_data: Path) -> Path:
    return shared_data / "ipinyou" / "rlb-dp"


@pytest.fixture(scope="module")
def stats_2997(rlb_dir: Path) -> TrainStats:
    return load_train_stats(rlb_dir / "info" / "2997.info.json")


@given(
    data=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=120),
    budget=st.integers(0, 200),
    episode_len=st.integers(1, 30),
)
def test_win_mask_matches_sequential_reference(
    data: list[tuple[int, int]], budget: int, episode_len: int
) -> None:
    bids = np.array([b for b, _ in data], dtype=np.int64)
    price = np.array([p for _, p in data], dtype=np.int64)
    expected = walk_reference(bids, price, budget, episode_len)
    assert np.array_equal(win_mask(bids, price, budget, episode_len), expected)


def test_parse_stream_2997_test_totals(rlb_dir: Path) -> None:
    stream = parse_stream(rlb_dir / "streams" / "2997.test.txt")
    assert len(stream) == 156_063
    assert int(stream.click.sum()) == 530
    assert int(stream.price.sum()) == 8_617_148


def test_parse_stream_markers_and_plain_files_agree(rlb_dir: Path) -> None:
    marked = parse_stream(rlb_dir / "streams" / "2997.test.txt")
    plain = parse_stream(rlb_dir / "streams" / "2997.test.theta.txt")
    assert np.array_equal(marked.price, plain.price)
    assert np.array_equal(marked.click, plain.click)


def test_episode_budget_2997_at_c0_1_32(stats_2997: TrainStats) -> None:
    assert episode_budget(stats_2997, ReplayConfig(1 / 32)) == 1969


@pytest.mark.parametrize(
    ("strategy", "params", "impressions", "clicks", "cost"),
    [
        ("lin", {"b0": 10.0}, 32_208, 71, 203_610),
        ("mcpc", {}, 14_752, 48, 307_751),
    ],
)
@pytest.mark.parametrize("file", ["2997.test.txt", "2997.test.theta.txt"])
def test_replay_2997_reproduces_published_row(
    rlb_dir: Path,
    stats_2997: TrainStats,
    file: str,
    strategy: str,
    params: dict[str, float],
    impressions: int,
    clicks: int,
    cost: int,
) -> None:
    stream = parse_stream(rlb_dir / "streams" / file)
    totals = replay(
        stream, build_strategy(strategy, params, stats_2997), stats_2997, ReplayConfig(1 / 32)
    )
    assert totals.n_episodes == 157
    assert int(totals.auctions[-1]) == 63
    assert (int(totals.impressions.sum()), int(totals.clicks.sum())) == (impressions, clicks)
    assert int(totals.spend.sum()) == cost


def test_replay_spend_never_exceeds_episode_budget(rlb_dir: Path, stats_2997: TrainStats) -> None:
    stream = parse_stream(rlb_dir / "streams" / "2997.test.txt")
    strategy = build_strategy("const", {"c": 300}, stats_2997)
    totals = replay(stream, strategy, stats_2997, ReplayConfig(1 / 32))
    assert int(totals.spend.max()) <= totals.budget == 1969


def test_tune_lin_2997_on_validation_picks_b0_8(rlb_dir: Path, stats_2997: TrainStats) -> None:
    validation = parse_stream(rlb_dir / "streams" / "2997.validation.txt")
    config = ReplayConfig(1 / 32)
    result = tune("lin", {}, validation, stats_2997, config, seed=1)
    assert result.params == {"b0": 8.0}  # the origin's grid 2, 8, 14, ...
    assert result.clicks == 162
    test = parse_stream(rlb_dir / "streams" / "2997.test.txt")
    totals = replay(test, build_strategy("lin", result.params, stats_2997), stats_2997, config)
    assert int(totals.clicks.sum()) == 63


def test_sampled_stats_keeps_training_totals_and_adds_sample(
    rlb_dir: Path, stats_2997: TrainStats
) -> None:
    validation = parse_stream(rlb_dir / "streams" / "2997.validation.txt")
    stats = sampled_stats(stats_2997, validation.slice(0, 2000))
    assert (stats.impressions, stats.clicks, stats.cost) == (
        stats_2997.impressions,
        stats_2997.clicks,
        stats_2997.cost,
    )
    assert stats.sample is not None
    assert stats.sample.pctr.size == 2000
    assert stats.sample.click.sum() == validation.click[:2000].sum()
    assert stats.problems() == []
