"""Packaged marginal tables: well-formed, and reproducible from the shared data."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from simulator.synth.marginals import load_marginals

ROOT = Path(__file__).resolve().parents[3]
PACKAGED = ROOT / "simulator" / "synth" / "data" / "marginals.json"


def test_marginals_probabilities_sum_to_one() -> None:
    m = load_marginals()
    for probs in (m.hour_probs, m.weekday_probs, m.city_probs, m.useragent_probs, m.tag_probs):
        assert np.isclose(probs.sum(), 1.0)
    assert np.allclose(m.market_price_histograms.sum(axis=1), 1.0)
    assert 20 <= len(m.tags) <= 70
    assert np.isclose(sum(e.share for e in m.exchanges), 1.0)


def test_marginals_fit_script_reproduces_packaged_tables(shared_data: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "fit", ROOT / "scripts" / "fit_synth_marginals.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    refit = json.loads(json.dumps(module.fit(shared_data)))
    assert refit == json.loads(PACKAGED.read_text())
