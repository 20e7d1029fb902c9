"""Full-path replay throughput: auctions per second through parse -> decide -> notices.

Baselines measured in the same run on the same rows: a loop that only reads the log rows
(``market_rows``), and one that also serialises and parses each request. Writes
``benchmarks/results/replay-full-<date>-<prior|model><tag>.json`` (never over an existing file).

    .venv/bin/python benchmarks/bench_replay_full.py [--model models/default] [--repeat 3] [--tag -after]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time
from pathlib import Path
from typing import Any

import orjson

from bidder.openrtb.request import parse_bid_request
from bidder.settings import data_dir
from simulator.full_run import load_rows, run_full_replay
from simulator.ipinyou import market_rows
from simulator.replay import AuctionType

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "simulator" / "configs" / "ipinyou-2259.yaml"


def _best_of(repeat: int, fn: Any) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--log", type=Path, default=data_dir() / "ipinyou/camp2259-raw/train.log.txt")
    ap.add_argument("--model", type=Path, default=None, help="model dir (default: priors)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tag", default="", help="suffix of the result name, e.g. -after")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    rows = load_rows(args.log)
    n = len(rows)
    scorer = None
    if args.model is not None:
        from bidder.model.scorer import load_scorer

        scorer = load_scorer(args.model, predictor="auto")

    def read_only() -> None:
        for _ in market_rows(args.log):
            pass

    def read_and_parse() -> None:
        for row in rows:
            parse_bid_request(orjson.dumps(row.request))

    def full() -> None:
        run_full_replay(
            args.log,
            CONFIG,
            budget_fraction=0.25,
            auction=AuctionType.SECOND_PRICE,
            seed=1,
            version="bench",
            scorer=scorer,
            rows=rows,
            optimize=False,
        )

    t_read = _best_of(args.repeat, read_only)
    t_parse = _best_of(args.repeat, read_and_parse)
    t_full = _best_of(args.repeat, full)
    result = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor(),
            "cores_used": 1,
        },
        "log": args.log.name,
        "rows": n,
        "model": str(args.model) if args.model else "prior",
        "auctions_per_s": {
            "read_rows_only": round(n / t_read),
            "read_and_parse_requests": round(n / t_parse),
            "full_path_decide_and_notices": round(n / t_full),
        },
        "full_vs_read_only": round(t_read / t_full, 4),
        "target_auctions_per_s": 20_000,
        "target_met": n / t_full >= 20_000,
    }
    tag = "model" if args.model is not None else "prior"
    out = args.out / f"replay-full-{result['date']}-{tag}{args.tag}.json"
    if out.exists():  # dated results are kept: name a new run with --tag
        print(json.dumps(result["auctions_per_s"]), f"(not written: {out} exists)")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["auctions_per_s"]), "->", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
