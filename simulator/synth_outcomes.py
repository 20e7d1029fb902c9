"""Known outcomes of every creative on a synthetic market: the truth CTR and a seeded click.

A synthetic ``log.tsv`` row carries the true CTR of the *logged* creative only. When
``decide`` shows another creative (or another campaign's), :class:`SynthOutcomes` scores it
with the same world's :class:`~simulator.synth.TruthModel` (rebuilt from ``meta.json``:
world seed, campaign and creative counts) and draws the click from one uniform per row, so
every policy replayed on a market sees the same random numbers (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bidder.decision import Bid
from simulator.ipinyou import IPINYOU_TZ, MarketRow
from simulator.synth import World, build_world
from simulator.synth.encode import features_from_log
from simulator.synth.truth import campaign_ids, creative_ids

_POS_TO_VISIBILITY = {1: "FirstView", 3: "SecondView"}


def world_from_meta(log_dir: Path) -> World:
    """The world that wrote ``log_dir`` (``meta.json``: world seed and counts)."""
    meta = json.loads((log_dir / "meta.json").read_text(encoding="utf-8"))
    return build_world(
        int(meta["world_seed"]), int(meta["campaigns"]), int(meta["creatives_per_campaign"])
    )


def columns_from_rows(rows: Sequence[MarketRow]) -> dict[str, list[str]]:
    """``log.tsv`` columns that ``features_from_log`` reads, rebuilt from the OpenRTB requests."""
    cols: dict[str, list[str]] = {
        k: []
        for k in (
            "slotwidth", "slotheight", "domain", "usertag", "slotvisibility", "hour", "weekday",
            "useragent", "city", "advertiser", "creative", "slotprice",
        )
    }  # fmt: skip
    for row in rows:
        req: Mapping[str, Any] = row.request
        imp = req["imp"][0]
        banner = imp.get("banner", {})
        device = req.get("device", {})
        local = dt.datetime.fromtimestamp(row.ts_s, IPINYOU_TZ)
        segments = [
            s["id"] for d in req.get("user", {}).get("data", []) for s in d.get("segment", [])
        ]
        creative = row.logged_creative
        cols["slotwidth"].append(str(banner.get("w", 0)))
        cols["slotheight"].append(str(banner.get("h", 0)))
        cols["domain"].append(req.get("site", {}).get("domain", ""))
        cols["usertag"].append(",".join(segments) if segments else "null")
        cols["slotvisibility"].append(_POS_TO_VISIBILITY.get(banner.get("pos", 0), "OtherView"))
        cols["hour"].append(str(local.hour))
        cols["weekday"].append(str((local.weekday() + 1) % 7))  # iPinYou: 0 = Sunday
        cols["useragent"].append(device.get("ua", ""))
        cols["city"].append(device.get("geo", {}).get("city", ""))
        cols["advertiser"].append("synth-" + creative.split("-")[1])
        cols["creative"].append(creative)
        cols["slotprice"].append(str(round(float(imp.get("bidfloor", 0.0)) * 100)))
    return cols


class SynthOutcomes:
    """``outcome(row, bid)``: click and true CTR of any campaign's creative on any row.

    ``ctr`` has shape (n, K, M): row, campaign, creative. Rows are found by request id.
    """

    def __init__(self, world: World, rows: Sequence[MarketRow], seed: int) -> None:
        x = features_from_log(world, columns_from_rows(rows))
        k_count, m_count = world.campaigns, world.creatives_per_campaign
        ctr = np.empty((len(rows), k_count, m_count))
        for k in range(k_count):
            campaign = np.full(len(rows), k, dtype=np.int64)
            ctr[:, k, :] = world.truth.ctr_by_creative(
                x.with_creative(campaign, campaign * m_count)
            )
        self.ctr: NDArray[np.float64] = ctr
        self.uniform: NDArray[np.float64] = np.random.default_rng(seed).random(len(rows))
        self._row = {str(r.request["id"]): i for i, r in enumerate(rows)}
        self._creative = {
            cr: divmod(i, m_count) for i, cr in enumerate(creative_ids(k_count, m_count))
        }
        self.campaign_ids = campaign_ids(k_count)

    def true_ctr(self, row: MarketRow, creative_id: str) -> float:
        k, m = self._creative[creative_id]
        return float(self.ctr[self._row[str(row.request["id"])], k, m])

    def outcome(self, row: MarketRow, bid: Bid) -> tuple[bool, float]:
        index = self._row[str(row.request["id"])]
        k, m = self._creative[bid.creative.id]
        p = float(self.ctr[index, k, m])
        return bool(self.uniform[index] < p), p
