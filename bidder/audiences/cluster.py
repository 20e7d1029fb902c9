"""Behavioural clusters: K-means over standardised per-user event features.

Features per user (one row each): log1p of visits, carts, purchases and revenue (currency
units), days since the last event and days between first and last event. Clusters are
renumbered by descending size so ``cluster:0`` is always the largest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from bidder.eventstore import EventKind, UserSummary

FEATURES = ("visits", "carts", "purchases", "revenue", "days_since_last", "active_days")
_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Clustering:
    user_to_cluster: dict[str, int]
    centroids: list[dict[str, float]]  # per cluster, feature -> mean of the raw feature


def feature_matrix(
    users: list[str], user_to_summary: Mapping[str, UserSummary], now_s: float
) -> npt.NDArray[np.float64]:
    """Shape ``(len(users), len(FEATURES))``."""
    rows = []
    for user in users:
        s = user_to_summary[user]
        rows.append(
            [
                np.log1p(s.kind_to_count.get(EventKind.VISIT, 0)),
                np.log1p(s.kind_to_count.get(EventKind.CART, 0)),
                np.log1p(s.kind_to_count.get(EventKind.PURCHASE, 0)),
                np.log1p(s.revenue_micros / 1e6),
                max(0.0, now_s - s.last_s) / _DAY_S,
                (s.last_s - s.first_s) / _DAY_S,
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(users), len(FEATURES))


def cluster_users(
    user_to_summary: Mapping[str, UserSummary], now_s: float, k: int, seed: int = 0
) -> Clustering:
    """K-means with ``min(k, distinct rows)`` clusters; fewer than 2 users: no clusters."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    users = sorted(user_to_summary)
    if len(users) < 2:
        return Clustering({}, [])
    x = feature_matrix(users, user_to_summary, now_s)
    k = min(k, len(np.unique(x, axis=0)))
    if k < 2:
        return Clustering(dict.fromkeys(users, 0), [_centroid(x)])
    scaled = StandardScaler().fit_transform(x)
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(scaled)
    order = sorted(range(k), key=lambda c: (-int(np.sum(labels == c)), c))
    relabel = {old: new for new, old in enumerate(order)}
    user_to_cluster = {u: relabel[int(label)] for u, label in zip(users, labels, strict=True)}
    centroids = [_centroid(x[labels == old]) for old in order]
    return Clustering(user_to_cluster, centroids)


def _centroid(rows: npt.NDArray[np.float64]) -> dict[str, float]:
    raw = rows.copy()
    raw[:, :4] = np.expm1(raw[:, :4])
    return {name: round(float(v), 3) for name, v in zip(FEATURES, raw.mean(axis=0), strict=True)}
