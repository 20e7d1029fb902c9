"""Shared synthetic worlds and small markets, built once per test session."""

from __future__ import annotations

import pytest

from simulator.synth.generate import MarketSummary, generate_market
from simulator.synth.market import World, build_world


@pytest.fixture(scope="session")
def world() -> World:
    return build_world()


@pytest.fixture(scope="session")
def small_market(world: World, tmp_path_factory: pytest.TempPathFactory) -> MarketSummary:
    out = tmp_path_factory.mktemp("synth") / "m"
    return generate_market(3000, seed=7, out_dir=out, world=world)
