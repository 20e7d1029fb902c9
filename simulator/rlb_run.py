"""One rlb replay end to end: resolve the campaign's files, tune on validation, report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bidder.strategies import (
    SAMPLE_STRATEGIES,
    TrainStats,
    build_spec,
    build_strategy,
    param_names,
)
from simulator.report import RunInfo, build_report
from simulator.rlb import (
    ReplayConfig,
    Stream,
    load_train_stats,
    parse_stream,
    replay,
    sampled_stats,
)
from simulator.tune import TuneResult, tune

RLB_DIR = Path("ipinyou") / "rlb-dp"


@dataclass(frozen=True, slots=True)
class CampaignFiles:
    """An rlb campaign's training totals and validation stream next to a log."""

    campaign: str
    train_info: Path
    validation: Path


def campaign_of(log: Path) -> str:
    """``.../2997.test.txt`` -> ``2997``."""
    return log.name.split(".", 1)[0]


def resolve_files(
    log: Path, data_dir: Path, train_info: Path | None = None, validation: Path | None = None
) -> CampaignFiles:
    """Default ``info/<camp>.info.json`` under the data folder and the log's sibling validation."""
    campaign = campaign_of(log)
    return CampaignFiles(
        campaign=campaign,
        train_info=train_info or data_dir / RLB_DIR / "info" / f"{campaign}.info.json",
        validation=validation or log.parent / f"{campaign}.validation.txt",
    )


def tuning_record(result: TuneResult, stream: Stream, note: str) -> dict[str, Any]:
    return {
        "stream": stream.path.name,
        "sha256": stream.sha256,
        "auctions": len(stream),
        "part": note,
        "tuned_params": list(result.tuned),
        "grid_size": result.evaluated,
        "objective": "clicks",
        "clicks": result.clicks,
        "spend": result.spend,
    }


def fitting_record(sample: Stream) -> dict[str, Any]:
    """What a sample-fitted strategy (``SAMPLE_STRATEGIES``) learnt its model from."""
    return {
        "stream": sample.path.name,
        "sha256": sample.sha256,
        "auctions": len(sample),
        "part": "all",
        "tuned_params": [],
        "fitted": "pCTR calibration (rlb_mix/rlb_cond: also classes and market-price pdfs)",
        "objective": "log-likelihood of clicks",
        "clicks": int(sample.click.sum()),
    }


def resolve_params(
    strategy: str,
    params: Mapping[str, float],
    tune_stream: Callable[[], tuple[Stream, str]],
    files: CampaignFiles,
    config: ReplayConfig,
    seed: int,
    on_step: Callable[[], None] | None = None,
) -> tuple[dict[str, float], dict[str, Any] | None]:
    """The given params, completed by a grid search on the tuning stream when some are missing."""
    missing = [p for p in param_names(strategy) if p not in params]
    if not missing:
        build_spec(strategy, params)
        return dict(params), None
    stream, note = tune_stream()
    stats = load_train_stats(files.train_info)
    result = tune(strategy, params, stream, stats, config, seed, on_step)
    return result.params, tuning_record(result, stream, note)


def run_replay(
    log: Path,
    strategy: str,
    params: Mapping[str, float],
    config: ReplayConfig,
    seed: int,
    files: CampaignFiles,
    version: str,
    on_step: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Replay ``log`` with ``strategy``; missing params are tuned on the validation stream."""
    needs_validation = strategy in SAMPLE_STRATEGIES or params.keys() < set(param_names(strategy))
    if needs_validation and log.resolve() == files.validation.resolve():
        raise ValueError("tuning needs a validation stream other than the replayed log")

    def validation() -> tuple[Stream, str]:
        return parse_stream(files.validation), "all"

    full_params, tuning = resolve_params(strategy, params, validation, files, config, seed, on_step)
    stream = parse_stream(log)
    stats: TrainStats = load_train_stats(files.train_info)
    if strategy in SAMPLE_STRATEGIES:
        sample = parse_stream(files.validation)
        stats = sampled_stats(stats, sample)
        tuning = fitting_record(sample)
    built = build_strategy(strategy, full_params, stats, np.random.default_rng(seed))
    totals = replay(stream, built, stats, config)
    info = RunInfo(
        campaign=files.campaign,
        log_file=log.name,
        log_sha256=stream.sha256,
        strategy=strategy,
        params=full_params,
        seed=seed,
        config=config,
        tuning=tuning,
    )
    return build_report(totals, info, version)
