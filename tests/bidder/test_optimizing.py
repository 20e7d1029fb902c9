"""OptimizerService, arm grouping, participation in decide, A/B variants and their config."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from bidder.config.load import parse_config
from bidder.config.model import ArmDimension, Budget, Campaign, Config, OptimizerSettings
from bidder.errors import ConfigError
from bidder.experiments import split_variant, variant_for
from bidder.metrics import Metrics
from bidder.openrtb.nbr import NoBidReason
from bidder.openrtb.request import parse_bid_request
from bidder.optimizing import (
    OptimizerService,
    append_plan_log,
    campaign_participation,
    group_arm,
    participates,
    participation,
)
from bidder.runtime import Runtime, build_runtime
from bidder.scoring import PriorScorer
from optimizer.plan import Plan
from optimizer.step import PlanLog
from tests.bidder.serving import FakeClock, make_app

CREATIVE = (
    '{{id: {id}, format: banner, size: 300x250, markup: "<div>x</div>", '
    'landing_url: "https://shop.example/"}}'
)


def config_text(optimizer: str = "", campaign_optimizer: str = "") -> str:
    creatives = ", ".join(CREATIVE.format(id=i) for i in ("cr-a", "cr-b"))
    return f"""
server: {{timezone: UTC, bidlog_path: null}}
currency: USD
model: {{path: null}}
{optimizer}
campaigns:
  - id: c1
    advertiser_domain: shop.example
    budget: {{total: 1000, daily: 1000}}
    max_bid_cpm: 5.0
    bid_strategy: {{type: value_per_click, value_per_click: 1.0, prior_ctr: 0.002}}
    pacing: asap
    {campaign_optimizer}
    creatives: [{creatives}]
"""


def build(text: str, tmp_path: Path) -> Runtime:
    config = parse_config(text)
    server = dataclasses.replace(config.server, state_dir=str(tmp_path / "state"))
    config = dataclasses.replace(config, server=server)
    return build_runtime(
        config,
        PriorScorer(),
        clock=FakeClock(),
        metrics=Metrics(CollectorRegistry()),
        persist=False,
    )


def request(request_id: str, domain: str = "news.example", user: str | None = None) -> Any:
    body: dict[str, Any] = {
        "id": request_id,
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
        "site": {"id": "s1", "domain": domain},
        "device": {"ua": "Mozilla/5.0", "ip": "203.0.113.7"},
    }
    if user is not None:
        body["user"] = {"id": user}
    return parse_bid_request(json.dumps(body).encode())[0]


NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
OPTIMIZER_ON = "optimizer: {enabled: true, grouping: [exchange, creative], seed: 3}"


def test_group_arm_keeps_the_configured_parts_in_key_order() -> None:
    arm = "adx1|site:a.example|09|cr-a@B"
    assert group_arm(arm, (ArmDimension.EXCHANGE, ArmDimension.CREATIVE)) == "adx1|cr-a"
    assert group_arm(arm, (ArmDimension.SITE, ArmDimension.HOUR)) == "site:a.example|09"
    assert split_variant(arm) == ("adx1|site:a.example|09|cr-a", "B")


def test_participation_uniform_shares_buy_every_arm() -> None:
    shares = {"a|00": 0.25, "b|00": 0.25, "a|01": 0.25, "b|01": 0.25}
    grouping = (ArmDimension.EXCHANGE, ArmDimension.HOUR)
    assert participation(shares, grouping) == dict.fromkeys(shares, 1.0)


def test_participation_is_relative_to_the_arms_of_the_same_hour() -> None:
    grouping = (ArmDimension.EXCHANGE, ArmDimension.HOUR)
    shares = {"a|00": 0.45, "b|00": 0.05, "a|01": 0.25, "b|01": 0.25}
    table = participation(shares, grouping)
    assert table["a|00"] == 1.0
    assert table["b|00"] == pytest.approx(0.05 * 2 / 0.5)
    assert table["a|01"] == table["b|01"] == 1.0


def test_participation_pooled_creatives_buy_every_auction_of_a_creative_grouping() -> None:
    shares = {"cr-a": 0.9, "cr-b": 0.05, "cr-c": 0.05}
    grouping = (ArmDimension.CREATIVE,)
    assert participation(shares, grouping, pool_creatives=True) == dict.fromkeys(shares, 1.0)
    assert participation(shares, grouping)["cr-b"] == pytest.approx(0.15)


def test_participation_pooled_creatives_compare_media_units_within_the_hour() -> None:
    grouping = (ArmDimension.EXCHANGE, ArmDimension.HOUR, ArmDimension.CREATIVE)
    shares = {
        "a|00|x": 0.3, "a|00|y": 0.1, "b|00|x": 0.05, "b|00|y": 0.05,
        "a|01|x": 0.2, "b|01|y": 0.3,
    }  # fmt: skip
    table = participation(shares, grouping, pool_creatives=True)
    assert table["a|00|x"] == table["a|00|y"] == 1.0
    assert table["b|00|x"] == table["b|00|y"] == pytest.approx(0.1 * 2 / 0.5)
    assert table["a|01|x"] == pytest.approx(0.2 * 2 / 0.5)
    assert table["b|01|y"] == 1.0


def test_campaign_participation_pools_only_when_rotation_is_optimised() -> None:
    shares = {"cr-a": 0.9, "cr-b": 0.1}
    base = build_campaign_stub()
    on = dataclasses.replace(base, optimizer=OptimizerSettings(grouping=(ArmDimension.CREATIVE,)))
    off = dataclasses.replace(
        base, optimizer=OptimizerSettings(grouping=(ArmDimension.CREATIVE,), creatives=False)
    )
    assert campaign_participation(shares, on)["cr-b"] == 1.0
    assert campaign_participation(shares, off)["cr-b"] == pytest.approx(0.2)


def build_campaign_stub() -> Campaign:
    return Campaign(
        id="c1",
        advertiser_domain="example.com",
        budget=Budget(total_micros=1000, daily_micros=1000),
        max_bid_micros=1000,
        creatives=(),
    )


def test_participates_follows_the_probability_and_is_deterministic() -> None:
    table = {"x": 0.3}
    draws = [participates(table, "x", f"r{i}", "1", "c1") for i in range(4000)]
    assert sum(draws) / len(draws) == pytest.approx(0.3, abs=0.03)
    assert draws == [participates(table, "x", f"r{i}", "1", "c1") for i in range(4000)]
    assert participates(table, "unseen", "r0", "1", "c1")  # exploration never starves


def test_decide_no_bids_on_arms_the_plan_drops(tmp_path: Path) -> None:
    runtime = build(config_text(OPTIMIZER_ON), tmp_path)
    shares = {"default|cr-a": 0.0, "default|cr-b": 0.0, "other|cr-a": 1.0}
    plan = Plan(1, {}, {"c1": shares}, {"c1": {"cr-b": 1.0}})
    decision = runtime.auction.decide(request("r1"), plan, NOW)
    assert decision.bids == ()
    assert decision.nbr is NoBidReason.PLAN
    keep_b = Plan(2, {}, {"c1": {"default|cr-a": 0.0, "default|cr-b": 1.0}}, {"c1": {"cr-b": 1.0}})
    decision = runtime.auction.decide(request("r2"), keep_b, NOW)
    assert [b.creative.id for b in decision.bids] == ["cr-b"]
    assert decision.plan_version == 2


def test_decide_buys_the_auction_rotation_gave_to_a_low_share_creative(tmp_path: Path) -> None:
    runtime = build(config_text(OPTIMIZER_ON), tmp_path)
    plan = Plan(1, {}, {"c1": {"default|cr-a": 1.0, "default|cr-b": 0.0}}, {"c1": {"cr-b": 1.0}})
    decision = runtime.auction.decide(request("r1"), plan, NOW)
    assert [b.creative.id for b in decision.bids] == ["cr-b"]  # one buying unit per media


def step_with_delivery(runtime: Runtime) -> PlanLog:
    arms = runtime.notices.arms
    for _ in range(400):
        arms.record_impression("c1", "default|site:a|12|cr-a", 1000)
        arms.record_impression("c1", "default|site:a|12|cr-b", 1000)
    for _ in range(12):
        arms.record_click("c1", "default|site:a|12|cr-a")
    service = OptimizerService(runtime)
    entry = service.step(1000.0)
    assert entry is not None
    return entry


def test_optimizer_service_step_swaps_plan_and_logs_probabilities(tmp_path: Path) -> None:
    runtime = build(config_text(OPTIMIZER_ON), tmp_path)
    entry = step_with_delivery(runtime)
    assert runtime.plan.version == 1 == entry.version
    shares = entry.campaign_to_arm_to_share["c1"]
    assert set(shares) == {"default|cr-a", "default|cr-b"}
    assert all(s >= 0 for s in shares.values())
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["default|cr-a"] > shares["default|cr-b"]
    assert set(entry.campaign_to_arm_to_probability["c1"]) == set(shares)
    weights = entry.campaign_to_creative_to_weight["c1"]
    assert weights["cr-a"] > weights["cr-b"]
    assert runtime.plan.creative_weights["c1"] == pytest.approx(weights)


def test_optimizer_service_same_seed_same_plan(tmp_path: Path) -> None:
    first = step_with_delivery(build(config_text(OPTIMIZER_ON), tmp_path / "a"))
    second = step_with_delivery(build(config_text(OPTIMIZER_ON), tmp_path / "b"))
    assert first.render_json_line() == second.render_json_line()


def test_optimizer_service_disabled_campaign_keeps_empty_plan(tmp_path: Path) -> None:
    runtime = build(config_text(), tmp_path)
    assert OptimizerService(runtime).step(10.0) is None
    assert runtime.plan.version == 0


def test_optimizer_service_run_due_steps_on_the_interval(tmp_path: Path) -> None:
    text = config_text("optimizer: {enabled: true, step_interval: 10m}")
    service = OptimizerService(build(text, tmp_path))
    service.runtime.notices.arms.record_impression("c1", "default|site:a|12|cr-a", 10)
    assert service.run_due(0.0) is None  # arms the timer
    assert service.run_due(599.0) is None
    assert service.run_due(600.0) is not None
    assert service.run_due(700.0) is None


def test_optimizer_service_appends_plan_logs_as_json_lines(tmp_path: Path) -> None:
    runtime = build(config_text(OPTIMIZER_ON), tmp_path)
    path = tmp_path / "plans.jsonl"
    service = OptimizerService(runtime, sink=append_plan_log(path))
    runtime.notices.arms.record_impression("c1", "default|site:a|12|cr-a", 10)
    service.step(1.0)
    service.step(2.0)
    lines = path.read_text().splitlines()
    assert [PlanLog.parse_json_line(line).version for line in lines] == [1, 2]


AB = (
    "optimizer: {experiment: {salt: exp1, control: A, variants: "
    "[{name: A}, {name: B, bid_multiplier: 2.0}]}}"
)


def test_decide_ab_variant_recorded_and_its_multiplier_applied(tmp_path: Path) -> None:
    runtime = build(config_text(campaign_optimizer=AB), tmp_path)
    campaign = runtime.config.campaigns[0]
    prices: dict[str, set[int]] = {"A": set(), "B": set()}
    for i in range(40):
        user = f"user-{i}"
        decision = runtime.auction.decide(request(f"r{i}", user=user), runtime.plan, NOW)
        bid = decision.bids[0]
        expected = variant_for(campaign, decision.user_hash)
        assert expected is not None and bid.variant == expected.name
        assert bid.arm.endswith("@" + expected.name)
        prices[expected.name].add(bid.price_micros)
    assert prices["A"] and prices["B"]
    assert min(prices["B"]) == 2 * max(prices["A"])
    anonymous = runtime.auction.decide(request("anon"), runtime.plan, NOW)
    assert anonymous.bids[0].variant == "A"  # no user id: control


async def test_admin_abtests_requires_token_and_reports_lift(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    runtime = build(config_text(campaign_optimizer=AB), tmp_path)
    server = dataclasses.replace(runtime.config.server, admin_token="tok")
    runtime.config = dataclasses.replace(runtime.config, server=server)
    arms = runtime.notices.arms
    for _ in range(1000):
        arms.record_impression("c1", "default|site:a|12|cr-a@A", 1000)
        arms.record_impression("c1", "default|site:a|12|cr-a@B", 2000)
    for _ in range(10):
        arms.record_click("c1", "default|site:a|12|cr-a@A")
    for _ in range(30):
        arms.record_click("c1", "default|site:a|12|cr-a@B")
    client = await aiohttp_client(make_app(runtime))
    assert (await client.get("/admin/abtests")).status == 401
    resp = await client.get("/admin/abtests", headers={"Authorization": "Bearer tok"})
    assert resp.status == 200
    body = await resp.json()
    report = body["c1"]
    assert report["variants"]["B"]["clicks"] == 30
    ctr = report["lift"]["B"]["ctr"]
    assert ctr["difference"] == pytest.approx(0.02)
    assert ctr["significant"] is True
    assert ctr["lower"] < 0.02 < ctr["upper"]


def config_problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.lines()


@pytest.mark.parametrize(
    ("optimizer", "campaign", "line"),
    [
        ("", "optimizer: {floor: 1.5}", "campaigns[0].optimizer.floor: must be in [0, 1), got 1.5"),
        ("optimizer: {floor: -0.1}", "", "optimizer.floor: must be in [0, 1), got -0.1"),
        (
            "optimizer: {policy: ucbb}",
            "",
            'optimizer.policy: must be one of thompson, ucb, epsilon_greedy, uniform, got "ucbb"; '
            'did you mean "ucb"?',
        ),
        (
            "",
            "optimizer: {grouping: [exchange, hourz]}",
            'campaigns[0].optimizer.grouping[1]: unknown arm part "hourz"; did you mean "hour"?',
        ),
        ("optimizer: {max_move: 0}", "", "optimizer.max_move: must be in (0, 1], got 0"),
        (
            "optimizer: {objective: clicks_under_target_cpc}",
            "",
            "optimizer.target_cpc: is required when objective is clicks_under_target_cpc",
        ),
        (
            "optimizer: {media: {adx1: {min: 0.6, max: 0.5}}}",
            "",
            "optimizer.media.adx1.min: must be <= max (0.5), got 0.6",
        ),
        (
            "",
            "optimizer: {experiment: {salt: s, variants: [{name: A}]}}",
            "campaigns[0].optimizer.experiment.variants: must list at least 2 variants, got 1",
        ),
        (
            "",
            "optimizer: {experiment: {salt: s, control: C, variants: [{name: A}, {name: B}]}}",
            "campaigns[0].optimizer.experiment.control: must name one of the variants (A, B), "
            'got "C"',
        ),
        ("optimizer: {step_interval: 0}", "", "optimizer.step_interval: must be > 0, got 0"),
        (
            "optimizer: {bogus: 1}",
            "",
            "optimizer.bogus: unknown key; allowed: enabled, policy, "
            "objective, target_cpc, target_cpa, grouping, media, floor, max_move, step_interval, "
            "creatives, seed, experiment",
        ),
    ],
)
def test_config_optimizer_invalid_values_name_path_rule_and_value(
    optimizer: str, campaign: str, line: str
) -> None:
    assert line in config_problems(config_text(optimizer, campaign))


def test_config_optimizer_collects_every_problem_at_once() -> None:
    problems = config_problems(config_text("optimizer: {floor: 2}", "optimizer: {max_move: 3}"))
    assert len(problems) == 2


def test_config_campaign_optimizer_overrides_global_keys_only() -> None:
    text = config_text(
        "optimizer: {enabled: true, policy: ucb, floor: 0.3, step_interval: 2m}",
        "optimizer: {policy: uniform, creatives: false}",
    )
    config: Config = parse_config(text)
    settings = config.campaigns[0].optimizer
    assert settings.enabled is True
    assert settings.policy.value == "uniform"
    assert settings.creatives is False
    assert settings.floor == 0.3
    assert settings.step_interval_s == 120
    assert config.optimizer.policy.value == "ucb"


delivery = st.lists(
    st.tuples(
        st.sampled_from(["adx1", "adx2", "adx3"]),
        st.integers(0, 23),
        st.sampled_from(["cr-a", "cr-b"]),
        st.integers(0, 60),
        st.integers(0, 10),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=15, deadline=None)
@given(
    steps=st.lists(delivery, min_size=1, max_size=3),
    floor=st.floats(0.0, 0.99),
    max_move=st.floats(0.01, 1.0),
    policy=st.sampled_from(["thompson", "ucb", "epsilon_greedy", "uniform"]),
)
def test_optimizer_service_logged_shares_non_negative_and_sum_to_one(
    steps: list[list[tuple[str, int, str, int, int]]], floor: float, max_move: float, policy: str
) -> None:
    text = config_text(
        f"optimizer: {{enabled: true, policy: {policy}, floor: {floor:.4f}, "
        f"max_move: {max(max_move, 0.01):.4f}, "
        "grouping: [exchange, hour, creative], media: {adx1: {max: 0.9}}}"
    )
    config = parse_config(text)
    runtime = build_runtime(
        config,
        PriorScorer(),
        clock=FakeClock(),
        metrics=Metrics(CollectorRegistry()),
        persist=False,
    )
    service = OptimizerService(runtime)
    for i, rows in enumerate(steps):
        for exchange, hour, creative, imps, clicks in rows:
            arm = f"{exchange}|site:a|{hour:02d}|{creative}"
            for _ in range(imps):
                runtime.notices.arms.record_impression("c1", arm, 1000)
            for _ in range(min(clicks, imps)):
                runtime.notices.arms.record_click("c1", arm)
        entry = service.step(float(i))
        assert entry is not None
        for mapping in (entry.campaign_to_arm_to_share, entry.campaign_to_creative_to_weight):
            for shares in mapping.values():
                assert all(s >= 0 for s in shares.values())
                assert sum(shares.values()) == pytest.approx(1.0)
        shares = runtime.plan.arm_shares.get("c1", {})
        table = participation(shares, config.campaigns[0].optimizer.grouping)
        assert all(0.0 <= p <= 1.0 for p in table.values())
