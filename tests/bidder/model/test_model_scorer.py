"""LightGBMScorer and load_scorer: checks at load, batch scoring, unseen values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bidder.candidate import AuctionContext, Candidate
from bidder.errors import ModelError
from bidder.model.load import load_scorer
from bidder.model.train import TrainResult
from bidder.scoring import Scorer

Auction = tuple[AuctionContext, list[Candidate]]


def test_load_scorer_scores_candidates_in_unit_interval(
    trained: TrainResult, auction: Auction
) -> None:
    scorer: Scorer = load_scorer(trained.model_dir)
    ctx, candidates = auction
    p = scorer.score(ctx, candidates)
    assert p.dtype == np.float64
    assert p.shape == (8,)
    assert np.all((p >= 0) & (p <= 1))
    assert scorer.version.startswith("synth-small-")


def test_scorer_score_matches_encoded_batch(trained: TrainResult, auction: Auction) -> None:
    from bidder.features import raw_from_candidate

    scorer = load_scorer(trained.model_dir)
    ctx, candidates = auction
    x = scorer.encoder.encode([raw_from_candidate(ctx, c) for c in candidates])
    np.testing.assert_allclose(scorer.score(ctx, candidates), scorer.score_encoded(x), atol=0)
    one = scorer.score(ctx, candidates[:1])
    assert one[0] == pytest.approx(scorer.score(ctx, candidates)[0], abs=1e-12)


def test_scorer_grows_buffer_for_large_batches(trained: TrainResult, auction: Auction) -> None:
    scorer = load_scorer(trained.model_dir)
    ctx, candidates = auction
    many = candidates * 20
    p = scorer.score(ctx, many)
    np.testing.assert_allclose(p[:8], p[8:16])


def test_scorer_ranks_the_known_interaction(trained: TrainResult, auction: Auction) -> None:
    """Creative c2 on 728x90 has +1.5 log-odds in the market: it must score highest."""
    scorer = load_scorer(trained.model_dir)
    ctx, candidates = auction
    p = scorer.score(ctx, candidates[:3])  # c1, c2, c3 with the same floor bucket family
    assert int(np.argmax(p)) == 1


def _copy(trained: TrainResult, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(trained.model_dir, target)
    return target


def test_load_scorer_missing_files_raise(trained: TrainResult, tmp_path: Path) -> None:
    target = _copy(trained, tmp_path)
    (target / "calibration.json").unlink()
    with pytest.raises(ModelError, match=r"missing calibration\.json"):
        load_scorer(target)
    with pytest.raises(ModelError, match=r"missing model\.txt"):
        load_scorer(tmp_path / "nowhere")


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("file", "changes", "message"),
    [
        ("metadata.json", {"schema_hash": "0123456789abcdef"}, "does not match the running"),
        ("canary.json", {"expected": [0.5] * 16}, "differently from training"),
        ("canary.json", {"rows": [[0.0]]}, "encoder width"),
        ("calibration.json", {"y": [0.0, 2.0]}, "bad encoder or calibration"),
        ("calibration.json", {"x": [0.0, 1.0], "y": [0.5, 7.0]}, "bad encoder or calibration"),
    ],
)
def test_load_scorer_failed_checks_raise(
    trained: TrainResult, tmp_path: Path, file: str, changes: dict[str, object], message: str
) -> None:
    target = _copy(trained, tmp_path)
    _edit_json(target / file, **changes)
    with pytest.raises(ModelError, match=message):
        load_scorer(target)


def test_load_scorer_corrupt_model_raises(trained: TrainResult, tmp_path: Path) -> None:
    target = _copy(trained, tmp_path)
    (target / "model.txt").write_text("not a model")
    with pytest.raises(ModelError, match=r"cannot load model\.txt"):
        load_scorer(target)


def test_load_scorer_rejects_non_rtb_feature_spec(trained: TrainResult, tmp_path: Path) -> None:
    target = _copy(trained, tmp_path)
    encoder = json.loads((target / "encoder.json").read_text())
    encoder["spec"]["name"] = "criteo"
    (target / "encoder.json").write_text(json.dumps(encoder))
    with pytest.raises(ModelError, match="'criteo' features"):
        load_scorer(target)


@pytest.mark.parametrize("predictor", ["booster", "compiled"])
def test_scorer_score_many_equals_one_call_per_request(
    trained: TrainResult, auction: Auction, predictor: str
) -> None:
    from bidder.scoring import PriorScorer, score_jobs

    scorer = load_scorer(trained.model_dir, predictor)
    ctx, candidates = auction
    jobs = [(ctx, candidates[:3]), (ctx, candidates[3:4]), (ctx, candidates[4:])]
    batched = score_jobs(scorer, jobs)
    assert [len(p) for p in batched] == [3, 1, 4]
    for (job_ctx, job_candidates), p in zip(jobs, batched, strict=True):
        np.testing.assert_allclose(p, scorer.score(job_ctx, job_candidates), rtol=0, atol=1e-12)
    prior = score_jobs(PriorScorer(), jobs)  # scorers without score_many: one call each
    assert [len(p) for p in prior] == [3, 1, 4]
