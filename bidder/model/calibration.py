"""Calibration map: booster raw score (log-odds) -> click probability, piecewise linear.

Both fitting methods end in the same form, a monotone table of ``(raw score, probability)``
knots applied with ``np.interp`` (clipped at the ends), so serving has one code path:

* ``isotonic``: sklearn ``IsotonicRegression`` (pool adjacent violators) on held-out data,
  its thresholds kept as knots (Zadrozny & Elkan 2002).
* ``platt``: a logistic fit ``p = sigmoid(a s + b)`` (Platt 1999), tabulated on 257 knots
  over the held-out score range; used when there are too few positives for isotonic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

MIN_POSITIVES_FOR_ISOTONIC: Final = 200
PROBABILITY_FLOOR: Final = 1e-6  # keeps log loss finite where isotonic pools to zero clicks


@dataclass(frozen=True, slots=True)
class Calibration:
    """Knots ``x`` (raw scores, increasing) and ``y`` (probabilities, non-decreasing)."""

    method: str
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]

    def apply(self, raw_scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Calibrated probabilities for raw scores of any shape."""
        return np.interp(raw_scores, self.x, self.y)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on a malformed map."""
        x = np.asarray(data["x"], dtype=np.float64)
        y = np.asarray(data["y"], dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 1:
            raise ValueError("calibration knots must be two 1-d arrays of equal length")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError("calibration knots must be finite")
        if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
            raise ValueError("calibration knots must be non-decreasing")
        if y[0] < 0 or y[-1] > 1:
            raise ValueError("calibrated probabilities must lie in [0, 1]")
        return cls(str(data["method"]), x, y)


def fit_calibration(
    raw_scores: npt.NDArray[np.float64], labels: npt.NDArray[np.int8], method: str = "auto"
) -> Calibration:
    """Fit a calibration map on held-out ``raw_scores`` (shape ``(n,)``) and 0/1 ``labels``.

    ``method`` is ``isotonic``, ``platt`` or ``auto`` (isotonic with at least
    ``MIN_POSITIVES_FOR_ISOTONIC`` positives, else Platt).
    """
    if len(raw_scores) != len(labels) or len(raw_scores) == 0:
        raise ValueError("need equal, non-zero numbers of scores and labels")
    if method == "auto":
        enough = int(labels.sum()) >= MIN_POSITIVES_FOR_ISOTONIC
        method = "isotonic" if enough else "platt"
    if method == "isotonic":
        return _fit_isotonic(raw_scores, labels)
    if method == "platt":
        return _fit_platt(raw_scores, labels)
    raise ValueError(f"unknown calibration method {method!r}")


def _fit_isotonic(s: npt.NDArray[np.float64], y: npt.NDArray[np.int8]) -> Calibration:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(
        y_min=PROBABILITY_FLOOR, y_max=1 - PROBABILITY_FLOOR, out_of_bounds="clip"
    )
    iso.fit(s, y.astype(np.float64))
    return Calibration(
        "isotonic",
        np.asarray(iso.X_thresholds_, dtype=np.float64),
        np.asarray(iso.y_thresholds_, dtype=np.float64),
    )


def _fit_platt(s: npt.NDArray[np.float64], y: npt.NDArray[np.int8]) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():  # one class only: a constant map at the smoothed base rate
        rate = (float(y.sum()) + 0.5) / (len(y) + 1.0)
        return Calibration("platt", np.array([0.0]), np.array([rate]))
    lr = LogisticRegression(C=1e4)
    lr.fit(s.reshape(-1, 1), y)
    lo, hi = float(s.min()), float(s.max())
    pad = max(hi - lo, 1.0)
    x = np.linspace(lo - pad, hi + pad, 257)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    probs = np.clip(1.0 / (1.0 + np.exp(-(a * x + b))), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    if a < 0:  # an inverted model; keep the map monotone rather than fit noise
        probs = np.full_like(x, float(y.mean()))
    return Calibration("platt", x, probs)
