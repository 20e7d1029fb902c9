"""Fuzz the real `rtb serve` process over HTTP with mutated corpus requests.

Starts the server on a free 127.0.0.1 port (golden config, temporary state), replays a
pool of pre-generated bad bodies (tests/reliability/mutations.py) over many concurrent
connections, and stops after ``--cases`` requests or ``--max-seconds``, whichever is first.
Writes counts by status (and by mutation kind) to benchmarks/results/fuzz-http-<date>.json.

    .venv/bin/python benchmarks/fuzz_http.py                      # 1,000,000 cases
    .venv/bin/python benchmarks/fuzz_http.py --cases 20000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bidder.settings import data_dir  # noqa: E402
from tests.reliability.mutations import build_cases, load_corpus  # noqa: E402

GOLDEN_CONFIG = ROOT / "tests" / "golden" / "openrtb" / "config.yaml"
ALLOWED = {200, 204, 400, 413}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workdir: Path, extra_server: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """`rtb serve` on the golden config in ``workdir``; returns the process and base URL."""
    port, admin_port = free_port(), free_port()
    text = GOLDEN_CONFIG.read_text().replace("var/golden-state", str(workdir / "state"))
    text = text.replace("http://bidder.test", f"http://127.0.0.1:{port}")
    text = text.replace("server:\n", "server:\n" + extra_server, 1)
    config = workdir / "config.yaml"
    config.write_text(text)
    env = {**os.environ, "RTB_NOTICE_SECRET": "k1:fuzz-secret", "RTB_ADMIN_TOKEN": "fuzz-admin"}
    log = (workdir / "server.log").open("wb")
    cmd = [sys.executable, "-m", "rtb.cli", "serve", "--config", str(config)]
    cmd += ["--port", str(port), "--admin-port", str(admin_port), "--no-model-build"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start: " + (workdir / "server.log").read_text()[-2000:])


async def fuzz(
    base: str, cases: list[Any], total: int, concurrency: int, max_s: float
) -> dict[str, Any]:
    statuses: collections.Counter[str] = collections.Counter()
    by_kind: collections.Counter[str] = collections.Counter()
    sent = 0
    deadline = time.monotonic() + max_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while sent < total and time.monotonic() < deadline:
            case = cases[sent % len(cases)]
            sent += 1
            try:
                async with session.post(base + "/bid", data=case.body, headers=case.headers) as r:
                    await r.read()
                    key = str(r.status)
            except (TimeoutError, aiohttp.ClientError, OSError) as err:
                key = "client_error:" + type(err).__name__
            statuses[key] += 1
            by_kind[f"{case.kind}:{key}"] += 1

    start = time.monotonic()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.monotonic() - start
    done = sum(statuses.values())
    return {
        "cases": done,
        "elapsed_s": round(elapsed, 1),
        "rate_per_s": round(done / elapsed, 1),
        "statuses": dict(sorted(statuses.items())),
        "by_kind": dict(sorted(by_kind.items())),
        "unexpected": {
            k: v for k, v in statuses.items() if not k.isdigit() or int(k) not in ALLOWED
        },
    }


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cases", type=int, default=1_000_000)
    p.add_argument("--pool", type=int, default=20_000, help="distinct pre-generated bodies")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    p.add_argument("--seed", type=int, default=20261124)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore", ResourceWarning)  # aiohttp: "large body as raw bytes"

    corpus = load_corpus(data_dir())
    t0 = time.monotonic()
    cases = build_cases(corpus, args.pool, args.seed)
    print(f"{len(cases)} bodies generated in {time.monotonic() - t0:.1f}s", flush=True)
    with tempfile.TemporaryDirectory(prefix="fuzz-http-") as tmp:
        proc, base = start_server(Path(tmp))
        try:
            result = asyncio.run(fuzz(base, cases, args.cases, args.concurrency, args.max_seconds))
            alive = proc.poll() is None
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log_text = (Path(tmp) / "server.log").read_text(errors="replace")
    error_lines = [
        ln for ln in log_text.splitlines() if '"level": "error"' in ln or '"level":"error"' in ln
    ]
    result.update(
        date=dt.date.today().isoformat(),
        target_cases=args.cases,
        pool=args.pool,
        concurrency=args.concurrency,
        server_alive_at_end=alive,
        server_error_log_lines=len(error_lines),
        server_error_log_sample=error_lines[:3],
        server_error_kinds=_error_kinds(error_lines),
        machine={"python": platform.python_version(), "cpus": os.cpu_count()},
    )
    out = args.out or ROOT / "benchmarks" / "results" / f"fuzz-http-{result['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in ("cases", "rate_per_s", "statuses", "unexpected", "server_error_log_lines")
            }
        )
    )
    print(f"wrote {out}")
    return 0 if not result["unexpected"] and not error_lines and alive else 1


def _error_kinds(lines: list[str]) -> dict[str, int]:
    """ERROR log lines grouped by message and the exception's last line."""
    kinds: collections.Counter[str] = collections.Counter()
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            kinds["unparsed"] += 1
            continue
        exc = str(entry.get("exc", "")).strip().splitlines()
        kinds[f"{entry.get('logger')}: {exc[-1] if exc else entry.get('msg', '')}"] += 1
    return dict(kinds.most_common())


if __name__ == "__main__":
    raise SystemExit(main())
