"""Parser benchmark: µs per parse_bid_request over the shared corpus vs plain orjson.loads.

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

import orjson

from bidder.errors import RequestError
from bidder.openrtb.request import parse_bid_request
from bidder.settings import data_dir

RESULTS = Path(__file__).resolve().parent / "results"


def _parse(body: bytes) -> Any:
    try:
        return parse_bid_request(body)
    except RequestError:
        return None


def _us_per_call(fn: Callable[[bytes], Any], bodies: list[bytes], repeat: int) -> float:
    """Median over ``repeat`` passes of the mean µs per call."""
    passes = []
    for _ in range(repeat):
        start = time.perf_counter()
        for body in bodies:
            fn(body)
        passes.append((time.perf_counter() - start) / len(bodies) * 1e6)
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
        "repeat": args.repeat,
        "groups": {},
    }
    for name, bodies in groups.items():
        loads_us = _us_per_call(orjson.loads, bodies, args.repeat)
        parse_us = _us_per_call(_parse, bodies, args.repeat)
        result["groups"][name] = {
            "n_requests": len(bodies),
            "mean_body_bytes": round(sum(map(len, bodies)) / len(bodies)),
            "orjson_loads_us": round(loads_us, 2),
            "parse_bid_request_us": round(parse_us, 2),
            "ratio": round(parse_us / loads_us, 1),
        }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"parse-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
