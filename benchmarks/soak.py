"""Soak the real `rtb serve` process: mixed bids, notices, reloads at half its max rate.

Measures the max bid+notice rate briefly, then runs ``--minutes`` (default 10) at
``--load`` (default 0.5) of it with config reloads (SIGHUP and admin API) and model swaps
(skipped, with a note, while the server has no /admin/model). Samples RSS every
``--sample-s``; reports RSS growth after warm-up, responses >= 500 and p99 per minute.
Writes benchmarks/results/soak-<date>.json. Bounded: stops by itself; 127.0.0.1 only.

    .venv/bin/python benchmarks/soak.py --minutes 2
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.fuzz_http import start_server  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "openrtb"
ADMIN = {"Authorization": "Bearer fuzz-admin"}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Load:
    def __init__(self, base: str) -> None:
        self.base = base
        self.request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())[
            "request"
        ]
        self.ids = itertools.count()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.latency_by_minute: dict[int, list[float]] = collections.defaultdict(list)
        self.start = time.monotonic()

    async def one(self, session: aiohttp.ClientSession) -> None:
        n = next(self.ids)
        body = {**self.request, "id": f"soak-{n}", "user": {"id": f"u-{n % 50_000}"}, "tmax": 500}
        t0 = time.monotonic()
        try:
            async with session.post(self.base + "/bid", json=body) as resp:
                text = await resp.text()
                self.statuses[f"bid:{resp.status}"] += 1
            self.latency_by_minute[int((t0 - self.start) // 60)].append(time.monotonic() - t0)
            if resp.status == 200 and n % 2 == 0:
                bid = json.loads(text)["seatbid"][0]["bid"][0]
                clearing_cpm = f"{bid['price'] * 0.9:.6f}"  # a second price under our bid
                nurl = bid["nurl"].replace("${AUCTION_PRICE}", clearing_cpm)
                async with session.get(nurl) as notice:
                    await notice.read()
                    self.statuses[f"notice:{notice.status}"] += 1
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            self.statuses["client_error:" + type(err).__name__] += 1


async def closed_loop(load: Load, seconds: float, concurrency: int) -> float:
    end = time.monotonic() + seconds
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < end:
                await load.one(session)
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / seconds


async def paced(
    load: Load,
    rate: float,
    seconds: float,
    pid: int,
    admin: str,
    sample_s: float,
    models: list[Path],
) -> dict[str, Any]:
    end = time.monotonic() + seconds
    rss: list[tuple[float, int]] = []
    events: collections.Counter[str] = collections.Counter()
    notes: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        async with session.post(admin + "/admin/model", headers=ADMIN) as resp:
            has_swap = resp.status != 404
        if not has_swap:
            notes.append("model swap skipped: the server has no /admin/model endpoint")
        elif not models:
            notes.append("model swap skipped: no --models given")
        ticks = itertools.count()
        pending: set[asyncio.Task[None]] = set()

        async def control() -> None:
            k = 0
            while time.monotonic() < end:
                await asyncio.sleep(sample_s)
                rss.append((time.monotonic() - load.start, rss_kib(pid)))
                k += 1
                if k % 10 == 0:
                    os.kill(pid, signal.SIGHUP)
                    events["reload_sighup"] += 1
                if k % 10 == 5:
                    async with session.post(admin + "/admin/reload", headers=ADMIN) as r:
                        events[f"reload_admin:{r.status}"] += 1
                if k % 10 == 7 and has_swap and models:
                    body = {"path": str(models[(k // 10) % len(models)])}
                    async with session.post(admin + "/admin/model", headers=ADMIN, json=body) as r:
                        events[f"model_swap:{r.status}"] += 1

        ctl = asyncio.create_task(control())
        t0 = time.monotonic()
        while time.monotonic() < end:
            i = next(ticks)
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(pending) < 256:
                task = asyncio.create_task(load.one(session))
                pending.add(task)
                task.add_done_callback(pending.discard)
            else:
                events["shed_by_client"] += 1
        await asyncio.gather(*pending)
        await ctl
    return {"rss": rss, "events": dict(events), "notes": notes}


def summarise(
    load: Load, soak: dict[str, Any], warmup_s: float, max_rate: float, rate: float, minutes: float
) -> dict[str, Any]:
    after = [kib for t, kib in soak["rss"] if t >= warmup_s] or [kib for _, kib in soak["rss"]]
    head = statistics.median(after[: max(1, len(after) // 5)])
    tail = statistics.median(after[-max(1, len(after) // 5) :])
    p99 = {}
    for minute, values in sorted(load.latency_by_minute.items()):
        values.sort()
        p99[minute] = round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1000, 2)
    errors_5xx = sum(
        v
        for k, v in load.statuses.items()
        if k.split(":")[-1].isdigit() and int(k.split(":")[-1]) >= 500
    )
    return {
        "date": dt.date.today().isoformat(),
        "minutes": minutes,
        "max_rate_per_s": round(max_rate, 1),
        "target_rate_per_s": round(rate, 1),
        "requests": sum(v for k, v in load.statuses.items() if k.startswith("bid:")),
        "statuses": dict(sorted(load.statuses.items())),
        "responses_5xx": errors_5xx,
        "rss_kib_after_warmup_start": head,
        "rss_kib_end": tail,
        "rss_growth_pct": round((tail - head) * 100.0 / head, 2) if head else None,
        "rss_samples": soak["rss"],
        "p99_ms_by_minute": p99,
        "events": soak["events"],
        "notes": soak["notes"],
    }


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--load", type=float, default=0.5, help="fraction of the measured max rate")
    p.add_argument("--probe-s", type=float, default=10.0, help="max-rate measurement time")
    p.add_argument("--sample-s", type=float, default=3.0)
    p.add_argument("--models", type=Path, nargs="*", default=[], help="model dirs to swap between")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        proc, base = start_server(Path(tmp))
        admin = base.rsplit(":", 1)[0] + ":" + _admin_port(Path(tmp) / "server.log", proc)
        try:
            if args.models:  # measure the max rate with a real model serving, as in the soak
                asyncio.run(_swap(admin, args.models[0]))
            probe = Load(base)
            max_rate = asyncio.run(closed_loop(probe, args.probe_s, 32))
            rate = max_rate * args.load
            print(
                f"max rate {max_rate:.0f}/s, soaking at {rate:.0f}/s for {args.minutes} min",
                flush=True,
            )
            load = Load(base)
            seconds = args.minutes * 60
            soak = asyncio.run(
                paced(load, rate, seconds, proc.pid, admin, args.sample_s, args.models)
            )
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = summarise(
        load,
        soak,
        warmup_s=min(60.0, seconds / 4),
        max_rate=max_rate,
        rate=rate,
        minutes=args.minutes,
    )
    result["server_alive_at_end"] = alive
    out = args.out or ROOT / "benchmarks" / "results" / f"soak-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    brief = {k: v for k, v in result.items() if k not in ("rss_samples", "statuses")}
    print(json.dumps(brief))
    print(f"wrote {out}")
    return 0 if result["responses_5xx"] == 0 and alive else 1


async def _swap(admin: str, model: Path) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"path": str(model)}
        async with session.post(admin + "/admin/model", headers=ADMIN, json=body) as resp:
            if resp.status != 200:
                raise RuntimeError(f"model swap to {model} failed: {resp.status}")


def _admin_port(log_path: Path, proc: Any) -> str:
    """The admin port from the server's startup log line ("admin API on http://h:p")."""
    for _ in range(100):
        for line in log_path.read_text(errors="replace").splitlines():
            if "admin API on" in line:
                return line.rsplit(":", 1)[1].split('"')[0].strip().rstrip("/")
        time.sleep(0.1)
    raise RuntimeError("no admin port in the server log")


if __name__ == "__main__":
    raise SystemExit(main())
