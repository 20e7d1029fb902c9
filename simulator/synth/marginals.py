"""Fitted marginal tables of the synthetic market, loaded from the package's JSON.

The tables were fitted once from the iPinYou logs by ``scripts/fit_synth_marginals.py`` and
ship in ``simulator/synth/data/marginals.json``, so generation needs no shared data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _probs(pairs: list[list[Any]]) -> tuple[tuple[str, ...], FloatArray]:
    labels = tuple(str(v) for v, _ in pairs)
    weights = np.array([float(c) for _, c in pairs], dtype=np.float64)
    return labels, weights / weights.sum()


@dataclass(frozen=True, slots=True)
class SlotKind:
    """One fitted slot type of an exchange: size, visibility, floor (fen CPM), weight."""

    width: int
    height: int
    visibility: str
    floor_fen: int
    weight: float


@dataclass(frozen=True, slots=True)
class ExchangeMarginal:
    """Per-exchange traffic share, domain popularity by rank and slot types."""

    label: str
    share: float
    domain_rank_probs: FloatArray  # popularity of the exchange's domains, by rank
    slot_kinds: tuple[SlotKind, ...]
    slotid_style: str  # "mm" | "numeric" | "section"


@dataclass(frozen=True, slots=True)
class Marginals:
    """All fitted tables; probability vectors sum to one."""

    log_header: tuple[str, ...]
    hour_probs: FloatArray  # shape (24,)
    weekday_probs: FloatArray  # shape (7,), iPinYou weekday 0 = Sunday
    exchanges: tuple[ExchangeMarginal, ...]
    section_prefixes: tuple[str, ...]
    section_suffixes: tuple[str, ...]
    regions: tuple[str, ...]
    region_probs: FloatArray
    cities: tuple[str, ...]
    city_probs: FloatArray
    useragents: tuple[str, ...]
    useragent_probs: FloatArray
    ip_prefixes: tuple[str, ...]
    ip_prefix_probs: FloatArray
    tags: tuple[str, ...]
    tag_probs: FloatArray  # share of each tag among all tag occurrences
    tags_per_row: IntArray
    tags_per_row_probs: FloatArray
    market_price_histograms: FloatArray  # shape (campaigns, 301), rows sum to one


def _by_index(pairs: list[list[Any]], size: int) -> FloatArray:
    out = np.zeros(size, dtype=np.float64)
    for value, count in pairs:
        out[int(value)] = float(count)
    return np.asarray(out / out.sum(), dtype=np.float64)


def _exchange(label: str, share: float, raw: dict[str, Any]) -> ExchangeMarginal:
    ranks = np.array(raw["domain_rank_counts"], dtype=np.float64)
    total = float(sum(s[4] for s in raw["slots"]))
    kinds = tuple(
        SlotKind(int(w), int(h), str(vis), int(floor), float(c) / total)
        for w, h, vis, floor, c in raw["slots"]
    )
    return ExchangeMarginal(label, share, ranks / ranks.sum(), kinds, str(raw["slotid_style"]))


def parse_marginals(raw: dict[str, Any]) -> Marginals:
    """Typed :class:`Marginals` from the JSON document written by the fit script."""
    ex_labels, ex_probs = _probs(raw["exchange_counts"])
    exchanges = tuple(
        _exchange(label, float(p), raw["exchanges"][label])
        for label, p in zip(ex_labels, ex_probs, strict=True)
    )
    hists = np.array(list(raw["market_price"]["price_counter_train"].values()), dtype=np.float64)
    tags, tag_probs = _probs(raw["usertags"]["tag_counts"])
    per_row = raw["usertags"]["tags_per_row_counts"]
    regions, region_probs = _probs(raw["region_counts"])
    cities, city_probs = _probs(raw["city_counts"])
    uas, ua_probs = _probs(raw["useragent_counts"])
    ips, ip_probs = _probs(raw["ip_prefix_counts"])
    return Marginals(
        log_header=tuple(raw["log_header"]),
        hour_probs=_by_index(raw["hour_counts"], 24),
        weekday_probs=_by_index(raw["weekday_counts"], 7),
        exchanges=exchanges,
        section_prefixes=tuple(str(v) for v, _ in raw["section_prefixes"][:12]),
        section_suffixes=tuple(str(v) for v, _ in raw["section_suffixes"][:8]),
        regions=regions,
        region_probs=region_probs,
        cities=cities,
        city_probs=city_probs,
        useragents=uas,
        useragent_probs=ua_probs,
        ip_prefixes=ips,
        ip_prefix_probs=ip_probs,
        tags=tags,
        tag_probs=tag_probs,
        tags_per_row=np.array([int(k) for k, _ in per_row], dtype=np.int64),
        tags_per_row_probs=_probs(per_row)[1],
        market_price_histograms=hists / hists.sum(axis=1, keepdims=True),
    )


def load_marginals(path: Path | None = None) -> Marginals:
    """Load the packaged tables (or ``path``, e.g. a refit) into :class:`Marginals`."""
    if path is None:
        text = resources.files("simulator.synth").joinpath("data/marginals.json").read_text()
    else:
        text = path.read_text()
    return parse_marginals(json.loads(text))
