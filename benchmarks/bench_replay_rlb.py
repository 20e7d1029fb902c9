"""Benchmark: rlb replay of iPinYou 2997 test (156,063 auctions) against a parse-only loop.

Run: ``.venv/bin/python benchmarks/bench_replay_rlb.py [--repeat 5]``. Both timings come
from the same run; the result goes to ``benchmarks/results/replay-rlb-<date>.json``.
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

import numpy as np

from bidder.settings import data_dir
from bidder.strategies import build_strategy
from simulator.report import code_version
from simulator.rlb import ReplayConfig, load_train_stats, parse_stream, replay

RESULTS = Path(__file__).resolve().parent / "results"


def parse_only_loop(path: Path) -> int:
    """The baseline: read every row into Python values and do nothing else."""
    n = 0
    with path.open() as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            _click, _price, _pctr = int(parts[0]), int(parts[1]), float(parts[2])
            n += 1
    return n


def full_replay(log: Path, info: Path, strategy: str, params: dict[str, float]) -> int:
    """Parse, bid and walk the budget: everything `rtb replay` does except the report."""
    stream = parse_stream(log)
    stats = load_train_stats(info)
    built = build_strategy(strategy, params, stats, np.random.default_rng(1))
    totals = replay(stream, built, stats, ReplayConfig(1 / 32))
    return int(totals.clicks.sum())


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def measure(
    repeat: int, log: Path, info: Path, name: str, params: dict[str, float], parse_min: float
) -> dict[str, object]:
    """Full replay (parse + bid + walk) and kernel-only timings for one strategy."""
    full_min, full_med = best_of(repeat, lambda: full_replay(log, info, name, params))
    stream, stats = parse_stream(log), load_train_stats(info)
    built = build_strategy(name, params, stats)
    kernel_min, _ = best_of(repeat, lambda: replay(stream, built, stats, ReplayConfig(1 / 32)))
    return {
        "clicks": full_replay(log, info, name, params),
        "full_replay_s": {"min": full_min, "median": full_med},
        "replay_kernel_s": {"min": kernel_min},
        "full_over_parse_only": full_min / parse_min,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rlb = data_dir() / "ipinyou" / "rlb-dp"
    log, info = rlb / "streams" / "2997.test.txt", rlb / "info" / "2997.info.json"
    parse_min, parse_med = best_of(args.repeat, lambda: parse_only_loop(log))
    result: dict[str, object] = {
        "benchmark": "replay-rlb",
        "log": log.name,
        "auctions": parse_only_loop(log),
        "repeat": args.repeat,
        "parse_only_loop_s": {"min": parse_min, "median": parse_med},
        "code_version": code_version(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    cases: tuple[tuple[str, dict[str, float]], ...] = (
        ("lin", {"b0": 10.0}),
        ("mcpc", {}),
        ("ortb1", {"c": 80.0, "lambda": 2.4e-4}),
    )
    by_strategy: dict[str, object] = {}
    for name, params in cases:
        by_strategy[name] = measure(args.repeat, log, info, name, params, parse_min)
    result["strategies"] = by_strategy
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"replay-rlb-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
