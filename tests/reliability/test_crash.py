"""Crash recovery: SIGKILL with notices in flight loses no acknowledged charge, charges none twice."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.bidder.serving import ROOT
from tests.reliability.process import Served, free_port, http, start

GOLDEN = ROOT / "tests" / "golden" / "openrtb"
BIDS = 200
KILL_AFTER_ACKS = 80
PRICE_CPM = "1.5"
PRICE_MICROS = 1500
SPEND = "bidder_campaign_spend_micros"
BANNER_SPEND = 'campaign="g-banner",period="total"'


@pytest.fixture
def served_dir(tmp_path: Path) -> Iterator[tuple[Path, int, list[Served]]]:
    started: list[Served] = []
    yield tmp_path, free_port(), started
    for s in started:
        s.stop()


def _bid_and_notice(base: str, n: int, acked: list[str], lock: threading.Lock) -> str | None:
    request = json.loads((GOLDEN / "bid" / "banner-300x250-site.json").read_text())["request"]
    request["id"] = f"crash-{n}"
    request["user"] = {"id": f"user-{n}"}  # distinct users: the frequency cap stays out of it
    request["tmax"] = 5000  # a loaded machine must not turn the bid into a late no-bid
    try:
        status, text = http(base + "/bid", json.dumps(request).encode())
    except OSError:
        return None  # the server was killed before it answered the bid
    if status != 200:
        return None
    nurl = json.loads(text)["seatbid"][0]["bid"][0]["nurl"].replace("${AUCTION_PRICE}", PRICE_CPM)
    try:
        status, text = http(nurl)
    except OSError:
        return nurl  # in flight when the server was killed: charged or not, unacknowledged
    if status == 200 and text.strip() == "charged":
        with lock:
            acked.append(nurl)
    return nurl


@pytest.mark.slow
def test_crash_sigkill_with_notices_in_flight_keeps_every_acknowledged_charge(
    served_dir: tuple[Path, int, list[Served]],
) -> None:
    workdir, port, started = served_dir
    first = start(workdir, port)
    started.append(first)
    acked: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()

    def one(n: int) -> str | None:
        nurl = _bid_and_notice(first.base, n, acked, lock)
        with lock:
            if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                killed.set()
                first.proc.kill()  # SIGKILL while the other workers have notices in flight
        return nurl

    with ThreadPoolExecutor(max_workers=8) as pool:
        nurls = [u for u in pool.map(one, range(BIDS)) if u is not None]
    first.proc.wait()
    assert killed.is_set()
    acked_before_kill = list(acked)

    second = start(workdir, port)
    started.append(second)
    spend = second.metric(SPEND, BANNER_SPEND)
    replays = {u: http(u)[0] for u in nurls}

    assert all(replays[u] == 409 for u in acked_before_kill)  # nothing charged twice
    committed = [u for u, status in replays.items() if status == 409]
    assert spend == len(committed) * PRICE_MICROS  # the journal holds exactly what was charged
    assert spend >= len(acked_before_kill) * PRICE_MICROS  # no acknowledged charge lost
    print(
        f"crash: {len(nurls)} notices sent, {len(acked_before_kill)} acknowledged before "
        f"SIGKILL, {len(committed) - len(acked_before_kill)} committed but unanswered, "
        f"spend after restart {spend:.0f} micros"
    )


def test_crash_torn_last_journal_record_is_recovered_on_restart(
    served_dir: tuple[Path, int, list[Served]],
) -> None:
    workdir, port, started = served_dir
    first = start(workdir, port)
    started.append(first)
    acked: list[str] = []
    nurl = _bid_and_notice(first.base, 1, acked, threading.Lock())
    assert nurl is not None and acked == [nurl]
    first.proc.kill()
    first.proc.wait()
    journal = workdir / "state" / "ledger.journal"
    whole = journal.read_bytes()
    assert whole.endswith(b"\n")
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    with journal.open("ab") as fh:
        fh.write(last[: len(last) // 2])  # a record torn by a crash mid-write

    second = start(workdir, port)  # recovers instead of refusing to start
    started.append(second)
    assert second.metric(SPEND, BANNER_SPEND) == PRICE_MICROS
    assert http(nurl)[0] == 409
    assert _bid_and_notice(second.base, 2, acked, threading.Lock()) is not None
    assert len(acked) == 2  # and it keeps charging after the repair
