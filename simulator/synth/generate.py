"""``generate_market``: draw a synthetic market and write log.tsv, requests.jsonl, meta.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from scipy.stats import rankdata

from simulator.synth.market import (
    DEFAULT_WORLD_SEED,
    START_LOCAL,
    MarketRows,
    World,
    build_world,
    draw_market,
    hour_weekday,
)
from simulator.synth.truth import creative_ids
from simulator.synth.writer import write_log, write_requests

GENERATOR_VERSION = "1"
LOG_FILE = "log.tsv"
REQUESTS_FILE = "requests.jsonl"
META_FILE = "meta.json"


@dataclass(frozen=True, slots=True)
class MarketSummary:
    """What ``generate_market`` wrote and the market's headline numbers."""

    out_dir: Path
    rows: int
    seed: int
    world_seed: int
    clicks: int
    overall_ctr: float  # clicks / rows
    mean_true_ctr: float
    truth_auc: float  # AUC of true_ctr against the drawn clicks (the oracle's AUC)
    logged_win_rate: float  # share of rows with bidprice >= market_price
    files: tuple[str, ...]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank sum, :math:`(R_+ - n_+(n_+ + 1)/2) / (n_+ n_-)`."""
    pos = labels.astype(bool)
    n_pos = int(pos.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _r(x: float) -> float:
    return round(float(x), 8)


def _summary(world: World, rows: MarketRows) -> dict[str, Any]:
    hour, _ = hour_weekday(rows.local_ms)
    hour_rows = np.bincount(hour, minlength=24)
    hour_clicks = np.bincount(hour, weights=rows.click, minlength=24)
    hour_true = np.bincount(hour, weights=rows.true_ctr, minlength=24)
    ex_counts = np.bincount(rows.features.exchange, minlength=len(world.inventory.exchange_labels))
    quantiles = (0.05, 0.25, 0.5, 0.75, 0.95)
    mp = np.quantile(rows.market_price, quantiles) if len(rows) else np.zeros(5)
    n = max(len(rows), 1)
    return {
        "overall_ctr": _r(rows.click.sum() / n),
        "ctr_by_hour": [_r(c / max(r, 1)) for c, r in zip(hour_clicks, hour_rows, strict=True)],
        "true_ctr_by_hour": [_r(c / max(r, 1)) for c, r in zip(hour_true, hour_rows, strict=True)],
        "rows_by_hour": hour_rows.tolist(),
        "exchange_mix": {
            "adx" + e: _r(c / n)
            for e, c in zip(world.inventory.exchange_labels, ex_counts, strict=True)
        },
        "market_price_quantiles_fen": {
            str(q): float(v) for q, v in zip(quantiles, mp, strict=True)
        },
        "logged_win_rate": _r((rows.bidprice >= rows.market_price).sum() / n),
    }


def _oracle(world: World, rows: MarketRows) -> dict[str, Any]:
    by_creative = world.truth.ctr_by_creative(rows.features)
    ids = creative_ids(world.campaigns, world.creatives_per_campaign)
    cr = rows.features.creative
    counts = np.bincount(cr, minlength=len(ids))
    sums = np.bincount(cr, weights=rows.true_ctr, minlength=len(ids))
    return {
        "mean_true_ctr": _r(rows.true_ctr.mean()) if len(rows) else 0.0,
        "expected_clicks": _r(rows.true_ctr.sum()),
        "truth_auc": _r(auc(rows.click, rows.true_ctr)),
        "mean_true_ctr_by_creative": {
            c: _r(s / max(k, 1)) for c, s, k in zip(ids, sums, counts, strict=True)
        },
        "mean_true_ctr_best_creative_per_row": _r(by_creative.max(axis=1).mean())
        if len(rows)
        else 0.0,
    }


def _meta(world: World, rows: MarketRows, seed: int) -> dict[str, Any]:
    return {
        "generator": "rtb synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "world_seed": world.seed,
        "rows": len(rows),
        "campaigns": world.campaigns,
        "creatives_per_campaign": world.creatives_per_campaign,
        "time": {
            "start_local": START_LOCAL.isoformat(),
            "timezone": "Asia/Shanghai (UTC+8): log timestamp/hour/weekday are local; "
            "requests timestamp_ms is UTC epoch ms",
            "weekday_convention": "iPinYou: 0 = Sunday ... 6 = Saturday",
        },
        "columns": {
            "true_ctr": "ground-truth click probability (10 decimals); click ~ Bernoulli",
            "market_price": "competing highest price, fen CPM (= payprice)",
            "bidprice": "a noisy linear logged bidder; won when bidprice >= market_price",
        },
        "truth": world.truth.describe(world.inventory, world.marginals),
        "market_price_model": {
            "rho_floor": world.price.rho_floor,
            "rho_ctr": world.price.rho_ctr,
            "histograms": "equal mixture of rlb-dp price_counter_train (9 campaigns)",
        },
        "summary": _summary(world, rows),
        "oracle": _oracle(world, rows),
    }


def generate_market(
    rows: int,
    seed: int,
    out_dir: Path,
    campaigns: int = 3,
    creatives_per_campaign: int = 3,
    write_requests: bool = True,
    world_seed: int = DEFAULT_WORLD_SEED,
    world: World | None = None,
) -> MarketSummary:
    """Draw ``rows`` impression opportunities and write them under ``out_dir``.

    The same ``(rows, seed, world_seed, campaigns, creatives_per_campaign)`` gives
    byte-identical files. ``world`` (from :func:`build_world`) may be passed to reuse one
    world across calls; it then overrides ``world_seed`` and the campaign counts.
    """
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    w = world or build_world(world_seed, campaigns, creatives_per_campaign)
    market = draw_market(w, rows, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_log(out_dir / LOG_FILE, w, market)
    files = [LOG_FILE]
    if write_requests:
        write_requests_file(out_dir / REQUESTS_FILE, w, market)
        files.append(REQUESTS_FILE)
    meta = _meta(w, market, seed)
    (out_dir / META_FILE).write_bytes(
        orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    files.append(META_FILE)
    return MarketSummary(
        out_dir=out_dir,
        rows=rows,
        seed=seed,
        world_seed=w.seed,
        clicks=int(market.click.sum()),
        overall_ctr=meta["summary"]["overall_ctr"],
        mean_true_ctr=meta["oracle"]["mean_true_ctr"],
        truth_auc=meta["oracle"]["truth_auc"],
        logged_win_rate=meta["summary"]["logged_win_rate"],
        files=tuple(files),
    )


write_requests_file = write_requests
