"""Sweeps of campaigns x budget fractions x strategies x seeds, one plain function per cell."""

from __future__ import annotations

import concurrent.futures
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bidder.strategies import build_strategy
from simulator.report import kpis
from simulator.rlb import ReplayConfig, Stream, load_train_stats, parse_stream, replay
from simulator.rlb_run import RLB_DIR, CampaignFiles, resolve_params


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """The grid of a sweep and the protocol settings shared by its cells."""

    campaigns: tuple[str, ...]
    budget_fractions: tuple[float, ...]
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    data_dir: Path
    episode_len: int = 1000
    max_bid: int = 300

    def cells(self) -> list[tuple[str, float, str, int]]:
        return list(
            itertools.product(self.campaigns, self.budget_fractions, self.strategies, self.seeds)
        )


def split_streams(
    campaign: str, data_dir: Path, episode_len: int
) -> tuple[tuple[Stream, str], tuple[Stream, str]]:
    """(tuning, evaluation) streams: validation and test, or halves of validation by episode."""
    streams = data_dir / RLB_DIR / "streams"
    validation = parse_stream(streams / f"{campaign}.validation.txt")
    test_path = streams / f"{campaign}.test.txt"
    if test_path.is_file():
        return (validation, "all"), (parse_stream(test_path), "all")
    n_episodes = -(-len(validation) // episode_len)
    cut = (n_episodes // 2) * episode_len
    return (
        (validation.slice(0, cut), f"episodes 1-{n_episodes // 2}"),
        (validation.slice(cut, len(validation)), f"episodes {n_episodes // 2 + 1}-{n_episodes}"),
    )


def run_cell(
    campaign: str,
    budget_fraction: float,
    strategy: str,
    seed: int,
    data_dir: Path,
    episode_len: int = 1000,
    max_bid: int = 300,
) -> dict[str, Any]:
    """Tune ``strategy`` on the campaign's tuning stream, score it on the evaluation stream."""
    config = ReplayConfig(budget_fraction, episode_len, max_bid)
    files = CampaignFiles(
        campaign,
        data_dir / RLB_DIR / "info" / f"{campaign}.info.json",
        data_dir / RLB_DIR / "streams" / f"{campaign}.validation.txt",
    )
    (tune_stream, tune_part), (eval_stream, eval_part) = split_streams(
        campaign, data_dir, episode_len
    )
    params, tuning = resolve_params(
        strategy, {}, lambda: (tune_stream, tune_part), files, config, seed
    )
    stats = load_train_stats(files.train_info)
    built = build_strategy(strategy, params, stats, np.random.default_rng(seed))
    totals = replay(eval_stream, built, stats, config)
    auctions, impressions = int(totals.auctions.sum()), int(totals.impressions.sum())
    clicks, spend = int(totals.clicks.sum()), int(totals.spend.sum())
    return {
        "campaign": campaign,
        "budget_fraction": budget_fraction,
        "strategy": strategy,
        "seed": seed,
        "params": params,
        "tuned_on": f"{tune_stream.path.name} ({tune_part})",
        "evaluated_on": f"{eval_stream.path.name} ({eval_part})",
        "tuning_clicks": None if tuning is None else tuning["clicks"],
        "budget_per_episode": totals.budget,
        "auctions": auctions,
        "bids": int(totals.bids.sum()),
        "impressions": impressions,
        "clicks": clicks,
        "spend": spend,
        **kpis(auctions, impressions, clicks, spend),
    }


def run_sweep(
    spec: SweepSpec, jobs: int, on_done: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Every cell of ``spec``, in ``jobs`` processes (1: in this process); rows in grid order."""
    cells = spec.cells()
    extra = (spec.data_dir, spec.episode_len, spec.max_bid)
    if jobs <= 1:
        rows = []
        for cell in cells:
            rows.append(run_cell(*cell, *extra))
            if on_done is not None:
                on_done()
        return rows
    results: dict[int, dict[str, Any]] = {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_cell, *cell, *extra): i for i, cell in enumerate(cells)}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done()
    return [results[i] for i in range(len(cells))]


def sweep_document(spec: SweepSpec, rows: Sequence[dict[str, Any]], version: str) -> dict[str, Any]:
    """The sweep as one JSON document: its grid, protocol settings and rows."""
    return {
        "format": "rlb",
        "campaigns": list(spec.campaigns),
        "budget_fractions": list(spec.budget_fractions),
        "strategies": list(spec.strategies),
        "seeds": list(spec.seeds),
        "episode_len": spec.episode_len,
        "max_bid": spec.max_bid,
        "money_unit": "fen_cpm",
        "objective": "clicks",
        "code_version": version,
        "rows": list(rows),
    }
