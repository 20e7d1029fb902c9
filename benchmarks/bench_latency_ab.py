"""Tail latency of two versions of the bidder at one fixed rate, in alternating pairs.

On a shared machine one run's p99 swings by 2x from minute to minute, so a change to tail
latency can only be seen against a baseline measured in the same minutes. This runs the
bidder of git revision ``--a`` and of ``--b`` (default: the working tree) one after the
other, ``--pairs`` times, each with ``bench_http``'s open-loop client at ``--rate`` on the
real request mix, and reports the median p50/p99/p99.9 of each side and how many runs of
each met ``--p99-target-ms``.

Run: ``.venv/bin/python benchmarks/bench_latency_ab.py --model /tmp/model --a HEAD
--rate 1650 --pairs 8 --tag -flush``; writes ``benchmarks/results/latency-ab-<date><tag>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_http as bh  # noqa: E402  (after the path set-up)


def _tree(rev: str | None, work: Path) -> Path:
    """A checkout of ``rev`` (a detached worktree), or the working tree for None."""
    if rev is None:
        return ROOT
    path = work / f"tree-{rev.replace('/', '_')}"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def _one_run(
    tree: Path, cfg: Path, port: int, rate: float, seconds: float, mix_file: Path
) -> dict[str, Any]:
    cmd = [sys.executable, "-c", "from rtb.cli import main; main()"]
    cmd += ["serve", "--config", str(cfg), "--no-model-build"]
    env = {"PYTHONPATH": str(tree), "RTB_ADMIN_TOKEN": "", "PYTHONUNBUFFERED": "1"}
    server = bh.Server("bidder", 1, cmd, env)
    proc = bh._start(server, port, "0")
    try:
        bh.warm_up(port, mix_file, "1")
        return bh._client("rate", port, seconds, mix_file, "1", rate=rate, spin=True)
    finally:
        bh._stop(proc)


def _summary(runs: list[dict[str, Any]], target_ms: float) -> dict[str, Any]:
    def med(key: str) -> float:
        return round(float(statistics.median(r[key] for r in runs)), 3)

    return {
        "median_p50_ms": med("p50_ms"),
        "median_p99_ms": med("p99_ms"),
        "median_p999_ms": med("p999_ms"),
        "runs_meeting_p99_target": sum(r["p99_ms"] <= target_ms for r in runs),
        "runs": len(runs),
        "late": sum(r["answered_after_tmax"] for r in runs),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model dir (rtb train output)")
    p.add_argument("--a", required=True, help="git revision of the baseline")
    p.add_argument("--b", default=None, help="git revision to compare (default: working tree)")
    p.add_argument("--rate", type=float, required=True, help="offered requests per second")
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--p99-target-ms", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=bh.RESULTS)
    p.add_argument("--tag", default="")
    p.add_argument("--note", default="", help="what --a and --b differ in (kept in the JSON)")
    args = p.parse_args()
    stem = f"latency-ab-{dt.date.today().isoformat()}{args.tag}"
    if (args.out / f"{stem}.json").exists():
        print(f"{args.out / f'{stem}.json'} exists: name a new run with --tag", file=sys.stderr)
        return 1
    if (os.cpu_count() or 1) < 2:
        print("needs 2 cores: the server on cpu 0, the client on cpu 1", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    trees: dict[str, Path] = {}
    try:
        trees = {"a": _tree(args.a, work), "b": _tree(args.b, work)}
        mix_file = bh.write_mix(bh.load_mix(), work / "mix.json")
        runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        for i in range(args.pairs):
            for side in ("a", "b"):  # alternate, so both sides share the machine's minutes
                port = bh._free_port()
                cfg = bh.bidder_config(work / f"{side}-{i}", port, 1, args.model, "auto")
                r = _one_run(trees[side], cfg, port, args.rate, args.seconds, mix_file)
                runs[side].append(r)
                print(
                    f"[ab] pair {i + 1} {side}: p50 {r['p50_ms']} p99 {r['p99_ms']} "
                    f"p99.9 {r['p999_ms']} ms",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for tree in trees.values():
            if tree != ROOT:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                    check=False,
                    capture_output=True,
                )
        shutil.rmtree(work, ignore_errors=True)
    doc = {
        "date": dt.date.today().isoformat(),
        "machine": bh.machine({"server": "cpu 0", "client": "cpu 1 (polling before sends)"}),
        "a": args.a,
        "b": args.b or "working tree",
        "note": args.note,
        "rate_rps": args.rate,
        "seconds_per_run": args.seconds,
        "summary": {side: _summary(rs, args.p99_target_ms) for side, rs in runs.items()},
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
