"""Replay and sweep reports: deterministic JSON (sorted keys, no timestamps) and Markdown."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from simulator.rlb import MONEY_UNIT, EpisodeTotals, ReplayConfig

UNITS = {
    "spend": MONEY_UNIT,
    "cost": MONEY_UNIT,
    "budget": MONEY_UNIT,
    "cpm": MONEY_UNIT,
    "ecpc": "fen",  # spend / clicks / 1000: money per click, as in the origin's table
}


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a report records about how a replay was run."""

    campaign: str
    log_file: str
    log_sha256: str
    strategy: str
    params: Mapping[str, float]
    seed: int
    config: ReplayConfig
    tuning: Mapping[str, Any] | None


def code_version() -> str:
    """``git describe`` of the project tree, else the installed package version."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        try:
            return importlib.metadata.version("rtb-engine")
        except importlib.metadata.PackageNotFoundError:
            return "unknown"


def kpis(auctions: int, impressions: int, clicks: int, spend: int) -> dict[str, float | None]:
    """Win rate, CTR, CPM (log unit) and eCPC (``spend / clicks / 1000``); None if undefined."""
    return {
        "win_rate": impressions / auctions if auctions else None,
        "ctr": clicks / impressions if impressions else None,
        "cpm": spend / impressions if impressions else None,
        "ecpc": spend / clicks / 1000 if clicks else None,
    }


def build_report(totals: EpisodeTotals, info: RunInfo, version: str) -> dict[str, Any]:
    """The replay report as plain JSON data; per-episode rows in ``episodes``."""
    auctions, impressions = int(totals.auctions.sum()), int(totals.impressions.sum())
    clicks, spend = int(totals.clicks.sum()), int(totals.spend.sum())
    budget = totals.budget * totals.n_episodes
    episodes = [
        {
            "episode": i + 1,
            "auctions": int(totals.auctions[i]),
            "bids": int(totals.bids[i]),
            "impressions": int(totals.impressions[i]),
            "clicks": int(totals.clicks[i]),
            "spend": int(totals.spend[i]),
            "budget": totals.budget,
        }
        for i in range(totals.n_episodes)
    ]
    return {
        "format": "rlb",
        "campaign": info.campaign,
        "input": {"file": info.log_file, "sha256": info.log_sha256},
        "strategy": {"name": info.strategy, "params": dict(sorted(info.params.items()))},
        "tuning": info.tuning,
        "seed": info.seed,
        "budget_fraction": info.config.budget_fraction,
        "episode_len": info.config.episode_len,
        "max_bid": info.config.max_bid,
        "budget_per_episode": totals.budget,
        "n_episodes": totals.n_episodes,
        "code_version": version,
        "money_unit": MONEY_UNIT,
        "units": UNITS,
        "auctions": auctions,
        "bids": int(totals.bids.sum()),
        "impressions": impressions,
        "clicks": clicks,
        "spend": spend,
        "cost": spend,
        "budget": budget,
        "budget_used": spend / budget if budget else None,
        **kpis(auctions, impressions, clicks, spend),
        "episodes": episodes,
    }


def render_json(data: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """Canonical bytes: sorted keys, 2-space indent, trailing newline."""
    return (json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n").encode()


SWEEP_COLUMNS = (
    "campaign",
    "budget_fraction",
    "strategy",
    "seed",
    "params",
    "tuned_on",
    "evaluated_on",
    "auctions",
    "impressions",
    "clicks",
    "spend",
    "win_rate",
    "cpm",
    "ecpc",
)


def _cell(value: Any, column: str = "") -> str:
    if column == "budget_fraction" and isinstance(value, float):
        return str(Fraction(value).limit_denominator(1 << 20))
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v:.4g}" for k, v in sorted(value.items())) or "-"
    return "-" if value is None else str(value)


def render_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The sweep table as GitHub Markdown, one row per (campaign, fraction, strategy, seed)."""
    lines = [
        "| " + " | ".join(SWEEP_COLUMNS) + " |",
        "|" + "---|" * len(SWEEP_COLUMNS),
    ]
    lines += ["| " + " | ".join(_cell(row.get(c), c) for c in SWEEP_COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"
