"""Synthetic market with a known ground-truth CTR (``rtb synth``).

Public API: :func:`generate_market`, :func:`build_world`, :func:`draw_market`,
:class:`TruthModel` (``ctr`` / ``ctr_by_creative`` on :class:`FeatureColumns`).
"""

from simulator.synth.generate import MarketSummary, generate_market
from simulator.synth.market import World, build_world, draw_market
from simulator.synth.truth import FeatureColumns, TruthModel

__all__ = [
    "FeatureColumns",
    "MarketSummary",
    "TruthModel",
    "World",
    "build_world",
    "draw_market",
    "generate_market",
]
