"""Shared by the process tests: a fleet config on the shared Redis, and HTTP helpers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.fleet.conftest import SHARED_URL

CAP = 3
BUDGET_CPM = 5.0
DAILY_UNITS = 8  # the budget campaign's daily budget: 8 units = 1600 impressions at 5.0 CPM
LEASE_FRACTION = 0.02

CONFIG = """
server:
  timezone: UTC
  bidlog_path: null
model: {{path: null}}
backend:
  kind: redis
  redis_url: {url}
  key_prefix: "{prefix}"
  node_id: fleet
  lease_fraction: {fraction}
  lease_ttl_s: 10
  sync_interval_s: 0.1
campaigns:
  - id: c-budget
    advertiser_domain: budget.example
    iab_categories: [IAB2]
    budget: {{total: 100, daily: {daily}}}
    max_bid_cpm: {cpm}
    bid_strategy: {{type: fixed_cpm, cpm: {cpm}}}
    pacing: asap
    targeting: {{media: [banner], sizes: [300x250]}}
    creatives:
      - {{id: b1, format: banner, size: 300x250, markup: "<div>b</div>", landing_url: "https://budget.example/"}}
  - id: c-cap
    advertiser_domain: cap.example
    iab_categories: [IAB3]
    budget: {{total: 1000, daily: 1000}}
    max_bid_cpm: 2.0
    bid_strategy: {{type: fixed_cpm, cpm: 2.0}}
    pacing: asap
    frequency_cap: {{impressions: {cap}, window: 1h}}
    targeting: {{media: [banner], sizes: [728x90]}}
    creatives:
      - {{id: k1, format: banner, size: 728x90, markup: "<div>k</div>", landing_url: "https://cap.example/"}}
"""


def write_config(path: Path, prefix: str) -> Path:
    path.write_text(CONFIG.format(url=SHARED_URL, prefix=prefix, fraction=LEASE_FRACTION,
                                  daily=DAILY_UNITS, cpm=BUDGET_CPM, cap=CAP))  # fmt: skip
    return path


def bid_request(request_id: str, user_id: str, w: int, h: int) -> bytes:
    return json.dumps({
        "id": request_id,
        "imp": [{"id": "1", "banner": {"w": w, "h": h}}],
        "tmax": 500,
        "site": {"id": "s1", "domain": "news.example", "page": "https://news.example/a"},
        "device": {"ua": "Mozilla/5.0", "ip": "203.0.113.7"},
        "user": {"id": user_id},
    }).encode()  # fmt: skip


def post(url: str, body: bytes, timeout_s: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get(url: str, timeout_s: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
