"""Fixtures for the CTR model tests: a tiny synthetic market (the `rtb synth` format), a model."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from bidder.candidate import AuctionContext, Candidate
from bidder.config.model import Budget, Campaign, Creative
from bidder.model.dataset import IPINYOU_COLUMNS
from bidder.model.train import TrainConfig, TrainResult, train_model
from bidder.openrtb.types import Banner, BidRequest, Device, Geo, Imp, Publisher, Site

SITES = [f"site{i:02d}.example" for i in range(20)]
SIZES = [(300, 250), (728, 90), (160, 600), (320, 50)]
VISIBILITY = ["FirstView", "SecondView", "OtherView", "Na"]
AGENTS = ["windows_chrome", "windows_ie", "mac_safari", "android_chrome"]
CREATIVES = ["c1", "c2", "c3"]


def true_ctr(
    site: np.ndarray,
    size: np.ndarray,
    vis: np.ndarray,
    hour: np.ndarray,
    creative: np.ndarray,
    tag7: np.ndarray,
    ua: np.ndarray,
) -> np.ndarray:
    """Known click probability: main effects plus a creative x size interaction."""
    site_effect = np.linspace(-1.5, 1.5, len(SITES))[site]
    logit = -3.2 + site_effect + np.array([0.3, -0.4, 0.1, 0.5])[size]
    logit += np.array([0.6, 0.2, -0.3, 0.0])[vis] + 0.5 * np.sin(hour / 24 * 2 * np.pi)
    logit += 0.8 * tag7 + np.array([0.0, -0.2, 0.3, 0.4])[ua]
    logit += np.where((creative == 1) & (size == 1), 1.5, 0.0) - 0.2 * creative
    return 1.0 / (1.0 + np.exp(-logit))


def write_synthetic_market(path: Path, n_rows: int, seed: int) -> Path:
    """Write DIR/log.tsv (iPinYou columns + true_ctr + market_price), requests.jsonl, meta.json."""
    rng = np.random.default_rng(seed)
    site = rng.integers(0, len(SITES), n_rows)
    size = rng.integers(0, len(SIZES), n_rows)
    vis = rng.integers(0, len(VISIBILITY), n_rows)
    hour = rng.integers(0, 24, n_rows)
    creative = rng.integers(0, len(CREATIVES), n_rows)
    ua = rng.integers(0, len(AGENTS), n_rows)
    tag7 = rng.random(n_rows) < 0.3
    ctr = true_ctr(site, size, vis, hour, creative, tag7.astype(int), ua)
    click = (rng.random(n_rows) < ctr).astype(int)
    path.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join([*IPINYOU_COLUMNS, "true_ctr", "market_price"])]
    for i in range(n_rows):
        w, h = SIZES[size[i]]
        tags = ["10006", "10063"] + (["10007"] if tag7[i] else [])
        row = {
            "click": str(click[i]),
            "weekday": str(i * 7 // n_rows),
            "hour": f"{hour[i]:02d}",
            "bidid": f"b{i}",
            "timestamp": f"201310{19 + i * 7 // n_rows:02d}000000{i:06d}",
            "logtype": "1",
            "ipinyouid": f"u{i % 997}",
            "useragent": AGENTS[ua[i]],
            "IP": "1.2.3.*",
            "region": "216",
            "city": str(200 + site[i] % 5),
            "adexchange": str(1 + i % 3),
            "domain": SITES[site[i]],
            "url": "null",
            "urlid": "null",
            "slotid": f"slot{site[i]}",
            "slotwidth": str(w),
            "slotheight": str(h),
            "slotvisibility": VISIBILITY[vis[i]],
            "slotformat": "Na",
            "slotprice": str(int(rng.integers(0, 100))),
            "creative": CREATIVES[creative[i]],
            "bidprice": "300",
            "payprice": "0",
            "keypage": "null",
            "advertiser": "3000",
            "usertag": ",".join(tags),
            "nclick": str(click[i]),
            "nconversation": "0",
        }
        fields = [row[c] for c in IPINYOU_COLUMNS]
        lines.append("\t".join([*fields, f"{ctr[i]:.6f}", str(int(rng.integers(10, 300)))]))
    (path / "log.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (path / "requests.jsonl").write_text("", encoding="utf-8")
    (path / "meta.json").write_text(json.dumps({"rows": n_rows, "seed": seed}), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 rows with a known CTR (about 3 %), in `rtb synth`'s folder format."""
    return write_synthetic_market(tmp_path_factory.mktemp("market"), 20000, seed=7)


@pytest.fixture(scope="session")
def trained(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """A small model trained on ``synthetic_dir`` (shared: training is the slow part)."""
    out = tmp_path_factory.mktemp("models") / "synth-small"
    config = TrainConfig(seed=1, num_boost_round=200, num_leaves=15, num_threads=1)
    return train_model(synthetic_dir, "synthetic", out, config, progress=None)


@pytest.fixture
def auction() -> tuple[AuctionContext, list[Candidate]]:
    """One OpenRTB request from the synthetic market's world, with 8 candidates."""
    imp = Imp(id="1", banner=Banner(w=728, h=90, pos=1))
    request = BidRequest(
        id="r1",
        imp=(imp,),
        site=Site(domain=SITES[19], publisher=Publisher(id="p1")),
        device=Device(ua="Mozilla/5.0 (Windows NT 10.0) Chrome/120.0", geo=Geo(region="216")),
    )
    creatives = tuple(Creative(id=c, format="banner", w=728, h=90) for c in CREATIVES)
    campaign = Campaign(
        id="3000",
        advertiser_domain="a.example",
        budget=Budget(10, 10),
        max_bid_micros=5000,
        creatives=creatives,
    )
    ctx = AuctionContext(
        request=request,
        now=dt.datetime(2026, 1, 5, 6, tzinfo=dt.UTC),
        exchange="adx1",
        user_hash=None,
        tags=frozenset({"seg:ipinyou:10006", "seg:ipinyou:10007"}),
        user_data_allowed=True,
        hour=6,
        weekday=1,
    )
    candidates = [
        Candidate(0, imp, campaign, creatives[i % 3], "banner", 100 * i) for i in range(8)
    ]
    return ctx, candidates
