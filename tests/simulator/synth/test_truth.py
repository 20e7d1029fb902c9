"""Ground-truth CTR: level, structure (main effects and interactions), oracle helpers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.synth.generate import auc
from simulator.synth.inventory import SIZE_GROUPS
from simulator.synth.market import TARGET_CTR, MarketRows, World, draw_market


@pytest.fixture(scope="module")
def rows(world: World) -> MarketRows:
    return draw_market(world, 100_000, seed=5)


def test_truth_ctr_level_realistic(rows: MarketRows) -> None:
    mean = float(rows.true_ctr.mean())
    assert 0.0005 <= mean <= 0.01
    assert mean == pytest.approx(TARGET_CTR, rel=0.1)  # the default level (0.8 %)
    assert 0.0005 <= rows.click.mean() <= 0.01


def test_truth_clicks_follow_true_ctr(rows: MarketRows) -> None:
    expected = rows.true_ctr.sum()
    assert abs(rows.click.sum() - expected) < 5 * np.sqrt(expected)


def test_truth_auc_informative(rows: MarketRows) -> None:
    assert 0.65 < auc(rows.click, rows.true_ctr) < 0.95


def test_truth_tag_lift_differs_across_size_groups(world: World, rows: MarketRows) -> None:
    truth = world.truth
    spread = np.ptp(truth.tag_x_size_group, axis=1)
    tag = int(np.argmax(spread))
    x = rows.features
    on = x.tags.copy()
    on[:, tag] = True
    off = x.tags.copy()
    off[:, tag] = False
    lift = truth.logit(dataclasses.replace(x, tags=on)) - truth.logit(
        dataclasses.replace(x, tags=off)
    )
    group = truth.size_group_of[x.size]
    per_group = [lift[group == g].mean() for g in range(len(SIZE_GROUPS)) if np.any(group == g)]
    assert len(per_group) >= 2
    assert max(per_group) - min(per_group) > 0.2


def test_truth_creative_effect_depends_on_position(world: World, rows: MarketRows) -> None:
    by_creative = world.truth.ctr_by_creative(rows.features)
    best = by_creative.argmax(axis=1)
    pos = rows.features.position
    # the best creative is not the same everywhere: it changes with position or campaign
    assert len({(int(b), int(p)) for b, p in zip(best, pos, strict=True)}) > 3
    ratio = by_creative.max(axis=1) / by_creative.min(axis=1)
    assert np.median(ratio) > 1.3  # some creatives are clearly better


def test_truth_ctr_by_creative_matches_own_creative(world: World, rows: MarketRows) -> None:
    x = rows.features
    by_creative = world.truth.ctr_by_creative(x)
    own = by_creative[np.arange(len(x.creative)), x.creative % world.creatives_per_campaign]
    np.testing.assert_allclose(own, world.truth.ctr(x), rtol=1e-9)


def test_truth_category_hour_interaction_present(world: World) -> None:
    table = world.truth.category_x_hour_block
    assert np.ptp(table, axis=1).min() > 0.1  # every category has an hour profile of its own


def test_truth_main_effects_vary(world: World) -> None:
    t = world.truth
    for name in ("exchange", "domain", "size", "position", "hour", "city", "tag", "creative"):
        assert np.std(getattr(t, name)) > 0.02, name
