"""µs per decide() by stage on the real request mix, with the example config and a model.

Stages (the same code ``Auction.decide`` and the bid handler run, timed one by one):
parse (``parse_bid_request``), targeting (user context, compiled index, campaign and
creative checks), features (``encode_candidates_into`` the preallocated buffer, or
``raw_from_candidate`` + ``encode_into`` for an encoder without it), scoring (tree
predictor + calibration), pricing (``Auction._price`` minus the ledger), ledger (``reserve``/dedupe lookups), render (``render_response``, bids only).
``end_to_end`` is parse + ``decide`` + render as the handler calls them (wall time per
request, and the CPU time of the best pass). Stage figures are the best of the passes (a
noisy neighbour only adds time; the mean of all passes is kept too). Then py-spy
records the slowest stage looping alone and saves a flame graph (speedscope JSON).

Run: ``.venv/bin/python benchmarks/bench_decide.py --model /tmp/model [--predictor
compiled] [--tag -after]``; writes ``benchmarks/results/decide-<date><tag>.json`` (+ the
flame graph), never over an existing file.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

STAGES = ("parse", "targeting", "features", "scoring", "pricing", "ledger", "render")


class _TimedLedger:
    """Wraps the ledger: accumulates the time spent in it (the 'ledger' stage).

    The four calls ``decide`` makes are plain methods (a ``__getattr__`` closure per call
    would add its own cost to the pricing stage); everything else is passed through.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spent = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def reserve(self, key: str, campaign_id: str, arm: str, amount_micros: int, now: float) -> bool:
        t = time.perf_counter()
        ok: bool = self.inner.reserve(key, campaign_id, arm, amount_micros, now)
        self.spent += time.perf_counter() - t
        return ok

    def reservation_micros(self, key: str) -> int | None:
        t = time.perf_counter()
        held: int | None = self.inner.reservation_micros(key)
        self.spent += time.perf_counter() - t
        return held

    def is_charged(self, key: str) -> bool:
        t = time.perf_counter()
        charged: bool = self.inner.is_charged(key)
        self.spent += time.perf_counter() - t
        return charged

    def release(self, key: str, now: float) -> bool:
        t = time.perf_counter()
        released: bool = self.inner.release(key, now)
        self.spent += time.perf_counter() - t
        return released


def build(model: Path | None, predictor: str) -> tuple[Any, list[bytes]]:
    """A runtime on config.yaml (budgets x1000, in memory) and the parseable requests."""
    import yaml

    from bidder.config.load import parse_config
    from bidder.errors import RequestError
    from bidder.openrtb.request import parse_bid_request
    from bidder.runtime import build_runtime
    from bidder.scoring import PriorScorer
    from bidder.settings import data_dir

    doc = yaml.safe_load((ROOT / "config.yaml").read_text())
    for campaign in doc.get("campaigns", []):
        budget = campaign.get("budget") or {}
        for k in ("total", "daily"):
            if k in budget:
                budget[k] = budget[k] * 1000
    doc["model"] = {"path": None}
    config = parse_config(yaml.safe_dump(doc), environ={}, source="bench")
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, bidlog_path=None)
    )
    scorer: Any = PriorScorer()
    if model is not None:
        from bidder.model.load import load_scorer

        scorer = load_scorer(model, predictor)
    runtime = build_runtime(config, scorer, clock=time.time, persist=False)
    import orjson

    bodies = []
    with (data_dir() / "openrtb" / "requests.jsonl").open("rb") as fh:
        for line in fh:
            body = orjson.dumps(orjson.loads(line)["request"])
            try:
                parse_bid_request(body)
            except RequestError:
                continue
            bodies.append(body)
    return runtime, bodies


def breakdown(runtime: Any, bodies: list[bytes], passes: int) -> dict[str, Any]:
    from bidder.features import raw_from_candidate
    from bidder.openrtb.request import parse_bid_request
    from bidder.openrtb.response import render_response

    auction = runtime.auction
    scorer = auction.scorer
    timed = _TimedLedger(auction.ledger)
    auction.ledger = timed
    pass_totals: list[dict[str, float]] = []
    e2e: list[float] = []
    e2e_cpu_s: list[float] = []
    n = bids = candidates = 0
    has_encoder = hasattr(scorer, "encoder")
    # the scorer's own encoding path when it has one (features of all candidates at once)
    by_jobs = has_encoder and hasattr(scorer.encoder, "encode_candidates_into")
    import numpy as np

    buf = np.zeros((64, scorer.encoder.n_columns), dtype=np.float32) if has_encoder else None
    pc = time.perf_counter
    for _ in range(passes):
        totals = dict.fromkeys(STAGES, 0.0)
        pass_totals.append(totals)
        for body in bodies:
            now_s = time.time()
            now = dt.datetime.fromtimestamp(now_s, dt.UTC)
            # one request, stage by stage
            t0 = pc()
            parsed, _ = parse_bid_request(body)
            t1 = pc()
            ctx = auction.context(parsed, now, "default")
            rej: Counter[Any] = Counter()
            cands = auction._candidates(ctx, runtime.plan, rej)
            t2 = pc()
            t3 = t4 = t2
            pctrs: list[float] = []
            if cands:
                if by_jobs:
                    x = buf[: len(cands)]  # type: ignore[index]
                    scorer.encoder.encode_candidates_into(x, [(ctx, cands)])
                    t3 = pc()
                    pctrs = scorer.score_encoded(x).tolist()
                elif has_encoder:
                    raws = [raw_from_candidate(ctx, c) for c in cands]
                    x = buf[: len(raws)]  # type: ignore[index]
                    scorer.encoder.encode_into(x, raws)
                    t3 = pc()
                    pctrs = scorer.score_encoded(x).tolist()
                else:
                    t3 = pc()
                    pctrs = scorer.score(ctx, cands).tolist()
                t4 = pc()
            timed.spent = 0.0
            result = auction._price(ctx, runtime.plan, cands, pctrs, rej) if cands else []
            t5 = pc()
            ledger_s = timed.spent
            decision = auction.decide(parsed, runtime.plan, now, "default") if result else None
            # ^ the real decide for render input; its own time is measured below
            t6 = pc()
            if decision is not None and decision.bids:
                render_response(decision, runtime.config, runtime.signer, int(now_s))
                auction.cancel(decision, now)
            t7 = pc()
            for bid in result:
                if bid.reserved:
                    timed.inner.release(bid.id, now_s)
            totals["parse"] += t1 - t0
            totals["targeting"] += t2 - t1
            totals["features"] += t3 - t2
            totals["scoring"] += t4 - t3
            totals["pricing"] += (t5 - t4) - ledger_s
            totals["ledger"] += ledger_s
            totals["render"] += t7 - t6
            n += 1
            bids += len(result)
            candidates += len(cands)
        # end to end: what the handler runs, the whole pass timed in CPU time as well
        now_s = time.time()
        now = dt.datetime.fromtimestamp(now_s, dt.UTC)
        cpu0 = time.process_time()
        for body in bodies:
            s = pc()
            parsed, _ = parse_bid_request(body)
            d = auction.decide(parsed, runtime.plan, now, "default")
            if d.bids:
                render_response(d, runtime.config, runtime.signer, int(now_s))
            e2e.append(pc() - s)
            auction.cancel(d, now)
        e2e_cpu_s.append((time.process_time() - cpu0) / len(bodies))
    auction.ledger = timed.inner
    n_pass = len(bodies)
    # a noisy neighbour only ever adds time: the best pass of each stage is the estimate
    per = {k: round(min(t[k] for t in pass_totals) / n_pass * 1e6, 2) for k in STAGES}
    per_mean = {k: round(sum(t[k] for t in pass_totals) / n * 1e6, 2) for k in STAGES}
    e2e.sort()
    return {
        "requests_per_pass": len(bodies),
        "passes": passes,
        "us_per_request_by_stage": per,
        "us_per_request_by_stage_mean_of_passes": per_mean,
        "us_per_request_sum_of_stages": round(sum(per.values()), 2),
        "end_to_end_us": {
            "mean": round(statistics.fmean(e2e) * 1e6, 2),
            "p50": round(e2e[len(e2e) // 2] * 1e6, 2),
            "p99": round(e2e[int(len(e2e) * 0.99)] * 1e6, 2),
            "cpu_best_pass": round(min(e2e_cpu_s) * 1e6, 2),
        },
        "bids_per_request": round(bids / n, 3),
        "candidates_per_request": round(candidates / n, 3),
        "stage_share": {k: round(v / max(sum(per.values()), 1e-12), 3) for k, v in per.items()},
    }


def _stage_loop(runtime: Any, bodies: list[bytes], stage: str, seconds: float) -> None:
    """Loop one stage alone (what py-spy records)."""
    from bidder.openrtb.request import parse_bid_request
    from bidder.openrtb.response import render_response

    auction = runtime.auction
    now_s = time.time()
    now = dt.datetime.fromtimestamp(now_s, dt.UTC)
    prepared = []
    for body in bodies:
        parsed, _ = parse_bid_request(body)
        ctx = auction.context(parsed, now, "default")
        cands = auction._candidates(ctx, runtime.plan, Counter())
        prepared.append((body, parsed, ctx, cands))
    with_cands = [p for p in prepared if p[3]]
    scorer = auction.scorer
    end = time.monotonic() + seconds
    fns: dict[str, Callable[[], None]] = {}

    def parse() -> None:
        for body, *_ in prepared:
            parse_bid_request(body)

    def targeting() -> None:
        for _, parsed, _, _ in prepared:
            ctx = auction.context(parsed, now, "default")
            auction._candidates(ctx, runtime.plan, Counter())

    def features() -> None:
        for _, _, ctx, cands in with_cands:
            scorer.encoder.encode_candidates_into(scorer._buffer[: len(cands)], [(ctx, cands)])

    def scoring() -> None:
        for _, _, ctx, cands in with_cands:
            scorer.score(ctx, cands)

    def whole() -> None:
        for _, parsed, _, _ in prepared:
            d = auction.decide(parsed, runtime.plan, now, "default")
            if d.bids:
                render_response(d, runtime.config, runtime.signer, int(now_s))
            auction.cancel(d, now)

    fns.update(parse=parse, targeting=targeting, features=features, scoring=scoring)
    fn = fns.get(stage, whole)
    while time.monotonic() < end:
        fn()


def flame(model: Path | None, predictor: str, stage: str, out: Path, seconds: float) -> str | None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        return None
    cmd = [
        pyspy,
        "record",
        "--format",
        "speedscope",
        "-o",
        str(out),
        "--rate",
        "250",
        "--",
        sys.executable,
        str(Path(__file__).resolve()),
        "--loop-stage",
        stage,
        "--seconds",
        str(seconds),
        "--predictor",
        predictor,
    ] + (["--model", str(model)] if model else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out.exists():
        return f"py-spy failed: {proc.stderr.strip()[-300:]}"
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--predictor", default="booster")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--seconds", type=float, default=8.0, help="py-spy recording length")
    p.add_argument("--loop-stage", default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-flame", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--tag", default="")
    args = p.parse_args()
    date = dt.date.today().isoformat()
    stem = f"decide-{date}{args.tag}"
    if not args.loop_stage and (args.out / f"{stem}.json").exists():
        print(f"{args.out / f'{stem}.json'} exists: name a new run with --tag", file=sys.stderr)
        return 1
    runtime, bodies = build(args.model, args.predictor)
    if args.loop_stage:
        _stage_loop(runtime, bodies, args.loop_stage, args.seconds)
        return 0
    result = breakdown(runtime, bodies, args.passes)
    per = result["us_per_request_by_stage"]
    slowest = max(per, key=lambda k: per[k])
    args.out.mkdir(parents=True, exist_ok=True)
    flame_path = args.out / f"{stem}-flame-{slowest}.speedscope.json"
    err = (
        None
        if args.no_flame
        else flame(args.model, args.predictor, slowest, flame_path, args.seconds)
    )
    doc = {
        "date": date,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "config": "config.yaml (budgets x1000, in-memory state)",
        "model": str(args.model) if args.model else None,
        "predictor": getattr(getattr(runtime.auction.scorer, "predictor", None), "name", "prior"),
        **result,
        "slowest_stage": slowest,
        "flame_graph": None if args.no_flame or err else flame_path.name,
        **({"flame_error": err} if err else {}),
    }
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
