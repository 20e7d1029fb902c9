"""RFM segments: recency, frequency and monetary quantile scores of purchasers.

Each score is 1..``bins`` (higher is better: more recent, more purchases, more revenue),
``score = 1 + floor(bins * (number of users strictly worse) / n)``, so ties share a score.
Named segments follow the usual RFM grid (Hughes, *Strategic Database Marketing*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bidder.eventstore import EventKind, UserSummary


@dataclass(frozen=True, slots=True)
class RfmScore:
    r: int
    f: int
    m: int

    def tags(self, bins: int) -> tuple[str, str]:
        return f"rfm:r{self.r}f{self.f}m{self.m}", f"rfm:{rfm_segment(self, bins)}"


def rfm_segment(score: RfmScore, bins: int) -> str:
    """champions, loyal, new, at_risk, hibernating or potential."""
    top, low = bins, 1
    if score.r == top and score.f == top:
        return "champions"
    if score.r == low and score.f > low:
        return "at_risk"
    if score.r == low:
        return "hibernating"
    if score.f == top or (score.f > low and score.m == top):
        return "loyal"
    if score.r == top and score.f == low:
        return "new"
    return "potential"


def quantile_scores(values: npt.NDArray[np.float64], bins: int) -> npt.NDArray[np.int64]:
    """Scores 1..bins by the share of values strictly below each value."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    below = np.searchsorted(np.sort(values), values, side="left")
    return np.minimum(bins, 1 + (bins * below) // n).astype(np.int64)


def rfm_scores(
    user_to_summary: Mapping[str, UserSummary], now_s: float, bins: int = 3
) -> dict[str, RfmScore]:
    """Scores of every user with at least one purchase."""
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    buyers = [
        (user, s) for user, s in user_to_summary.items() if s.kind_to_count.get(EventKind.PURCHASE)
    ]
    if not buyers:
        return {}
    recency = np.array([-(now_s - s.kind_to_last_s[EventKind.PURCHASE]) for _, s in buyers])
    frequency = np.array([float(s.kind_to_count[EventKind.PURCHASE]) for _, s in buyers])
    monetary = np.array([float(s.revenue_micros) for _, s in buyers])
    r, f, m = (quantile_scores(v, bins) for v in (recency, frequency, monetary))
    return {user: RfmScore(int(r[i]), int(f[i]), int(m[i])) for i, (user, _) in enumerate(buyers)}
