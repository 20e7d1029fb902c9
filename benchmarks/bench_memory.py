"""Memory per worker: RSS with 1,000,000 users in the frequency-cap store and 1,000,000
users with audience tags (``bidder.stores``), reported as bytes per user; and with
1,000,000 clicked bids remembered for click de-duplication (``bidder.seen_clicks``, its
default capacity), as bytes per click.

Each measurement runs in a fresh process (``--part``) so RSS deltas are not blurred by
the allocator keeping freed memory: the baseline is a worker-like process with the
bidder imported and the stores empty; then the users are added and RSS read again.
User ids are hashed like the bidder's (``IdHasher``: 16 hex chars). Frequency: each user
saw 1 to 3 impressions of one campaign (and 10% of them of a second campaign); tags: 1
to 4 tags of a 50-tag vocabulary, 30-day TTL. Clicks: bid keys shaped like the bidder's
(``auction._bid_id``: 20 hex chars), each clicked once.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--users 1000000]``; writes
``benchmarks/results/memory-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _part(kind: str, users: int) -> dict[str, Any]:
    from bidder.auction import _bid_id
    from bidder.privacy import IdHasher
    from bidder.seen_clicks import SeenClicks
    from bidder.stores.freqcap import EmbeddedFrequencyStore
    from bidder.stores.tags import EmbeddedTagStore

    hasher = IdHasher("bench")
    now = time.time()
    if kind == "clicks":  # the keys exist in any case (the click notice carries them)
        ids = [_bid_id(f"auction-{i}", "1") for i in range(users)]
    else:
        ids = [hasher.hash(f"user-{i}") for i in range(users)]
    gc.collect()
    base = rss_bytes()
    start = time.perf_counter()
    if kind == "freqcap":
        freq = EmbeddedFrequencyStore()
        for i, u in enumerate(ids):
            for k in range(1 + i % 3):
                freq.record(u, "camp-a", 86_400, now - k * 60)
            if i % 10 == 0:
                freq.record(u, "camp-b", 86_400, now)
        entries = freq.user_count()
    elif kind == "clicks":
        seen = SeenClicks()
        for u in ids:
            seen.first(u)
        entries = len(seen)
    else:
        tags = EmbeddedTagStore()
        vocab = [f"seg:aud:{j}" for j in range(50)]
        for i, u in enumerate(ids):
            tags.add(u, [vocab[(i + j * 7) % 50] for j in range(1 + i % 4)], 30 * 86_400, now)
        entries = tags.user_count()
    fill_s = time.perf_counter() - start
    gc.collect()
    after = rss_bytes()
    return {
        "store": kind,
        "users": users,
        "entries": entries,
        "rss_before_bytes": base,
        "rss_after_bytes": after,
        "bytes_per_user": round((after - base) / users, 1),
        "fill_seconds": round(fill_s, 2),
    }


def _worker_baseline() -> dict[str, Any]:
    """RSS of a process that imported the bidder (no model): the per-worker floor."""
    import bidder.app
    import bidder.runtime  # noqa: F401

    gc.collect()
    return {"rss_bytes": rss_bytes()}


def _per_click(r: dict[str, Any]) -> dict[str, Any]:
    """The clicks part in its own words: clicked bids remembered, bytes per click."""
    from bidder.auction import _bid_id

    key_bytes = sys.getsizeof(_bid_id("auction-0", "1"))
    return {
        "structure": "bidder.seen_clicks.SeenClicks (default capacity 1,000,000)",
        "clicks": r["users"],
        "entries": r["entries"],
        "rss_before_bytes": r["rss_before_bytes"],
        "rss_after_bytes": r["rss_after_bytes"],
        "bytes_per_click": r["bytes_per_user"],
        "fill_seconds": r["fill_seconds"],
        "key_str_bytes": key_bytes,  # the bid key, when the set holds its only reference
        "bytes_per_click_including_key": round(r["bytes_per_user"] + key_bytes, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--part", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.part:
        out = _worker_baseline() if args.part == "baseline" else _part(args.part, args.users)
        print(json.dumps(out))
        return 0
    results = {}
    for part in ("baseline", "freqcap", "tags", "clicks"):
        proc = subprocess.run(
            [sys.executable, __file__, "--part", part, "--users", str(args.users)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results[part] = json.loads(proc.stdout.strip().splitlines()[-1])
    from bidder.privacy import IdHasher

    id_bytes = sys.getsizeof(IdHasher("bench").hash("user-0"))
    for part in ("freqcap", "tags"):
        r = results[part]
        r["user_id_str_bytes"] = id_bytes  # the key, when the store holds its only reference
        r["bytes_per_user_including_id"] = round(r["bytes_per_user"] + id_bytes, 1)
    doc = {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "worker_baseline_rss_bytes": results["baseline"]["rss_bytes"],
        "frequency_caps": results["freqcap"],
        "audience_tags": results["tags"],
        "remembered_clicks": _per_click(results["clicks"]),
        "per_worker_note": "each worker holds its own stores: multiply by server.workers",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"memory-{doc['date']}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
