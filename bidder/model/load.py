"""load_scorer: a model directory written by ``rtb train`` -> a checked LightGBMScorer.

Every failure is a ``ModelError`` naming the directory and the problem: missing files,
unreadable JSON or booster, a feature schema that differs from the running code, a
model trained on another feature spec, or canary rows that score non-finite, outside
[0, 1], or differently from training time.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Final

import numpy as np

from bidder.errors import ModelError
from bidder.features import RTB_SPEC, FeatureEncoder, schema_hash
from bidder.model.calibration import Calibration
from bidder.model.scorer import BoosterPredictor, LightGBMScorer, RawPredictor
from bidder.model.train import (
    CALIBRATION_FILE,
    CANARY_FILE,
    ENCODER_FILE,
    METADATA_FILE,
    MODEL_FILE,
)

REQUIRED_FILES: Final = (MODEL_FILE, ENCODER_FILE, CALIBRATION_FILE, METADATA_FILE, CANARY_FILE)
CANARY_TOLERANCE: Final = 1e-6

log = logging.getLogger(__name__)


def load_scorer(path: str | Path, predictor: str = "booster") -> LightGBMScorer:
    """Load, check and warm the model in ``path``.

    ``predictor`` is ``booster`` (``lightgbm.Booster.predict``), ``compiled`` (the
    tl2cgen shared library next to the model, built on first use, see
    ``bidder.model.compiled``) or ``auto`` (compiled, falling back to the booster when
    it cannot be built or fails its canary check).
    """
    if predictor == "auto":
        try:
            return load_scorer(path, "compiled")
        except ModelError as exc:
            log.warning("compiled predictor unavailable, using the booster: %s", exc)
            return load_scorer(path, "booster")
    model_dir = Path(path)
    missing = [f for f in REQUIRED_FILES if not (model_dir / f).is_file()]
    if missing:
        raise ModelError(f"model {model_dir}: missing {', '.join(missing)} (run `rtb train`)")
    metadata = _read_json(model_dir, METADATA_FILE)
    running = schema_hash(RTB_SPEC)
    if metadata.get("schema_hash") != running:
        raise ModelError(
            f"model {model_dir}: feature schema {metadata.get('schema_hash')} does not match "
            f"the running feature code ({running}); retrain with `rtb train`"
        )
    try:
        encoder = FeatureEncoder.from_json(_read_json(model_dir, ENCODER_FILE))
        calibration = Calibration.from_json(_read_json(model_dir, CALIBRATION_FILE))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model {model_dir}: bad encoder or calibration: {exc}") from exc
    if encoder.spec != RTB_SPEC:
        raise ModelError(
            f"model {model_dir}: trained on {encoder.spec.name!r} features, "
            "which cannot score OpenRTB candidates"
        )
    raw_predictor = _build_predictor(model_dir, predictor)
    version = f"{model_dir.name}-{str(metadata.get('model_id', ''))[:8]}"
    scorer = LightGBMScorer(encoder, raw_predictor, calibration, version)
    _check_canary(model_dir, scorer)
    return scorer


def _read_json(model_dir: Path, name: str) -> dict[str, Any]:
    try:
        data = json.loads((model_dir / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model {model_dir}: cannot read {name}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"model {model_dir}: {name} is not a JSON object")
    return data


def _build_predictor(model_dir: Path, kind: str) -> RawPredictor:
    if kind == "compiled":
        from bidder.model.compiled import load_compiled

        return load_compiled(model_dir)
    if kind != "booster":
        raise ModelError(f"unknown predictor {kind!r}: expected booster, compiled or auto")
    import lightgbm as lgb

    try:
        booster = lgb.Booster(model_file=str(model_dir / MODEL_FILE))
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"model {model_dir}: cannot load {MODEL_FILE}: {exc}") from exc
    return BoosterPredictor(booster)


def _check_canary(model_dir: Path, scorer: LightGBMScorer) -> None:
    """Score the saved canary rows (this also warms the predictor)."""
    canary = _read_json(model_dir, CANARY_FILE)
    try:
        rows = np.asarray(canary["rows"], dtype=np.float32)
        expected = np.asarray(canary["expected"], dtype=np.float64)
    except (KeyError, ValueError) as exc:
        raise ModelError(f"model {model_dir}: bad {CANARY_FILE}: {exc}") from exc
    if rows.ndim != 2 or rows.shape[1] != scorer.encoder.n_columns:
        raise ModelError(f"model {model_dir}: canary rows do not match the encoder width")
    try:
        got = scorer.score_encoded(rows)
    except Exception as exc:
        raise ModelError(f"model {model_dir}: canary prediction failed: {exc}") from exc
    if not np.all(np.isfinite(got)) or np.any(got < 0) or np.any(got > 1):
        raise ModelError(f"model {model_dir}: canary rows score non-finite or outside [0, 1]")
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=CANARY_TOLERANCE):
        raise ModelError(
            f"model {model_dir}: canary rows score differently from training time "
            f"(max diff {np.max(np.abs(got - expected)) if got.shape == expected.shape else 'n/a'})"
        )
