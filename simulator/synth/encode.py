"""Log rows back to index-coded features, so the truth can score any ``log.tsv`` slice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from simulator.synth.inventory import POSITIONS, VISIBILITY_TO_POS
from simulator.synth.market import World
from simulator.synth.truth import FeatureColumns, campaign_ids, creative_ids


def _codes(values: Sequence[str], vocab: Sequence[str], column: str) -> np.ndarray:
    index = {v: i for i, v in enumerate(vocab)}
    try:
        return np.array([index[v] for v in values], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"{column}: value {exc.args[0]!r} is not in this world") from exc


def features_from_log(world: World, columns: Mapping[str, Sequence[str]]) -> FeatureColumns:
    """:class:`FeatureColumns` from ``log.tsv`` columns (raw strings, header names as keys).

    ``columns`` may hold any rows of a log written by the same world (same world seed,
    campaigns and creatives); edit them (e.g. ``creative``, ``hour``) to score
    counterfactuals with ``world.truth.ctr``. Raises ``ValueError`` on unknown values.
    """
    inv, m = world.inventory, world.marginals
    domains = [d.decode() for d in inv.domain_names.tolist()]
    sizes = [f"{w}x{h}" for w, h in inv.sizes]
    size_keys = [
        f"{w}x{h}" for w, h in zip(columns["slotwidth"], columns["slotheight"], strict=True)
    ]
    domain = _codes(columns["domain"], domains, "domain")
    tag_index = {t: i for i, t in enumerate(m.tags)}
    tags = np.zeros((len(domain), len(m.tags)), dtype=np.bool_)
    for row, text in enumerate(columns["usertag"]):
        if text not in ("", "null"):
            tags[row, [tag_index[t] for t in text.split(",") if t in tag_index]] = True
    pos = [POSITIONS.index(VISIBILITY_TO_POS.get(v, 0)) for v in columns["slotvisibility"]]
    return FeatureColumns(
        exchange=inv.domain_exchange[domain],
        domain=domain,
        size=_codes(size_keys, sizes, "slotwidth x slotheight"),
        position=np.array(pos, dtype=np.int64),
        hour=np.array([int(h) for h in columns["hour"]], dtype=np.int64),
        weekday=np.array([int(w) for w in columns["weekday"]], dtype=np.int64),
        useragent=_codes(columns["useragent"], m.useragents, "useragent"),
        city=_codes(columns["city"], m.cities, "city"),
        tags=tags,
        campaign=_codes(columns["advertiser"], campaign_ids(world.campaigns), "advertiser"),
        creative=_codes(
            columns["creative"],
            creative_ids(world.campaigns, world.creatives_per_campaign),
            "creative",
        ),
        floor_fen=np.array([int(f) for f in columns["slotprice"]], dtype=np.int64),
    )
