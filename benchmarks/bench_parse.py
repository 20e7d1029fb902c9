"""Parser benchmark: µs per parse_bid_request over the shared corpus vs plain orjson.loads.

Measured in one run, on the same bodies: ``orjson.loads`` alone (the floor any parser
that builds Python objects pays), the full walk (orjson + the typed walk, the parser
before the msgspec fast path) and ``parse_bid_request`` (msgspec fast path, falling back
to the walk for requests with warnings). CPU time (``process_time``), median of passes.

Run: ``.venv/bin/python benchmarks/bench_parse.py [--repeat N]``; writes
``benchmarks/results/parse-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson

from bidder.errors import RequestError
from bidder.openrtb.fast import decode_clean
from bidder.openrtb.request import DEFAULT_LIMITS as L
from bidder.openrtb.request import parse_bid_request, parse_bid_request_walk
from bidder.settings import data_dir

RESULTS = Path(__file__).resolve().parent / "results"


def _parse(body: bytes) -> Any:
    try:
        return parse_bid_request(body)
    except RequestError:
        return None


def _walk(body: bytes) -> Any:
    try:
        return parse_bid_request_walk(body)
    except RequestError:
        return None


def _us_per_call(fn: Callable[[bytes], Any], bodies: list[bytes], repeat: int) -> float:
    """Median over ``repeat`` passes of the mean µs per call."""
    passes = []
    for _ in range(repeat):
        start = time.process_time()
        for body in bodies:
            fn(body)
        passes.append((time.process_time() - start) / len(bodies) * 1e6)
    return statistics.median(passes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = [orjson.loads(line) for line in (data_dir() / "openrtb" / "requests.jsonl").open("rb")]
    groups = {
        "all": [orjson.dumps(r["request"]) for r in rows],
        "pbs_to_bidder": [orjson.dumps(r["request"]) for r in rows if r["role"] == "pbs_to_bidder"],
    }
    result: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "orjson": orjson.__version__,
        "msgspec": msgspec.__version__,
        "repeat": args.repeat,
        "groups": {},
    }
    for name, bodies in groups.items():
        loads_us = _us_per_call(orjson.loads, bodies, args.repeat)
        walk_us = _us_per_call(_walk, bodies, args.repeat)
        parse_us = _us_per_call(_parse, bodies, args.repeat)
        fast = sum(
            decode_clean(b, None, L.max_imps, L.max_depth, L.max_array_len) is not None
            for b in bodies
        )
        result["groups"][name] = {
            "n_requests": len(bodies),
            "mean_body_bytes": round(sum(map(len, bodies)) / len(bodies)),
            "fast_path_share": round(fast / len(bodies), 3),
            "orjson_loads_us": round(loads_us, 2),
            "walk_us": round(walk_us, 2),
            "parse_bid_request_us": round(parse_us, 2),
            "ratio_to_loads": round(parse_us / loads_us, 2),
            "speedup_over_walk": round(walk_us / parse_us, 2),
        }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"parse-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
