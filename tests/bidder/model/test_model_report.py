"""Evaluation metrics: AUC, log loss, normalised entropy, calibration deciles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bidder.model.report import evaluate


def test_evaluate_constant_rate_has_unit_ne_and_perfect_calibration() -> None:
    y = np.array([1] * 10 + [0] * 90, dtype=np.int8)
    m = evaluate(y, np.full(100, 0.1))
    assert m["ne"] == pytest.approx(1.0)
    assert m["logloss"] == pytest.approx(-(0.1 * math.log(0.1) + 0.9 * math.log(0.9)))
    assert m["auc"] == pytest.approx(0.5)
    assert m["calibration"]["ratio"] == pytest.approx(1.0)
    assert m["calibration"]["ece"] == pytest.approx(0.0, abs=0.2)
    assert len(m["calibration"]["deciles"]) == 10


def test_evaluate_perfect_ranking_has_auc_one() -> None:
    y = np.array([0, 0, 1, 1], dtype=np.int8)
    m = evaluate(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert m["auc"] == 1.0
    assert m["ne"] < 1.0


def test_evaluate_single_class_has_no_auc() -> None:
    m = evaluate(np.zeros(5, dtype=np.int8), np.full(5, 0.01))
    assert m["auc"] is None
    assert m["ne"] is None
    assert m["calibration"]["ratio"] is None
