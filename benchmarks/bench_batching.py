"""Cross-request score batching: CPU per request of the bid handler's work at batch 1..32.

The same in-process loop the bid handler runs (parse, prepare, score, complete, bid log,
stats, metrics, render) over the real request mix, with the candidates of ``k``
consecutive requests scored in one ``score_jobs`` call, as ``bidder.batching`` does for
the requests of one event-loop turn. Batch 1 is the baseline, measured in the same run.
CPU time (``process_time``), best of 3 passes.

Run: ``.venv/bin/python benchmarks/bench_batching.py --model /tmp/model``; writes
``benchmarks/results/batching-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_decide import build  # noqa: E402

from bidder.bidlog import BidLog  # noqa: E402
from bidder.decision import Decision  # noqa: E402
from bidder.openrtb.request import parse_bid_request  # noqa: E402
from bidder.openrtb.response import render_response  # noqa: E402
from bidder.scoring import score_jobs  # noqa: E402
from bidder.stats import stats_for  # noqa: E402

BATCHES = (1, 4, 8, 16, 32)


def one_pass(runtime: Any, bodies: list[bytes], k: int) -> None:
    auction = runtime.auction
    now_s = time.time()
    now = dt.datetime.fromtimestamp(now_s, dt.UTC)
    for start in range(0, len(bodies), k):
        prepared = []
        for body in bodies[start : start + k]:
            parsed, _ = parse_bid_request(body, version="2.5", limits=runtime.parse_limits)
            prepared.append((body, auction.prepare(parsed, runtime.plan, now, "default")))
        pending = [p for _, p in prepared if not isinstance(p, Decision)]
        scored = iter(score_jobs(auction.scorer, [(p.ctx, p.candidates) for p in pending]))
        for body, p in prepared:
            d = (
                p
                if isinstance(p, Decision)
                else auction.complete(p, next(scored).tolist(), auction.scorer.version)
            )
            for reason, count in d.rejections.items():
                runtime.metrics.rejections.labels(reason.value).inc(count)
            runtime.bidlog.add_decision(body, d, now_s)
            stats_for(runtime, runtime.setup.tz).add_decision(d, now_s)
            if d.bids:
                render_response(d, runtime.config, runtime.signer, int(now_s))
            auction.cancel(d, now)
        if runtime.bidlog.pending >= 1000:
            runtime.bidlog.flush()
    runtime.bidlog.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=None, help="model dir (default: priors)")
    ap.add_argument("--predictor", default="compiled")
    args = ap.parse_args()
    runtime, bodies = build(args.model, args.predictor)
    runtime.bidlog = BidLog(Path(tempfile.mkdtemp()) / "bidlog.jsonl", runtime.auction.hasher)
    us: dict[str, float] = {}
    for k in BATCHES:
        one_pass(runtime, bodies, k)
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            one_pass(runtime, bodies, k)
            best = min(best, time.process_time() - start)
        us[str(k)] = round(best / len(bodies) * 1e6, 1)
        print(f"[bench batching] batch {k}: {us[str(k)]} us CPU per request", flush=True)
    doc = {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "model": str(args.model) if args.model else "priors",
        "predictor": args.predictor,
        "requests_per_pass": len(bodies),
        "cpu_us_per_request_by_batch": us,
        "batch_1_over_batch_32": round(us["1"] / us["32"], 2),
    }
    out = ROOT / "benchmarks" / "results" / f"batching-{doc['date']}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
