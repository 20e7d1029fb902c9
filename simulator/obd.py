"""Open Bandit Dataset logs as ``LoggedFeedback`` for off-policy evaluation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from optimizer.ope import LoggedFeedback


def load_obd(root: Path, behavior: str, campaign: str) -> LoggedFeedback:
    """One OBD log as feedback; positions 1..3 become 0..2, items index the actions."""
    with (root / behavior / campaign / f"{campaign}.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (root / behavior / campaign / "item_context.csv").open() as f:
        n_items = sum(1 for _ in csv.DictReader(f))
    return LoggedFeedback(
        actions=np.array([int(r["item_id"]) for r in rows], dtype=np.int64),
        positions=np.array([int(r["position"]) - 1 for r in rows], dtype=np.int64),
        rewards=np.array([float(r["click"]) for r in rows]),
        pscores=np.array([float(r["propensity_score"]) for r in rows]),
        n_actions=n_items,
        n_positions=3,
    )
