"""Three `rtb serve` processes on the shared Redis under concurrent bid and notice load:
spend within budget + bound, exact frequency counts, no notice charged twice."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

import pytest
import redis

from bidder.fleet import scripts
from bidder.money import units_to_micros
from rtb.cmd_fleet import fleet_env, start_nodes, stop_nodes, wait_ready, write_node_configs
from tests.fleet.conftest import SHARED_URL, free_port
from tests.fleet.fleet import CAP, DAILY_UNITS, LEASE_FRACTION, bid_request, get, post, write_config

pytestmark = [pytest.mark.redis, pytest.mark.slow]

NODES = 3
THREADS = 24
BUDGET_BIDS = 4000  # well over the 1600 impressions the budget buys
CAP_USERS = 100
CAP_BIDS_PER_USER = 6


@dataclass
class Tally:
    lock: Lock = field(default_factory=Lock)
    nurls: list[str] = field(default_factory=list)
    charged_micros: dict[str, int] = field(default_factory=dict)
    cap_wins: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


def one_auction(base: str, request_id: str, user: str, size: tuple[int, int], t: Tally) -> None:
    status, body = post(base + "/bid", bid_request(request_id, user, *size))
    if status != 200:
        return
    bid = json.loads(body)["seatbid"][0]["bid"][0]
    nurl = bid["nurl"].replace("${AUCTION_PRICE}", str(bid["price"]))
    status, _ = get(nurl)
    with t.lock:
        t.nurls.append(nurl)
        t.statuses[status] = t.statuses.get(status, 0) + 1
        if status == 200:
            micros = round(bid["price"] * 1000)  # CPM → micros per impression
            t.charged_micros[bid["cid"]] = t.charged_micros.get(bid["cid"], 0) + micros
            if bid["cid"] == "c-cap":
                t.cap_wins[user] = t.cap_wins.get(user, 0) + 1


def test_fleet_three_nodes_share_budget_caps_and_dedupe(tmp_path: Path, key_prefix: str) -> None:
    config = write_config(tmp_path / "config.yaml", key_prefix)
    nodes = write_node_configs(config, tmp_path / "fleet", NODES, base_port=1)
    for i, node in enumerate(nodes):  # free ports, distinct bid and admin ports
        node.port, node.admin_port = free_port(), free_port()
        node.config_path.write_text(_with_ports(node.config_path.read_text(), node.port,
                                                node.admin_port))  # fmt: skip
        assert f"node_id: fleet-{i}" in node.config_path.read_text()
    start_nodes(nodes, fleet_env(tmp_path / "fleet"))
    try:
        wait_ready(nodes)
        tally = Tally()
        jobs = [(f"b{i}", f"ub{i}", (300, 250)) for i in range(BUDGET_BIDS)]
        jobs += [(f"k{u}-{j}", f"uk{u}", (728, 90)) for u in range(CAP_USERS)
                 for j in range(CAP_BIDS_PER_USER)]  # fmt: skip
        random.Random(7).shuffle(jobs)
        with ThreadPoolExecutor(THREADS) as pool:
            for i, (rid, user, size) in enumerate(jobs):
                pool.submit(one_auction, nodes[i % NODES].base_url, rid, user, size, tally)
        with ThreadPoolExecutor(THREADS) as pool:  # every nurl again, after the run
            replays = list(pool.map(lambda url: get(url)[0], tally.nurls))
        assert 200 not in replays, "a re-sent notice was charged again"
    finally:
        codes = stop_nodes(nodes)
    assert codes == [0] * NODES, [n.log_path.read_text()[-2000:] for n in nodes]
    _check_redis(key_prefix, tally)


def _with_ports(text: str, port: int, admin_port: int) -> str:
    replace = {
        "  port: ": f"  port: {port}",
        "  admin_port: ": f"  admin_port: {admin_port}",
        "  notice_base_url: ": f"  notice_base_url: http://127.0.0.1:{port}",
    }
    lines = [
        next((new for old, new in replace.items() if line.startswith(old)), line)
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def _check_redis(prefix: str, tally: Tally) -> None:
    client = redis.Redis.from_url(SHARED_URL)
    try:
        spent = int(client.get(scripts.campaign_key(prefix, "c-budget", "spent")) or 0)
        daily = units_to_micros(DAILY_UNITS)
        bound = NODES * int(LEASE_FRACTION * daily)
        overspend = max(0, spent - daily)
        print(f"\nfleet: spend {spent} micros, daily budget {daily}, bound N x f x D = "
              f"{NODES} x {LEASE_FRACTION} x {daily} = {bound}, overspend {overspend}; "
              f"notices {tally.statuses}")  # fmt: skip
        assert spent == tally.charged_micros["c-budget"]  # every charge reached Redis, once
        assert spent <= daily + bound
        assert daily - NODES * 5000 < spent  # the budget was used up, not stranded in leases
        leases = client.hgetall(scripts.campaign_key(prefix, "c-budget", "leases"))
        assert leases == {}, leases  # every node handed its slice back on shutdown
        counts = sorted(
            client.zcard(key) for key in client.scan_iter(match=f"{prefix}f:c-cap:*", count=1000)
        )
        assert counts == sorted(tally.cap_wins.values())  # exact: one event per charged win
        over = max(counts) - CAP
        print(f"fleet: frequency cap {CAP}: max impressions per user {max(counts)} "
              f"(over cap by {max(over, 0)}; in-flight bound {THREADS})")  # fmt: skip
        assert max(counts) <= CAP + THREADS
    finally:
        client.close()
