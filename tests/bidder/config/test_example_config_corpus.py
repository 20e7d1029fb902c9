"""The example config.yaml really matches exchange traffic from the shared OpenRTB corpus.

A static check of formats, sizes, mimes, inventory, blocks and floors at the prior-CTR
price; the auction itself is tested elsewhere. It guards edits to config.yaml that would
leave the example bidding on (almost) nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bidder.config.load import load_config
from bidder.config.model import BidStrategyKind, Campaign, Config, Creative

ROOT = Path(__file__).resolve().parents[3]
MIN_MATCH_SHARE = 0.20


def _prior_cpm(campaign: Campaign) -> float:
    """The bid CPM at the campaign's prior CTR (pCTR x value x 1000), capped at max_bid_cpm."""
    s = campaign.strategy
    value_per_impression_micros = {
        BidStrategyKind.FIXED_CPM: s.fixed_cpm_micros,
        BidStrategyKind.VALUE_PER_CLICK: s.prior_ctr * s.value_per_click_micros,
        BidStrategyKind.TARGET_CPC: s.prior_ctr * s.target_cpc_micros,
        BidStrategyKind.TARGET_CPA: s.prior_ctr * s.prior_cvr * s.target_cpa_micros,
    }[s.kind]
    return min(value_per_impression_micros, campaign.max_bid_micros) / 1000


def _creative_fits(creative: Creative, imp: dict[str, Any], request: dict[str, Any]) -> bool:
    media = imp.get(creative.format)
    if not isinstance(media, dict):
        return False
    if set(creative.cat) & set(request.get("bcat") or ()):
        return False
    if set(creative.adomain) & set(request.get("badv") or ()):
        return False
    if creative.format == "banner":
        sizes = {(f.get("w"), f.get("h")) for f in media.get("format") or () if isinstance(f, dict)}
        sizes.add((media.get("w"), media.get("h")))
        return (creative.w, creative.h) in sizes
    mimes = set(media.get("mimes") or ())
    return not (mimes and creative.mimes) or bool(mimes & set(creative.mimes))


def _bids(config: Config, request: dict[str, Any]) -> bool:
    inventory = "site" if "site" in request else "app" if "app" in request else None
    for imp in request.get("imp") or ():
        rate = config.currency_rates.get(imp.get("bidfloorcur") or "USD")
        if rate is None:
            continue
        floor = (imp.get("bidfloor") or 0) * rate
        for c in config.campaigns:
            if not c.audience.is_empty() or c.targeting.countries:
                continue
            if c.targeting.inventory and inventory not in c.targeting.inventory:
                continue
            if any(_creative_fits(cr, imp, request) for cr in c.creatives) and (
                _prior_cpm(c) >= floor
            ):
                return True
    return False


def test_example_config_matches_share_of_exchange_requests(shared_data: Path) -> None:
    config = load_config(ROOT / "config.yaml", environ={})
    lines = (shared_data / "openrtb" / "requests.jsonl").read_text().splitlines()
    requests = [row["request"] for row in map(json.loads, lines) if row["role"] == "pbs_to_bidder"]

    share = sum(_bids(config, r) for r in requests) / len(requests)

    assert share >= MIN_MATCH_SHARE
