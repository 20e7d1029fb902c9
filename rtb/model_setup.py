"""Which scorer the server runs: the configured model, a freshly built default, or priors."""

from __future__ import annotations

import logging
from pathlib import Path

from bidder.config.model import Config
from bidder.scoring import PriorScorer, Scorer

log = logging.getLogger(__name__)


def resolve_scorer(config: Config, *, allow_build: bool) -> Scorer:
    """Load ``model.path``; build the default model first if it is missing and allowed."""
    model_path = config.model.path
    if model_path is None:
        log.info("no model configured: pricing uses each campaign's prior CTR")
        return PriorScorer()
    path = Path(model_path)
    if not (path / "model.txt").exists():
        if not (allow_build and config.model.build_if_missing):
            log.warning("model %s not found: pricing uses priors", path)
            return PriorScorer()
        try:
            from rtb.default_model import build_default_model
        except ImportError:
            log.warning("model building is not available yet: pricing uses priors")
            return PriorScorer()
        build_default_model(path)
    from bidder.model.scorer import load_scorer

    return load_scorer(path, config.model.predictor)
