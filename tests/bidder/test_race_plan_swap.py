"""Plan swaps under concurrent bid requests: every decision sees one complete plan."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from bidder.auction import Pending
from bidder.decision import Decision
from bidder.optimizing import OptimizerService, campaign_participation, group_arm, participates
from optimizer.plan import Plan
from tests.bidder.serving import make_app
from tests.bidder.test_optimizing import OPTIMIZER_ON, build, config_text

REQUESTS = 300


def body(i: int) -> bytes:
    return orjson.dumps(
        {
            "id": f"race-{i}",
            "tmax": 60_000,  # no request may time out to a no-bid under machine load
            "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
            "site": {"id": "s1", "domain": f"site{i % 7}.example"},
            "device": {"ua": "Mozilla/5.0", "ip": "203.0.113.7"},
            "user": {"id": f"u{i % 50}"},
        }
    )


def prebuilt_plans() -> list[Plan]:
    plans = []
    for v in range(1000, 1040):
        a = (v % 10) / 10
        shares = {"default|cr-a": a, "default|cr-b": 1.0 - a}
        plans.append(Plan(v, {"c1": 1.0}, {"c1": shares}, {"c1": {"cr-a": a, "cr-b": 1 - a}}))
    return plans


async def test_race_plan_swap_never_exposes_a_half_built_plan(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    runtime = build(config_text(OPTIMIZER_ON), tmp_path)
    seen: list[tuple[Plan, Decision]] = []
    auction = runtime.auction
    prepare, complete = auction.prepare, auction.complete

    def recording_prepare(
        request: Any, plan: Plan, now: Any, exchange: str = "default"
    ) -> Decision | Pending:
        prepared = prepare(request, plan, now, exchange)
        if isinstance(prepared, Decision):  # no candidates: decided already
            seen.append((plan, prepared))
        return prepared

    def recording_complete(pending: Pending, pctrs: list[float], version: str) -> Decision:
        decision = complete(pending, pctrs, version)
        seen.append((pending.plan, decision))
        return decision

    auction.prepare = recording_prepare  # type: ignore[method-assign]
    auction.complete = recording_complete  # type: ignore[method-assign]
    service = OptimizerService(runtime)
    plans = prebuilt_plans()
    built: list[Plan] = list(plans)
    stop = threading.Event()

    def swap_from_thread() -> None:
        i = 0
        while not stop.is_set():
            runtime.set_plan(plans[i % len(plans)])
            i += 1

    async def step_in_loop() -> None:
        for i in range(60):
            runtime.notices.arms.record_impression("c1", f"default|site:a|12|cr-{'ab'[i % 2]}", 9)
            service.step(float(i))
            built.append(runtime.plan)
            await asyncio.sleep(0)

    client = await aiohttp_client(make_app(runtime))
    thread = threading.Thread(target=swap_from_thread)
    thread.start()
    try:
        responses = await asyncio.gather(
            step_in_loop(), *(client.post("/bid/default", data=body(i)) for i in range(REQUESTS))
        )
    finally:
        stop.set()
        thread.join()
    statuses = {r.status for r in responses[1:]}
    assert statuses <= {200, 204}
    assert len(seen) == REQUESTS
    complete = {id(p) for p in built}
    campaign = runtime.config.campaigns[0]
    for plan, decision in seen:
        assert decision.plan_version == plan.version
        assert id(plan) in complete or plan.version == 0
        for shares in plan.arm_shares.values():
            assert sum(shares.values()) == pytest.approx(1.0)
        for bid in decision.bids:  # the bid obeys the plan it was decided with
            shares = plan.arm_shares.get("c1")
            if shares:
                table = campaign_participation(shares, campaign)
                arm = group_arm(bid.arm, campaign.optimizer.grouping)
                assert participates(table, arm, decision.request.id, bid.imp_id, "c1")
