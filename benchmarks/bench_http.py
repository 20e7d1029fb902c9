"""HTTP load benchmark on the real request mix: the bidder vs a bare aiohttp ceiling and a
naive bidder, for 1 and 2 worker processes.

For every server it measures (a) the maximum sustained rate, closed loop (``wrk`` with a
Lua script rotating the requests of ``openrtb/requests.jsonl``, or this file's own async
client when ``wrk`` is not installed), and (b) latency percentiles p50/p99/p99.9 at
constant offered rates of 25%, 50% and 75% of that maximum (open loop, wrk2-style: each
request has a scheduled send time and its latency counts from it, so a stalled server is
not hidden by the client waiting; wrk2 is not packaged in Debian, so the constant-rate
client is ours). The load generator runs in its own process, pinned with ``taskset``.

Run: ``.venv/bin/python benchmarks/bench_http.py --model /tmp/model`` (or
``rtb bench http``); ``--smoke`` is a ~10 s run for CI that reports and never gates.
Writes ``benchmarks/results/http-<date>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BASELINES = ROOT / "benchmarks" / "http_baselines"
sys.path.insert(0, str(ROOT))

# -- the request mix -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mix:
    bodies: list[bytes]
    tmax_ms: list[int]  # per body: its tmax, or the server default (100)


def load_mix(limit: int | None = None) -> Mix:
    """Every request of the corpus that the bidder's parser accepts (bidding and not)."""
    import orjson

    from bidder.errors import RequestError
    from bidder.openrtb.request import parse_bid_request
    from bidder.settings import data_dir

    bodies: list[bytes] = []
    tmaxes: list[int] = []
    with (data_dir() / "openrtb" / "requests.jsonl").open("rb") as fh:
        for line in fh:
            body = orjson.dumps(orjson.loads(line)["request"])
            try:
                parsed, _ = parse_bid_request(body)
            except RequestError:
                continue
            if len(body) > 200_000:
                continue
            bodies.append(body)
            tmaxes.append(int(parsed.tmax or 100))
            if limit is not None and len(bodies) >= limit:
                break
    return Mix(bodies, tmaxes)


def write_mix(mix: Mix, path: Path) -> Path:
    """The mix as the client process reads it (``--mix-file``)."""
    path.write_text(
        json.dumps({"bodies": [b.decode() for b in mix.bodies], "tmax_ms": mix.tmax_ms})
    )
    return path


# -- the async client (constant rate, or closed loop without wrk) -----------------------


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pending: tuple[float, int] | None = None  # (scheduled time, tmax ms)
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, payload: bytes, scheduled: float, tmax_ms: int) -> None:
        self.pending = (scheduled, tmax_ms)
        assert self.transport is not None
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            length = 0
            pos = head.find(b"content-length:")
            if pos >= 0:
                eol = head.find(b"\r\n", pos)
                length = int(head[pos + 15 : eol if eol > 0 else len(head)])
            total = end + 4 + length
            if len(self.buf) < total:
                return
            status = int(head[9:12])
            del self.buf[:total]
            pending, self.pending = self.pending, None
            if pending is not None:
                self.client.done(self, status, pending)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost(self)
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class _Client:
    mix: Mix
    host: str
    port: int
    payloads: list[bytes] = field(default_factory=list)
    idle: list[_Conn] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    late_by_tmax: dict[int, int] = field(default_factory=dict)  # answers after tmax
    send_lags: list[float] = field(default_factory=list)  # sent - scheduled, measured ones
    errors: int = 0
    queue: list[tuple[float, int]] = field(default_factory=list)  # waiting: (sched, index)
    sent: int = 0
    completed: int = 0
    measuring: bool = True
    wakeup: asyncio.Event | None = None

    def __post_init__(self) -> None:
        head = f"POST /bid HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "Content-Type: application/json\r\nx-openrtb-version: 2.5\r\n"
        self.payloads = [
            (head + f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in self.mix.bodies
        ]

    def done(self, conn: _Conn, status: int, pending: tuple[float, int]) -> None:
        now = time.perf_counter()
        scheduled, tmax_ms = pending
        self.completed += 1
        if self.measuring:
            latency = now - scheduled
            self.latencies.append(latency)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if latency * 1000.0 > tmax_ms:
                self.late_by_tmax[tmax_ms] = self.late_by_tmax.get(tmax_ms, 0) + 1
        if self.queue:
            sched, index = self.queue.pop(0)
            self._send(conn, sched, index)
        else:
            self.idle.append(conn)
        if self.wakeup is not None:
            self.wakeup.set()

    def lost(self, conn: _Conn) -> None:
        if conn.pending is not None:
            self.errors += 1
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)

    def _send(self, conn: _Conn, scheduled: float, index: int) -> None:
        i = index % len(self.payloads)
        if self.measuring:
            self.send_lags.append(time.perf_counter() - scheduled)
        conn.send(self.payloads[i], scheduled, self.mix.tmax_ms[i])
        self.sent += 1

    def offer(self, scheduled: float, index: int) -> None:
        if self.idle:
            self._send(self.idle.pop(), scheduled, index)
        else:
            self.queue.append((scheduled, index))

    async def connect(self, n: int) -> list[_Conn]:
        loop = asyncio.get_running_loop()
        conns = []
        for _ in range(n):
            _, proto = await loop.create_connection(lambda: _Conn(self), self.host, self.port)
            conns.append(proto)
        self.idle.extend(conns)
        return conns


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1e3, 3)

    return {
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "p999_ms": pick(0.999),
        "max_ms": round(ordered[-1] * 1e3, 3),
    }


SPIN_S = 0.0015  # with --spin: the last stretch before a send is polled, not slept


async def _constant_rate(
    mix: Mix,
    host: str,
    port: int,
    rate: float,
    seconds: float,
    conns: int,
    warmup: float,
    spin: bool = False,
) -> dict[str, Any]:
    """Open loop at ``rate``: latency counts from each request's scheduled send time.

    The event loop's timers have millisecond resolution, so a sleeping client sends up to
    about a millisecond late and that lag lands in every latency. With ``spin`` (the client
    has a core of its own) it sleeps only until ``SPIN_S`` before the next send and then
    polls the loop, handling responses as they come. ``send_lag`` reports the lag either way.
    """
    client = _Client(mix, host, port)
    opened = await client.connect(conns)
    interval = 1.0 / rate
    start = time.perf_counter()
    end_warm = start + warmup
    stop = end_warm + seconds
    i = 0
    client.measuring = False
    while True:
        now = time.perf_counter()
        if now >= stop:
            break
        if client.measuring is False and now >= end_warm:
            client.measuring = True
        due = start + i * interval
        while due <= now and due < stop:
            client.offer(due, i)
            i += 1
            due = start + i * interval
        wait = due - time.perf_counter()
        if spin and wait < SPIN_S:
            await asyncio.sleep(0)  # one loop turn: responses are read, then look again
        else:
            await asyncio.sleep(max(0.0, min(wait - (SPIN_S if spin else 0.0), 0.002)))
    offered = i
    deadline = time.perf_counter() + 2.0
    while (client.queue or len(client.idle) < len(opened) - client.errors) and (
        time.perf_counter() < deadline
    ):
        await asyncio.sleep(0.005)
    unanswered = len(client.queue) + sum(1 for c in opened if c.pending is not None)
    for conn in opened:
        if conn.transport is not None:
            conn.transport.close()
    measured = len(client.latencies)
    return {
        "offered_rps": round(rate, 1),
        "seconds": seconds,
        "offered": offered,
        "measured": measured,
        "achieved_rps": round(measured / seconds, 1),
        **_percentiles(client.latencies),
        "statuses": {str(k): v for k, v in sorted(client.statuses.items())},
        "answered_after_tmax": sum(client.late_by_tmax.values()),
        "late_by_tmax_ms": {str(k): v for k, v in sorted(client.late_by_tmax.items())},
        "send_lag": _percentiles(client.send_lags),
        "spin": spin,
        "unanswered": unanswered,
        "errors": client.errors,
    }


async def _closed_loop(
    mix: Mix, host: str, port: int, seconds: float, conns: int
) -> dict[str, Any]:
    client = _Client(mix, host, port)
    opened = await client.connect(conns)
    start = time.perf_counter()
    i = 0
    for conn in list(client.idle):
        client.idle.remove(conn)
        client._send(conn, time.perf_counter(), i)
        i += 1
    client.wakeup = asyncio.Event()
    base = client.completed
    while time.perf_counter() - start < seconds:
        await client.wakeup.wait()
        client.wakeup.clear()
        while client.idle:
            client._send(client.idle.pop(), time.perf_counter(), i)
            i += 1
    elapsed = time.perf_counter() - start
    done = client.completed - base
    for conn in opened:
        if conn.transport is not None:
            conn.transport.close()
    return {
        "tool": "async-client",
        "connections": conns,
        "seconds": round(elapsed, 2),
        "requests": done,
        "rps": round(done / elapsed, 1),
        **_percentiles(client.latencies),
        "statuses": {str(k): v for k, v in sorted(client.statuses.items())},
    }


def _client_main(argv: list[str]) -> None:
    """Entry of the load-generator process: prints one JSON object."""
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=("rate", "closed"))
    p.add_argument("--port", type=int)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--seconds", type=float)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--mix-file", type=Path)
    p.add_argument("--spin", action="store_true", help="poll before sends (own core)")
    args = p.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    raw = json.loads(args.mix_file.read_text())
    mix = Mix([b.encode() for b in raw["bodies"]], raw["tmax_ms"])
    if args.mode == "rate":
        out = asyncio.run(
            _constant_rate(
                mix,
                "127.0.0.1",
                args.port,
                args.rate,
                args.seconds,
                args.conns,
                args.warmup,
                spin=args.spin,
            )
        )
    else:
        out = asyncio.run(_closed_loop(mix, "127.0.0.1", args.port, args.seconds, args.conns))
    print(json.dumps(out))


# -- wrk -------------------------------------------------------------------------------

_LUA = r"""
local bodies = {}
local reqs = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    n = n + 1
    reqs[n] = wrk.format("POST", "/bid", {["Content-Type"] = "application/json",
      ["x-openrtb-version"] = "2.5"}, line)
  end
  i = math.random(n)
end
request = function()
  i = i % n + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"duration_us\": %d, \"non2xx_or_errors\": %d, "
    .. "\"p50_us\": %d, \"p99_us\": %d, \"p999_us\": %d, \"mean_us\": %.1f}\n",
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean))
end
"""


def _wrk_max(
    port: int, seconds: float, conns: int, bodies_file: Path, lua: Path, cpus: str | None
) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{max(1, int(seconds))}s",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}/bid",
        "--",
        str(bodies_file),
    ]
    out = subprocess.run(_pin(cmd, cpus), capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    data = json.loads(line[5:])
    secs = data["duration_us"] / 1e6
    return {
        "tool": "wrk -t1 (closed loop)",
        "connections": conns,
        "seconds": round(secs, 2),
        "requests": data["requests"],
        "rps": round(data["requests"] / secs, 1),
        "p50_ms": data["p50_us"] / 1e3,
        "p99_ms": data["p99_us"] / 1e3,
        "p999_ms": data["p999_us"] / 1e3,
        "socket_errors": data["non2xx_or_errors"],
    }


# -- servers ---------------------------------------------------------------------------


def _pin(cmd: list[str], cpus: str | None) -> list[str]:
    if cpus is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", cpus, *cmd]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start within {timeout:.0f}s")


def bidder_config(work: Path, port: int, workers: int, model: Path | None, predictor: str) -> Path:
    """config.yaml with bench-local state, ports and model; budgets x1000 so a long run
    never exhausts them (the pacing and ledger code paths are unchanged)."""
    import yaml

    doc = yaml.safe_load((ROOT / "config.yaml").read_text())
    server = doc.setdefault("server", {})
    server.update(
        host="127.0.0.1",
        port=port,
        admin_port=0,
        workers=workers,
        state_dir=str(work / "state"),
        bidlog_path=str(work / "bidlog.jsonl"),
    )
    doc["model"] = {"path": str(model) if model else None, "build_if_missing": False}
    if model:
        doc["model"]["predictor"] = predictor
    for campaign in doc.get("campaigns", []):
        budget = campaign.get("budget") or {}
        for k in ("total", "daily"):
            if k in budget:
                budget[k] = budget[k] * 1000
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass
class Server:
    name: str
    workers: int
    cmd: list[str]
    env: dict[str, str] = field(default_factory=dict)


def _start(server: Server, port: int, cpus: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **server.env}
    proc = subprocess.Popen(
        _pin(server.cmd, cpus),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_port(port, proc)
    except Exception:
        _stop(proc)
        raise
    time.sleep(0.5 if server.workers == 1 else 1.5)  # the other workers bind too
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    return err[-2000:]


def _client(
    mode: str,
    port: int,
    seconds: float,
    mix_file: Path,
    cpus: str | None,
    rate: float = 0.0,
    conns: int = 64,
    warmup: float = 1.0,
    spin: bool = False,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--client",
        "--mode",
        mode,
        "--port",
        str(port),
        "--seconds",
        str(seconds),
        "--rate",
        str(rate),
        "--conns",
        str(conns),
        "--mix-file",
        str(mix_file),
        "--warmup",
        str(warmup),
        *(["--spin"] if spin else []),
    ]
    out = subprocess.run(_pin(cmd, cpus), capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def warm_up(port: int, mix_file: Path, cpus: str | None) -> None:
    """1 s of closed loop: model, caches, allocator and connection pools warm."""
    _client("closed", port, 1.0, mix_file, cpus, conns=16)


def fixed_rates(
    port: int,
    rates: list[tuple[float, float]],
    label: str,
    mix_file: Path,
    seconds: float,
    cpus: str | None,
    spin: bool,
) -> list[dict[str, Any]]:
    """One open-loop run per ``(fraction, rps)``, each result tagged ``{label: fraction}``."""
    out = []
    for frac, rate in rates:
        r = _client("rate", port, seconds, mix_file, cpus, rate=rate, spin=spin)
        r[label] = frac
        out.append(r)
    return out


def measure(
    server: Server,
    port: int,
    *,
    mix_file: Path,
    bodies_file: Path,
    lua: Path,
    max_seconds: float,
    rate_seconds: float,
    fractions: tuple[float, ...],
    server_cpus: str | None,
    client_cpus: str | None,
    use_wrk: bool,
    spin: bool = False,
) -> dict[str, Any]:
    proc = _start(server, port, server_cpus)
    try:
        warm_up(port, mix_file, client_cpus)
        if use_wrk:
            peak = _wrk_max(port, max_seconds, 32, bodies_file, lua, client_cpus)
        else:
            peak = _client("closed", port, max_seconds, mix_file, client_cpus, conns=32)
        rates = [(frac, max(10.0, peak["rps"] * frac)) for frac in fractions]
        fixed = fixed_rates(
            port, rates, "fraction_of_max", mix_file, rate_seconds, client_cpus, spin
        )
    finally:
        tail = _stop(proc)
    crashed = proc.returncode not in (0, -signal.SIGTERM)
    return {
        "server": server.name,
        "workers": server.workers,
        "max": peak,
        "fixed_rate": fixed,
        "exit_code": proc.returncode,
        **({"stderr_tail": tail} if crashed else {}),
    }


def measure_floor(
    server: Server,
    port: int,
    rates: list[tuple[float, float]],
    *,
    mix_file: Path,
    rate_seconds: float,
    server_cpus: str | None,
    client_cpus: str | None,
    spin: bool,
) -> list[dict[str, Any]]:
    """The ceiling at another server's offered rates ``[(fraction, rps)]``: what this
    machine and client measure for a server that only parses, at the same load."""
    proc = _start(server, port, server_cpus)
    try:
        warm_up(port, mix_file, client_cpus)
        return fixed_rates(
            port, rates, "fraction_of_bidder_max", mix_file, rate_seconds, client_cpus, spin
        )
    finally:
        _stop(proc)


# -- machine and report ----------------------------------------------------------------


def _loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def machine(pinning: dict[str, str]) -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "pinning": pinning,
        "wrk": shutil.which("wrk") is not None,
    }


def render_markdown(doc: dict[str, Any]) -> str:
    lines = [
        f"HTTP load, {doc['date']}, {doc['machine']['cpu_model']}, "
        f"{doc['machine']['cores']} cores, loop {doc['loop']}"
        + (" (smoke run)" if doc.get("smoke") else ""),
        "",
        "| server | workers | max rps | p50 / p99 / p99.9 ms @25% | @50% | @75% | late |",
        "|---|---:|---:|---|---|---|---:|",
    ]
    for run in doc["runs"]:
        lines.append(
            f"| {run['server']} | {run['workers']} | {run['max']['rps']:.0f} | "
            + _latency_cells(run["fixed_rate"], "fraction_of_max")
            + f" | {_late_cell(run['fixed_rate'])} |"
        )
        floor = run.get("ceiling_at_same_rates")
        if floor:
            lines.append(
                f"| ceiling at the bidder's rates | {run['workers']} | | "
                + _latency_cells(floor, "fraction_of_bidder_max")
                + f" | {_late_cell(floor)} |"
            )
    lines.append("")
    for k, v in doc.get("ratios", {}).items():
        lines.append(f"- {k}: {v}")
    lines.append("")
    return "\n".join(lines)


def _latency_cells(fixed: list[dict[str, Any]], label: str) -> str:
    """p50 / p99 / p99.9 at 25, 50 and 75% (blank where that fraction was not run)."""
    at = {r[label]: r for r in fixed}
    cells = [
        f"{r['p50_ms']} / {r['p99_ms']} / {r['p999_ms']}" if r else ""
        for r in (at.get(frac) for frac in (0.25, 0.5, 0.75))
    ]
    return " | ".join(cells)


def _late_cell(fixed: list[dict[str, Any]]) -> str:
    """Answers after tmax over the fixed-rate runs, with the tmax values they had."""
    late = sum(r["answered_after_tmax"] for r in fixed)
    by_tmax: dict[str, int] = {}
    for r in fixed:
        for tmax, n in r.get("late_by_tmax_ms", {}).items():
            by_tmax[tmax] = by_tmax.get(tmax, 0) + n
    if not late or not by_tmax:
        return str(late)
    top = sorted(by_tmax.items(), key=lambda kv: (-kv[1], int(kv[0])))
    parts = [f"tmax {t} ms: {n}" for t, n in top[:3]]
    if len(top) > 3:
        parts.append(f"{len(top) - 3} other tmax values: {sum(n for _, n in top[3:])}")
    return f"{late} (" + ", ".join(parts) + ")"


def ratios(runs: list[dict[str, Any]]) -> dict[str, float]:
    rps = {(r["server"], r["workers"]): r["max"]["rps"] for r in runs}
    out: dict[str, float] = {}

    def put(name: str, a: tuple[str, int], b: tuple[str, int]) -> None:
        if a in rps and b in rps and rps[b] > 0:
            out[name] = round(rps[a] / rps[b], 3)

    for w in (1, 2):
        put(f"bidder/ceiling ({w}w, target >= 0.70)", ("bidder", w), ("ceiling", w))
        put(f"bidder/naive ({w}w, target >= 1.5)", ("bidder", w), ("naive", w))
    put("bidder 2w/1w (target >= 1.7)", ("bidder", 2), ("bidder", 1))
    put("ceiling 2w/1w", ("ceiling", 2), ("ceiling", 1))
    for run in runs:
        if run["server"] == "bidder":
            for r in run["fixed_rate"]:
                if r["fraction_of_max"] == 0.5:
                    out[f"bidder {run['workers']}w p99 ms @50% (target <= 5)"] = r["p99_ms"]
            for r in run.get("ceiling_at_same_rates", []):
                if r["fraction_of_bidder_max"] == 0.5:
                    out[f"ceiling {run['workers']}w p99 ms at the bidder's 50% rate"] = r["p99_ms"]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--client":
        _client_main(argv[1:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None, help="model dir (rtb train output)")
    p.add_argument("--predictor", default="auto", help="bidder model.predictor")
    p.add_argument("--smoke", action="store_true", help="~10 s CI run; never gates")
    p.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2")
    p.add_argument("--servers", default="ceiling,naive,bidder")
    p.add_argument("--max-seconds", type=float, default=8.0)
    p.add_argument("--rate-seconds", type=float, default=6.0)
    p.add_argument("--no-wrk", action="store_true", help="use the async client for max rate")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--tag", default="", help="suffix of the result file name")
    args = p.parse_args(argv)
    smoke = args.smoke
    workers = (1,) if smoke else tuple(int(x) for x in args.workers.split(","))
    names = ("ceiling", "bidder") if smoke else tuple(args.servers.split(","))
    if args.model is None and "naive" in names:
        names = tuple(n for n in names if n != "naive")
    use_wrk = shutil.which("wrk") is not None and not args.no_wrk
    max_s, rate_s = (2.0, 1.0) if smoke else (args.max_seconds, args.rate_seconds)
    fractions = (0.5,) if smoke else (0.25, 0.5, 0.75)
    mix = load_mix(limit=300 if smoke else None)
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    mix_file = write_mix(mix, work / "mix.json")
    bodies_file = work / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(mix.bodies) + b"\n")
    lua = work / "rotate.lua"
    lua.write_text(_LUA)
    ncpu = os.cpu_count() or 1
    runs: list[dict[str, Any]] = []
    pinning: dict[str, str] = {}
    py = sys.executable
    rtb = str(Path(py).parent / "rtb")
    for w in workers:
        if ncpu >= 2 * w + 1:
            server_cpus, client_cpus = f"0-{w - 1}", f"{w}-{ncpu - 1}"
        elif w == 1 and ncpu >= 2:
            server_cpus, client_cpus = "0", "1"
        else:
            server_cpus, client_cpus = f"0-{ncpu - 1}", f"0-{ncpu - 1}"  # shared
        spin = client_cpus != server_cpus  # the client polls only on a core of its own
        ceiling_server: tuple[Server, int] | None = None
        pinning[f"{w} worker(s)"] = (
            f"servers on cpus {server_cpus}, load generator on {client_cpus} (taskset)"
            if shutil.which("taskset")
            else "unpinned (taskset not installed)"
        )
        for name in names:
            port = _free_port()
            if name == "ceiling":
                cmd = [py, str(BASELINES / "bare.py"), "--port", str(port), "--workers", str(w)]
            elif name == "naive":
                cmd = [
                    py,
                    str(BASELINES / "naive.py"),
                    "--port",
                    str(port),
                    "--workers",
                    str(w),
                    "--model",
                    str(args.model),
                ]
            else:
                cfg = bidder_config(work / f"bidder-{w}", port, w, args.model, args.predictor)
                cmd = [rtb, "serve", "--config", str(cfg), "--no-model-build"]
            server = Server(name, w, cmd, {"RTB_ADMIN_TOKEN": "", "PYTHONUNBUFFERED": "1"})
            if name == "ceiling":
                ceiling_server = (server, port)
            print(f"[bench http] {name} x{w} ...", file=sys.stderr, flush=True)
            try:
                result = measure(
                    server,
                    port,
                    mix_file=mix_file,
                    bodies_file=bodies_file,
                    lua=lua,
                    max_seconds=max_s,
                    rate_seconds=rate_s,
                    fractions=fractions,
                    server_cpus=server_cpus,
                    client_cpus=client_cpus,
                    use_wrk=use_wrk,
                    spin=spin,
                )
                if name == "bidder" and ceiling_server is not None:
                    result["ceiling_at_same_rates"] = measure_floor(
                        *ceiling_server,
                        [(r["fraction_of_max"], r["offered_rps"]) for r in result["fixed_rate"]],
                        mix_file=mix_file,
                        rate_seconds=rate_s,
                        server_cpus=server_cpus,
                        client_cpus=client_cpus,
                        spin=spin,
                    )
            except Exception as exc:  # a crash is reported, and fails the run below
                result = {"server": name, "workers": w, "error": repr(exc)}
            runs.append(result)
            if "error" in result:
                print(f"[bench http]   failed: {result['error']}", file=sys.stderr, flush=True)
            if "max" in result:
                print(
                    f"[bench http]   max {result['max']['rps']:.0f} rps; "
                    + ", ".join(
                        f"@{r['fraction_of_max']:.0%} p99 {r['p99_ms']} ms"
                        for r in result["fixed_rate"]
                    ),
                    file=sys.stderr,
                    flush=True,
                )
    ok_runs = [r for r in runs if "max" in r]
    doc = {
        "date": dt.date.today().isoformat(),
        "smoke": smoke,
        "loop": _loop_name(),
        "machine": machine(pinning),
        "requests": {"count": len(mix.bodies), "source": "openrtb/requests.jsonl (parseable)"},
        "max_rate_tool": "wrk -t1 -c32 (closed loop)" if use_wrk else "async client, 32 conns",
        "fixed_rate_tool": (
            "own open-loop client (64 conns, latency from scheduled send time; polls before "
            "each send when it has a core of its own, see send_lag)"
        ),
        "model": str(args.model) if args.model else None,
        "predictor": args.predictor,
        "runs": runs,
        "ratios": ratios(ok_runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"http-{doc['date']}{'-smoke' if smoke else ''}{args.tag}"
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    table = render_markdown({**doc, "runs": ok_runs})
    (args.out / f"{stem}.md").write_text(table)
    sys.stdout.write(table)
    shutil.rmtree(work, ignore_errors=True)
    failed = [r for r in runs if "error" in r or r.get("exit_code") not in (0, -15)]
    if failed:
        print(f"[bench http] crashed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
