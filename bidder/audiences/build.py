"""Assemble every audience (retargeting, RFM, clusters, exchange segments) and apply them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bidder.audiences.cluster import cluster_users
from bidder.audiences.retarget import DAY_S, retarget_tags
from bidder.audiences.rfm import rfm_scores
from bidder.audiences.segments import bidlog_user_tags
from bidder.eventstore import Event, UserSummary
from bidder.stores.tags import TagStore

# Tags the builder owns: a rebuild first drops these from every user, then adds anew.
OWNED_PREFIXES = ("retarget:", "rfm:", "cluster:", "demo:", "interest:")


@dataclass(frozen=True, slots=True)
class AudienceSpec:
    """Windows, TTLs and model sizes; validated on construction."""

    window_days: int = 30  # retargeting look-back
    rfm_bins: int = 3
    clusters: int = 4
    seed: int = 0
    rfm_ttl_s: int = 7 * DAY_S
    cluster_ttl_s: int = 7 * DAY_S
    segment_ttl_s: int = 30 * DAY_S  # from the last request that carried the segment
    advertiser: str | None = None  # None: events of every advertiser

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be > 0, got {getattr(self, name)}"
            for name in ("window_days", "clusters", "rfm_ttl_s", "cluster_ttl_s", "segment_ttl_s")
            if getattr(self, name) <= 0
        ]
        if self.rfm_bins < 2:
            problems.append(f"rfm_bins must be >= 2, got {self.rfm_bins}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class AudienceBuild:
    user_to_tag_ttl: dict[str, dict[str, float]]
    tag_to_size: dict[str, int]
    tag_to_ttl_s: dict[str, float]  # the longest TTL given to the tag
    events_read: int
    users_with_events: int
    cluster_centroids: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "events_read": self.events_read,
            "users_with_events": self.users_with_events,
            "users_tagged": len(self.user_to_tag_ttl),
            "tags": {
                tag: {"size": size, "ttl_s": round(self.tag_to_ttl_s[tag])}
                for tag, size in sorted(self.tag_to_size.items())
            },
            "cluster_centroids": self.cluster_centroids,
        }


def summarise_events(
    events: Iterable[Event], now_s: float, advertiser: str | None
) -> tuple[dict[str, UserSummary], int]:
    """Per-user summaries of events up to ``now_s``; also the number of events used."""
    user_to_summary: dict[str, UserSummary] = {}
    used = 0
    for event in events:
        if event.ts > now_s or (advertiser is not None and event.advertiser != advertiser):
            continue
        summary = user_to_summary.get(event.user_hash)
        if summary is None:
            summary = user_to_summary[event.user_hash] = UserSummary(event.ts, event.ts)
        summary.update(event)
        used += 1
    return user_to_summary, used


def build_audiences(
    events: Iterable[Event],
    bidlog_records: Iterable[Mapping[str, Any]],
    now_s: float,
    spec: AudienceSpec,
) -> AudienceBuild:
    """Every audience for ``now_s``; pure (no store, no I/O)."""
    summaries, used = summarise_events(events, now_s, spec.advertiser)
    out: dict[str, dict[str, float]] = {}

    def add(user: str, tag: str, ttl_s: float) -> None:
        tags = out.setdefault(user, {})
        tags[tag] = max(ttl_s, tags.get(tag, 0.0))

    for user, tags in retarget_tags(summaries, now_s, spec.window_days).items():
        for tag, ttl in tags.items():
            add(user, tag, ttl)
    for user, score in rfm_scores(summaries, now_s, spec.rfm_bins).items():
        for tag in score.tags(spec.rfm_bins):
            add(user, tag, spec.rfm_ttl_s)
    clustering = cluster_users(summaries, now_s, spec.clusters, spec.seed)
    for user, label in clustering.user_to_cluster.items():
        add(user, f"cluster:{label}", spec.cluster_ttl_s)
    for user, tag_to_seen in bidlog_user_tags(bidlog_records).items():
        for tag, seen_s in tag_to_seen.items():
            ttl = seen_s + spec.segment_ttl_s - now_s
            if ttl > 0:
                add(user, tag, ttl)
    tag_to_size: dict[str, int] = {}
    tag_to_ttl: dict[str, float] = {}
    for tags in out.values():
        for tag, ttl in tags.items():
            tag_to_size[tag] = tag_to_size.get(tag, 0) + 1
            tag_to_ttl[tag] = max(ttl, tag_to_ttl.get(tag, 0.0))
    return AudienceBuild(out, tag_to_size, tag_to_ttl, used, len(summaries),
                         clustering.centroids)  # fmt: skip


def apply_build(
    store: TagStore, build: AudienceBuild, now_s: float, known_users: Iterable[str] = ()
) -> int:
    """Drop builder-owned tags from ``known_users``, then add the build's; returns users tagged."""
    for user in known_users:
        for tag in store.tags(user, now_s):
            if tag.startswith(OWNED_PREFIXES):
                store.remove(user, tag)
    for user, tags in build.user_to_tag_ttl.items():
        by_ttl: dict[float, list[str]] = {}
        for tag, ttl in tags.items():
            by_ttl.setdefault(ttl, []).append(tag)
        for ttl, group in by_ttl.items():
            store.add(user, group, ttl, now_s)
    return len(build.user_to_tag_ttl)
