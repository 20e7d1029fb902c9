"""rlb_cond / rlb_mix: calibration fit, pCTR classes, bids, and the sample they need."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bidder.strategies import (
    AuctionSample,
    MarketTrainStats,
    SampledTrainStats,
    StrategyError,
    TrainStats,
    build_strategy,
)
from bidder.strategies.rlb_cond import N_CLASSES, fit_classes, fit_logistic, running_ratio
from optimizer.value_function import market_price_pdf
from simulator.rlb import ReplayConfig, Stream, parse_stream, replay, sampled_stats

COUNTS = (0, 0, 3, 9, 12, 8, 5, 4, 3, 2, 1)


def synthetic_sample(n: int = 20_000, seed: int = 3) -> AuctionSample:
    """Clicks with logit ``-3 + log(pCTR / 0.01)``; dearer prices for higher pCTR."""
    rng = np.random.default_rng(seed)
    pctr = 0.01 * np.exp(rng.normal(0.0, 1.0, n))
    click = rng.random(n) < 1.0 / (1.0 + np.exp(3.0 - np.log(pctr / 0.01)))
    price = np.clip(np.round(5 + 2 * np.log(pctr / 0.01) + rng.normal(0, 2, n)), 0, 10)
    return AuctionSample(click.astype(np.float64), price.astype(np.float64), pctr)


def stats_with(sample: AuctionSample | None) -> SampledTrainStats:
    return SampledTrainStats(
        impressions=1000, clicks=20, cost=5000.0, price_counts=COUNTS, sample=sample
    )


def test_running_ratio_divides_by_mean_so_far() -> None:
    ratio = running_ratio(np.array([0.1, 0.3, 0.2, 0.0]))
    np.testing.assert_allclose(ratio, [1.0, 1.5, 1.0, 0.0])


def test_fit_logistic_recovers_coefficients() -> None:
    sample = synthetic_sample()
    intercept, slope = fit_logistic(np.log(sample.pctr / 0.01), sample.click)
    assert intercept == pytest.approx(-3.0, abs=0.1)
    assert slope == pytest.approx(1.0, abs=0.1)


def test_fit_classes_equal_mass_rising_ctr_and_price() -> None:
    pdf = market_price_pdf(COUNTS)
    classes = fit_classes(synthetic_sample(), pdf, conditional_prices=True)
    np.testing.assert_allclose(classes.weights, np.full(N_CLASSES, 1 / N_CLASSES))
    assert (np.diff(classes.thetas) > 0).all()
    mean_price = classes.pdfs @ np.arange(classes.pdfs.shape[1])
    assert (np.diff(mean_price) > 0).all()


def test_rlb_mix_prices_every_class_on_training_landscape() -> None:
    pdf = market_price_pdf(COUNTS)
    classes = fit_classes(synthetic_sample(), pdf, conditional_prices=False)
    for row in classes.pdfs:
        np.testing.assert_array_equal(row, pdf)


@pytest.mark.parametrize("name", ["rlb_cond", "rlb_mix"])
def test_rlb_cond_bid_rises_with_relative_pctr(name: str) -> None:
    strategy = build_strategy(name, {}, stats_with(synthetic_sample()))
    bids = []
    for probe in (0.001, 0.01, 0.05, 0.2):
        policy = strategy.plan(50, 40, 300)
        for pctr in (0.01, 0.02, 0.005):
            policy.bid_at(pctr, 40, 50)
        bids.append(policy.bid_at(probe, 39, 50))
    assert bids == sorted(bids)
    assert bids[0] < bids[-1]
    assert all(0 <= b <= 50 for b in bids)


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        (
            MarketTrainStats(impressions=1000, clicks=20, cost=5000.0, price_counts=COUNTS),
            "train_stats.sample: rlb_cond needs a labelled sample",
        ),
        (stats_with(None), "train_stats.sample: rlb_cond needs a labelled sample"),
        (
            stats_with(AuctionSample(np.zeros(10), np.ones(10), np.full(10, 0.01))),
            "train_stats.sample: needs at least one click",
        ),
        (
            stats_with(AuctionSample(np.ones(3), np.ones(3), np.full(3, 0.01))),
            f"train_stats.sample: need >= {N_CLASSES} rows of equal length",
        ),
    ],
)
def test_rlb_cond_rejects_missing_or_unusable_sample(stats: MarketTrainStats, message: str) -> None:
    with pytest.raises(StrategyError) as info:
        build_strategy("rlb_cond", {}, stats)
    assert message in "; ".join(info.value.lines())


def test_rlb_cond_fitted_on_2997_validation_scores_on_test(
    shared_data: Path, test_stream: tuple[Stream, TrainStats]
) -> None:
    """c0 = 1/64: 49 clicks, cost 153,324 (RLB 54; budget-strategies-2026-12-03.md)."""
    test, stats = test_stream
    validation = parse_stream(shared_data / "ipinyou/rlb-dp/streams/2997.validation.txt")
    fitted = sampled_stats(stats, validation)
    totals = replay(test, build_strategy("rlb_cond", {}, fitted), fitted, ReplayConfig(1 / 64))
    assert (int(totals.clicks.sum()), int(totals.spend.sum())) == (49, 153324)
