"""Multi-worker serving: budget leases from the parent (no overspend), charge reports,
notice relaying between workers, and the supervisor end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bidder.config.model import Budget
from bidder.leases_local import (
    LeaseClient,
    LeaseServer,
    LocalLeaseLedger,
    local_lease_settings,
)
from bidder.ledger.embedded import EmbeddedLedger
from bidder.workers import WorkerSpec, worker_config

NOW = 1_780_000_000.0  # 2026-05-28
DAY = Budget(total_micros=1_000_000, daily_micros=100_000)


def _ledger(name: str, fraction: float = 0.3) -> LocalLeaseLedger:
    return LocalLeaseLedger(local_lease_settings(name, fraction, 30.0), None, None)


async def _pair(
    tmp_path: Path, n: int, fraction: float = 0.3
) -> tuple[LeaseServer, list[LocalLeaseLedger], list[LeaseClient]]:
    server = LeaseServer(EmbeddedLedger(tmp_path / "journal"), "UTC")
    server.set_budgets({"c1": DAY})
    await server.start(tmp_path / "leases.sock")
    ledgers, clients = [], []
    for i in range(n):
        ledger = _ledger(f"w{i}", fraction)
        ledger.set_budgets({"c1": DAY})
        client = LeaseClient(tmp_path / "leases.sock", f"w{i}")
        await client.connect()
        ledgers.append(ledger)
        clients.append(client)
    return server, ledgers, clients


def test_a_worker_reserves_nothing_before_its_first_lease() -> None:
    ledger = _ledger("w0")
    ledger.set_budgets({"c1": DAY})
    assert not ledger.reserve("k1", "c1", "arm", 1_000, NOW)


def test_workers_never_reserve_more_than_the_budget_together(tmp_path: Path) -> None:
    async def run() -> int:
        server, ledgers, clients = await _pair(tmp_path, 3, fraction=0.5)
        reserved = 0
        for round_ in range(6):  # top up repeatedly, reserve everything each slice allows
            for ledger, client in zip(ledgers, clients, strict=True):
                await ledger.sync_leases(client, NOW + round_)
                i = 0
                while ledger.reserve(
                    f"{ledger.settings.node_id}-{round_}-{i}", "c1", "a", 1_000, NOW + round_
                ):
                    reserved += 1_000
                    i += 1
        for client in clients:
            await client.close()
        await server.close()
        server.ledger.close()
        return reserved

    reserved = asyncio.run(run())
    assert reserved <= DAY.daily_micros
    assert reserved >= DAY.daily_micros // 2  # the slices were actually usable


def test_charges_are_reported_once_and_journaled_by_the_parent(tmp_path: Path) -> None:
    async def run() -> tuple[int, int, int]:
        server, (ledger,), (client,) = await _pair(tmp_path, 1)
        await ledger.sync_leases(client, NOW)
        assert ledger.reserve("auction/1", "c1", "arm", 5_000, NOW)
        ledger.charge("auction/1", 4_000, NOW + 1)
        await ledger.sync_leases(client, NOW + 2)
        again = await client.call(  # a re-sent report is de-duplicated by key
            {
                "op": "report",
                "now": NOW + 3,
                "charges": [
                    {
                        "key": "auction/1",
                        "campaign": "c1",
                        "arm": "arm",
                        "micros": 4_000,
                        "day": 0,
                        "at": NOW + 1,
                    }
                ],
            }
        )
        spent = server.ledger.campaign_spend("c1", NOW + 3).total_micros
        await client.close()
        await server.close()
        server.ledger.close()
        return spent, int(again["applied"]), server.charges_total

    spent, applied_again, charges = asyncio.run(run())
    assert spent == 4_000
    assert applied_again == 0
    assert charges == 1
    replayed = EmbeddedLedger(tmp_path / "journal")
    assert replayed.campaign_spend("c1", NOW + 3).total_micros == 4_000
    replayed.close()


def test_a_dead_workers_slice_is_freed_for_the_others(tmp_path: Path) -> None:
    async def run() -> tuple[int, int]:
        server, ledgers, clients = await _pair(tmp_path, 2, fraction=1.0)
        await ledgers[0].sync_leases(clients[0], NOW)
        held = server.outstanding("c1", ledgers[0]._lease_day)
        await clients[0].close()
        for _ in range(50):
            if server.outstanding("c1", ledgers[0]._lease_day) == 0:
                break
            await asyncio.sleep(0.01)
        await ledgers[1].sync_leases(clients[1], NOW)
        second = ledgers[1].outstanding_micros("c1")
        await clients[1].close()
        await server.close()
        server.ledger.close()
        return held, second

    held, second = asyncio.run(run())
    assert held == DAY.daily_micros
    assert second == DAY.daily_micros


def test_a_notice_is_relayed_to_the_worker_that_holds_the_bid(tmp_path: Path) -> None:
    async def run() -> dict[str, Any]:
        server = LeaseServer(EmbeddedLedger(None), "UTC")
        await server.start(tmp_path / "leases.sock")
        owner = LeaseClient(
            tmp_path / "leases.sock",
            "w0",
            lambda msg: {
                "owned": msg["query"]["b"] == "mine",
                "status": 200,
                "result": "charged",
                "location": None,
            },
        )
        other = LeaseClient(tmp_path / "leases.sock", "w1", lambda msg: {"owned": False})
        await owner.connect()
        await other.connect()
        answer = await other.call(
            {"op": "notice", "kind": "win", "query": {"b": "mine"}, "now": NOW}
        )
        missing = await other.call(
            {"op": "notice", "kind": "win", "query": {"b": "nobody"}, "now": NOW}
        )
        await owner.close()
        await other.close()
        await server.close()
        return {"answer": answer, "missing": missing}

    out = asyncio.run(run())
    assert out["answer"]["owned"] is True
    assert out["answer"]["result"] == "charged"
    assert out["missing"]["owned"] is False


def test_each_worker_gets_its_own_state_and_the_shared_secrets(tmp_path: Path) -> None:
    from bidder.config.load import load_config
    from tests.bidder.serving import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG)
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, state_dir=str(tmp_path))
    )
    spec = WorkerSpec(
        1, "c.yaml", "127.0.0.1", 1, "127.0.0.1", 0, "s", "key", "salt", False, time.time
    )
    mine = worker_config(config, spec)
    assert mine.server.state_dir == str(tmp_path / "worker-1")
    assert mine.server.notice_secret == "key"
    assert mine.server.user_id_salt == "salt"
    assert mine.server.bidlog_path is not None and mine.server.bidlog_path.endswith(".w1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_serve_bids_on_one_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    import yaml

    from tests.bidder.serving import EXAMPLE_CONFIG

    port = _free_port()
    doc = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    doc["server"].update(
        port=port,
        admin_port=0,
        workers=2,
        host="127.0.0.1",
        state_dir=str(tmp_path / "state"),
        bidlog_path=None,
    )
    doc["model"] = {"path": None}
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "RTB_ADMIN_TOKEN": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    rtb = str(Path(sys.executable).parent / "rtb")
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [rtb, "serve", "--config", str(cfg), "--no-model-build"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    body = (
        b'{"id":"r1","imp":[{"id":"1","banner":{"w":300,"h":250}}],'
        b'"site":{"domain":"example.com"},"device":{"ua":"x"},"tmax":500}'
    )
    statuses: list[int] = []
    metrics = ""
    try:
        import urllib.request

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not statuses:
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/bid",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=2) as resp:
                    statuses.append(resp.status)
            except OSError:
                time.sleep(0.2)
        for i in range(20):
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/bid",
                data=body.replace(b'"r1"', f'"r{i + 2}"'.encode()),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                statuses.append(resp.status)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    assert statuses and all(s in (200, 204) for s in statuses)
    assert 200 in statuses  # leases were granted, the workers bid
    assert "bidder_requests_total" in metrics or "requests_total" in metrics
    assert code == 0, (tmp_path / "serve.log").read_text()[-2000:]


def test_model_predictor_setting_is_checked() -> None:
    import yaml

    from bidder.config.load import parse_config
    from bidder.errors import ConfigError
    from tests.bidder.serving import EXAMPLE_CONFIG

    doc = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    doc["model"] = {"path": None, "predictor": "compiled"}
    config = parse_config(yaml.safe_dump(doc), environ={}, source="t")
    assert config.model.predictor == "compiled"
    doc["model"]["predictor"] = "gpu"
    try:
        parse_config(yaml.safe_dump(doc), environ={}, source="t")
    except ConfigError as err:
        assert any("predictor" in line for line in err.lines())
    else:
        raise AssertionError("a bad predictor was accepted")
