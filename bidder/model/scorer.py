"""LightGBMScorer: the Scorer seam backed by a trained, calibrated LightGBM model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from bidder.candidate import AuctionContext, Candidate
from bidder.features import FeatureEncoder
from bidder.model.calibration import Calibration


class RawPredictor(Protocol):
    """Raw (log-odds) scores for a ``(n, n_features)`` float32 batch, shape ``(n,)``."""

    name: str

    def predict_raw(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]: ...


class BoosterPredictor:
    """``lightgbm.Booster.predict`` on one thread (OpenMP fan-out costs more than it saves
    on the few rows of one request)."""

    name = "booster"

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict_raw(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = self.booster.predict(x, raw_score=True, num_threads=1)
        return out


class LightGBMScorer:
    """Calibrated pCTR for every candidate of a request, in one predict call.

    Built by ``bidder.model.load.load_scorer``, which has checked the model. Holds a
    preallocated feature buffer, so one instance must not score from two threads at once
    (the bidder scores synchronously inside ``decide``).
    """

    def __init__(
        self,
        encoder: FeatureEncoder,
        predictor: RawPredictor,
        calibration: Calibration,
        version: str,
        max_batch: int = 64,
    ) -> None:
        self.encoder = encoder
        self.predictor = predictor
        self.calibration = calibration
        self._version = version
        self._buffer = np.zeros((max_batch, encoder.n_columns), dtype=np.float32)

    @property
    def version(self) -> str:
        return self._version

    def score(
        self, ctx: AuctionContext, candidates: Sequence[Candidate]
    ) -> npt.NDArray[np.float64]:
        return self.score_many([(ctx, candidates)])[0]

    def score_many(
        self, jobs: Sequence[tuple[AuctionContext, Sequence[Candidate]]]
    ) -> list[npt.NDArray[np.float64]]:
        """``score`` of several requests in one predictor call: a tree ensemble is cold in
        the CPU caches after the rest of a request's work, and warm for the next rows."""
        n = sum(len(candidates) for _, candidates in jobs)
        if n > len(self._buffer):
            self._buffer = np.zeros((n, self.encoder.n_columns), dtype=np.float32)
        x = self._buffer[:n]
        self.encoder.encode_candidates_into(x, jobs)
        pctrs = self.calibration.apply(self.predictor.predict_raw(x))
        out: list[npt.NDArray[np.float64]] = []
        start = 0
        for _, candidates in jobs:
            out.append(pctrs[start : start + len(candidates)])
            start += len(candidates)
        return out

    def score_encoded(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Calibrated pCTR of already-encoded rows (simulator and benchmarks)."""
        return self.calibration.apply(self.predictor.predict_raw(x))


def load_scorer(path: str | Path, predictor: str = "booster") -> LightGBMScorer:
    """Alias of ``bidder.model.load.load_scorer`` (see there)."""
    from bidder.model.load import load_scorer as load

    return load(path, predictor)
