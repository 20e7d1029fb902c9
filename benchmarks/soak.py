"""Soak the real `rtb serve` process: mixed bids, notices, reloads at half its max rate.

Measures the max bid+notice rate briefly, then runs a warm-up of ``--warmup-s`` (default
60) and the measured ``--minutes`` (default 10) at ``--load`` (default 0.5) of it, with the
same traffic in both: every bid, a win notice for half of them (priced at 90 % of the bid),
a loss notice for a quarter, nothing for the last quarter (their holds expire), config
reloads (SIGHUP and admin API) and model swaps. Samples RSS every ``--sample-s``. RSS growth
is measured from the end of the warm-up to the end of the run (medians of the samples in
the last ``--window-s`` of each); also reports p50/p99 per minute of the measured part,
responses >= 500 and counts by traffic kind. Writes benchmarks/results/soak-<date>.json.
Bounded: stops by itself; 127.0.0.1 only. ``--rate`` fixes the rate instead (to compare
runs on a shared machine); ``--no-malloc-tuning`` serves with ``server.malloc_tuning: false``.

    .venv/bin/python benchmarks/soak.py --minutes 2
    .venv/bin/python benchmarks/soak.py --minutes 3 --rate 300 --no-malloc-tuning
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import itertools
import json
import math
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
        self.start = time.monotonic()  # minutes count from here (moved to the measured start)

    async def one(self, session: aiohttp.ClientSession) -> None:
        n = next(self.ids)
        body = {**self.request, "id": f"soak-{n}", "user": {"id": f"u-{n % 50_000}"}, "tmax": 500}
        t0 = time.monotonic()
        try:
            async with session.post(self.base + "/bid", json=body) as resp:
                text = await resp.text()
                self.statuses[f"bid:{resp.status}"] += 1
            self.latency_by_minute[math.floor((t0 - self.start) / 60)].append(time.monotonic() - t0)
            if resp.status == 200 and n % 4 != 3:
                await self._notice(session, json.loads(text)["seatbid"][0]["bid"][0], n)
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            self.statuses["client_error:" + type(err).__name__] += 1

    async def _notice(self, session: aiohttp.ClientSession, bid: dict[str, Any], n: int) -> None:
        """A win for even ``n`` (cleared at 90 % of the bid), a loss for ``n % 4 == 1``."""
        clearing_cpm = f"{bid['price'] * 0.9:.6f}"
        if n % 2 == 0:
            kind, url = "win", bid["nurl"].replace("${AUCTION_PRICE}", clearing_cpm)
        else:
            url = bid["lurl"].replace("${AUCTION_PRICE}", clearing_cpm)
            kind, url = "loss", url.replace("${AUCTION_LOSS}", "102")
            url = url.replace("${AUCTION_MIN_TO_WIN}", f"{bid['price'] * 1.1:.6f}")
        async with session.get(url) as notice:
            await notice.read()
            self.statuses[f"{kind}_notice:{notice.status}"] += 1


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
    warmup_s: float,
    seconds: float,
    pid: int,
    admin: str,
    sample_s: float,
    models: list[Path],
) -> dict[str, Any]:
    """Warm-up then the measured run, one traffic stream; times are from the measured start."""
    load.start = time.monotonic() + warmup_s
    end = load.start + seconds
    rss: list[tuple[float, int]] = []
    events: collections.Counter[str] = collections.Counter()
    at_start: dict[str, dict[str, int]] = {}
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
                rss.append((round(time.monotonic() - load.start, 2), rss_kib(pid)))
                if not at_start and time.monotonic() >= load.start:
                    at_start["statuses"] = dict(load.statuses)
                    at_start["events"] = dict(events)
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
    return {"rss": rss, "events": dict(events), "at_start": at_start, "notes": notes}


def _quantile_ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 2)


def _minus(total: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(total.items()) if v - before.get(k, 0)}


def summarise(
    load: Load, soak: dict[str, Any], window_s: float, max_rate: float, rate: float, minutes: float
) -> dict[str, Any]:
    """RSS growth from the end of the warm-up (t = 0) to the end, latency per minute."""
    samples: list[tuple[float, int]] = soak["rss"]
    end_s = samples[-1][0]
    start_kib = statistics.median([k for t, k in samples if -window_s <= t <= 0] or [samples[0][1]])
    end_kib = statistics.median([k for t, k in samples if t >= end_s - window_s])
    peak_kib = max(k for t, k in samples if t >= 0)
    measured = {m: v for m, v in load.latency_by_minute.items() if 0 <= m < math.ceil(minutes)}
    p99 = {m: _quantile_ms(v, 0.99) for m, v in sorted(measured.items())}
    p50 = {m: _quantile_ms(v, 0.50) for m, v in sorted(measured.items())}
    warm = [x for m, v in load.latency_by_minute.items() if m < 0 for x in v]
    before = soak["at_start"]
    statuses = _minus(dict(load.statuses), before.get("statuses", {}))
    errors_5xx = sum(
        v for k, v in load.statuses.items()
        if k.split(":")[-1].isdigit() and int(k.split(":")[-1]) >= 500
    )  # fmt: skip
    rss_by_minute = {
        m: max(k for t, k in samples if m * 60 <= t < (m + 1) * 60)
        for m in range(math.ceil(end_s / 60))
        if any(m * 60 <= t < (m + 1) * 60 for t, _ in samples)
    }
    return {
        "date": dt.date.today().isoformat(),
        "minutes": minutes,
        "warmup_s": -samples[0][0] if samples[0][0] < 0 else 0.0,
        "max_rate_per_s": round(max_rate, 1),
        "target_rate_per_s": round(rate, 1),
        "requests": sum(v for k, v in statuses.items() if k.startswith("bid:")),
        "statuses": statuses,
        "statuses_warmup": dict(sorted(before.get("statuses", {}).items())),
        "responses_5xx": errors_5xx,
        "rss_kib_after_warmup_start": start_kib,
        "rss_kib_end": end_kib,
        "rss_kib_peak_after_warmup": peak_kib,
        "rss_growth_pct": round((end_kib - start_kib) * 100.0 / start_kib, 2),
        "rss_kib_max_by_minute": rss_by_minute,
        "rss_samples": samples,
        "p50_ms_by_minute": p50,
        "p99_ms_by_minute": p99,
        "p99_ms_warmup": _quantile_ms(warm, 0.99) if warm else None,
        "events": _minus(soak["events"], before.get("events", {})),
        "events_warmup": dict(sorted(before.get("events", {}).items())),
        "notes": soak["notes"],
    }


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=10.0, help="measured time, after warm-up")
    p.add_argument("--warmup-s", type=float, default=60.0, help="same traffic, not measured")
    p.add_argument("--window-s", type=float, default=15.0, help="RSS median window at each end")
    p.add_argument("--load", type=float, default=0.5, help="fraction of the measured max rate")
    p.add_argument("--rate", type=float, default=None, help="bids/s to soak at (else --load)")
    p.add_argument("--probe-s", type=float, default=10.0, help="max-rate measurement time")
    p.add_argument("--sample-s", type=float, default=3.0)
    p.add_argument("--models", type=Path, nargs="*", default=[], help="model dirs to swap between")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--no-malloc-tuning", action="store_true", help="serve with server.malloc_tuning: false"
    )
    args = p.parse_args()
    extra_server = "  malloc_tuning: false\n" if args.no_malloc_tuning else ""
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        proc, base = start_server(Path(tmp), extra_server)
        admin = base.rsplit(":", 1)[0] + ":" + _admin_port(Path(tmp) / "server.log", proc)
        try:
            if args.models:  # measure the max rate with a real model serving, as in the soak
                asyncio.run(_swap(admin, args.models[0]))
            probe = Load(base)
            max_rate = asyncio.run(closed_loop(probe, args.probe_s, 32))
            rate = args.rate if args.rate is not None else max_rate * args.load
            print(
                f"max rate {max_rate:.0f}/s, soaking at {rate:.0f}/s: {args.warmup_s:.0f} s "
                f"warm-up, then {args.minutes} min measured",
                flush=True,
            )
            load = Load(base)
            soak = asyncio.run(
                paced(load, rate, args.warmup_s, args.minutes * 60, proc.pid, admin,
                      args.sample_s, args.models)
            )  # fmt: skip
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = summarise(
        load, soak, window_s=args.window_s, max_rate=max_rate, rate=rate, minutes=args.minutes
    )
    result["server_alive_at_end"] = alive
    result["malloc_tuning"] = not args.no_malloc_tuning
    out = args.out or ROOT / "benchmarks" / "results" / f"soak-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    brief = {k: v for k, v in result.items() if k not in ("rss_samples", "statuses_warmup")}
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
