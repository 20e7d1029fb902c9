"""Compiled tree predictor (treelite + tl2cgen + gcc) against LightGBM's own predict."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bidder.candidate import AuctionContext, Candidate
from bidder.errors import ModelError
from bidder.model.load import load_scorer
from bidder.model.train import TrainResult

pytest.importorskip("tl2cgen", reason="compiled predictor needs tl2cgen")
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


@pytest.fixture(scope="module")
def compiled_dir(trained: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("compiled") / "synth-small"
    shutil.copytree(trained.model_dir, target)
    return target


def test_compiled_predictor_equals_lightgbm_within_1e6(compiled_dir: Path) -> None:
    booster = load_scorer(compiled_dir, "booster")
    compiled = load_scorer(compiled_dir, "compiled")
    assert compiled.predictor.name == "compiled"
    rng = np.random.default_rng(5)
    width = booster.encoder.n_columns
    x = rng.integers(0, 25, size=(300, width)).astype(np.float32)
    x[:, -len(booster.encoder.tag_vocabulary) :] = rng.integers(0, 2, size=(300, 1))
    x[::7, 3] = np.nan  # missing values take the same branch as in LightGBM
    got = compiled.predictor.predict_raw(x)
    want = booster.predictor.predict_raw(x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_compiled_scorer_scores_like_booster(
    compiled_dir: Path, auction: tuple[AuctionContext, list[Candidate]]
) -> None:
    ctx, candidates = auction
    booster = load_scorer(compiled_dir, "booster").score(ctx, candidates)
    compiled = load_scorer(compiled_dir, "compiled").score(ctx, candidates)
    np.testing.assert_allclose(compiled, booster, rtol=0, atol=1e-9)


def test_compiled_predictor_rejects_wrong_width(compiled_dir: Path) -> None:
    compiled = load_scorer(compiled_dir, "compiled")
    with pytest.raises(ValueError, match="features"):
        compiled.predictor.predict_raw(np.zeros((2, 3), dtype=np.float32))


def test_load_scorer_auto_falls_back_to_booster(compiled_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "broken"
    shutil.copytree(compiled_dir, target)
    for lib in target.glob("predictor-*.so"):
        lib.write_bytes(b"not a library")
    assert load_scorer(target, "auto").predictor.name == "booster"
    with pytest.raises(ModelError, match="cannot load predictor"):
        load_scorer(target, "compiled")


def test_load_scorer_unknown_predictor_raises(compiled_dir: Path) -> None:
    with pytest.raises(ModelError, match="unknown predictor"):
        load_scorer(compiled_dir, "gpu")
