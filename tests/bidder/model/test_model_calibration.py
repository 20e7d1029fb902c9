"""Calibration maps: isotonic and Platt, JSON round trip, validation of loaded maps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bidder.model.calibration import Calibration, fit_calibration


def _scores(seed: int, n: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = rng.normal(-3.0, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(0.5 * s - 1.5)))  # the raw score is miscalibrated on purpose
    return s, (rng.random(n) < p).astype(np.int8)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_fit_calibration_matches_observed_rate(method: str) -> None:
    s, y = _scores(1)
    cal = fit_calibration(s, y, method)
    p = cal.apply(s)
    assert abs(p.mean() / y.mean() - 1) < 0.02
    assert np.all(np.diff(cal.y) >= 0)
    assert np.all((p >= 0) & (p <= 1))


def test_fit_calibration_auto_picks_platt_with_few_clicks() -> None:
    s, y = _scores(2, n=2000)
    assert y.sum() < 200
    assert fit_calibration(s, y).method == "platt"


def test_fit_calibration_single_class_gives_constant_map() -> None:
    cal = fit_calibration(np.array([0.1, 0.2, 0.3]), np.zeros(3, dtype=np.int8), "platt")
    assert cal.apply(np.array([-5.0, 5.0])).tolist() == pytest.approx([0.125, 0.125])


def test_calibration_json_round_trip() -> None:
    s, y = _scores(3)
    cal = fit_calibration(s, y, "isotonic")
    again = Calibration.from_json(cal.to_json())
    np.testing.assert_array_equal(again.apply(s), cal.apply(s))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"method": "x", "x": [0, 1], "y": [0.1]}, "equal length"),
        ({"method": "x", "x": [1, 0], "y": [0.1, 0.2]}, "non-decreasing"),
        ({"method": "x", "x": [0, 1], "y": [0.2, 0.1]}, "non-decreasing"),
        ({"method": "x", "x": [0, 1], "y": [0.1, 1.5]}, r"\[0, 1\]"),
        ({"method": "x", "x": [0, float("nan")], "y": [0.1, 0.2]}, "finite"),
    ],
)
def test_calibration_from_json_rejects_bad_maps(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Calibration.from_json(doc)
