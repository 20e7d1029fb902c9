"""Market draws: marginals followed, prices plausible and correlated, seeds independent."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.synth.market import MarketRows, World, build_world, draw_market, hour_weekday


@pytest.fixture(scope="module")
def rows(world: World) -> MarketRows:
    return draw_market(world, 60_000, seed=9)


def test_market_hour_profile_follows_marginal(world: World, rows: MarketRows) -> None:
    hour, _ = hour_weekday(rows.local_ms)
    observed = np.bincount(hour, minlength=24) / len(rows)
    total_variation = 0.5 * np.abs(observed - world.marginals.hour_probs).sum()
    assert total_variation < 0.03


def test_market_exchange_mix_follows_marginal(world: World, rows: MarketRows) -> None:
    observed = np.bincount(rows.features.exchange) / len(rows)
    expected = [e.share for e in world.marginals.exchanges]
    np.testing.assert_allclose(observed, expected, atol=0.02)


def test_market_domain_popularity_heavy_tailed(world: World, rows: MarketRows) -> None:
    counts = np.sort(np.bincount(rows.features.domain))[::-1]
    assert len(world.inventory.domain_names) >= 200
    assert counts[:10].sum() > 0.3 * len(rows)  # a few domains carry much of the traffic


def test_market_price_correlated_with_floor_and_ctr(rows: MarketRows) -> None:
    mp = rows.market_price
    assert mp.min() >= 0 and mp.max() <= 300
    assert 30 < np.median(mp) < 120
    assert np.corrcoef(mp, np.log1p(rows.features.floor_fen))[0, 1] > 0.15
    assert np.corrcoef(mp, np.log(rows.true_ctr))[0, 1] > 0.05


def test_market_logged_bidder_wins_some(rows: MarketRows) -> None:
    win = (rows.bidprice >= rows.market_price).mean()
    assert 0.1 < win < 0.9


def test_market_times_sorted_within_week(rows: MarketRows) -> None:
    assert np.all(np.diff(rows.local_ms) >= 0)
    assert rows.local_ms.min() >= 0 and rows.local_ms.max() < 7 * 86_400_000


def test_market_same_seed_same_rows(world: World) -> None:
    a, b = draw_market(world, 500, seed=3), draw_market(world, 500, seed=3)
    np.testing.assert_array_equal(a.true_ctr, b.true_ctr)
    np.testing.assert_array_equal(a.bidid, b.bidid)
    c = draw_market(world, 500, seed=4)
    assert not np.array_equal(a.true_ctr, c.true_ctr)


def test_build_world_other_campaign_counts_keep_placement_effects(world: World) -> None:
    other = build_world(campaigns=5, creatives_per_campaign=2)
    np.testing.assert_array_equal(other.truth.domain, world.truth.domain)
    np.testing.assert_array_equal(other.inventory.slot_ids, world.inventory.slot_ids)
    assert other.truth.creative.shape == (10,)


@pytest.mark.parametrize(("campaigns", "creatives"), [(0, 3), (3, 0)])
def test_build_world_rejects_empty_ads(campaigns: int, creatives: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        build_world(campaigns=campaigns, creatives_per_campaign=creatives)
