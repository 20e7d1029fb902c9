"""`rtb replay --format synthetic`: the optimiser on the simulated clock, known outcomes."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bidder.config.load import load_config
from optimizer.step import PlanLog
from rtb.cli import main
from simulator.full_run import load_rows, run_full_replay
from simulator.replay import AuctionType
from simulator.report import render_json
from simulator.synth import generate_market
from simulator.synth_outcomes import SynthOutcomes, world_from_meta

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "simulator" / "configs" / "synthetic.yaml"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate_market(6000, 5, out, write_requests=False)
    return out


@pytest.fixture(scope="module")
def report(market: Path) -> dict[str, Any]:
    return replay(market)


STEP_S = 6 * 3600  # fewer steps than the shipped 1 h keep the test fast


def replay(market: Path) -> dict[str, Any]:
    config = load_config(CONFIG)
    campaigns = tuple(
        dataclasses.replace(c, optimizer=dataclasses.replace(c.optimizer, step_interval_s=STEP_S))
        for c in config.campaigns
    )
    return run_full_replay(
        market / "log.tsv",
        CONFIG,
        budget_fraction=0.25,
        auction=AuctionType.SECOND_PRICE,
        seed=3,
        version="test",
        synthetic=True,
        config=dataclasses.replace(config, campaigns=campaigns),
    )


def test_synth_outcomes_logged_creative_matches_true_ctr(market: Path) -> None:
    rows = load_rows(market / "log.tsv")[:500]
    outcomes = SynthOutcomes(world_from_meta(market), rows, 1)
    for row in rows:
        assert row.true_ctr is not None
        assert outcomes.true_ctr(row, row.logged_creative) == pytest.approx(row.true_ctr, abs=1e-9)
    other = outcomes.ctr[:, 0, :]
    assert other.shape == (500, 3) and (other > 0).all() and (other < 1).all()


def test_synthetic_replay_every_win_has_a_known_outcome(report: dict[str, Any]) -> None:
    assert report["auctions"] == 6000
    assert report["invalid_requests"] == 0
    assert report["impressions"] > 0
    assert report["creative_mismatch"] > 0
    assert report["unknown_clicks"] == 0
    assert report["expected_clicks"] > 0


def test_synthetic_replay_steps_the_optimizer_on_the_simulated_clock(
    report: dict[str, Any],
) -> None:
    logs = [PlanLog.parse_json_line(line) for line in report["plan_logs"]]
    assert len(logs) >= 20  # a week at one step per 6 simulated hours
    assert [e.version for e in logs] == list(range(1, len(logs) + 1))
    assert report["plan_version"] == len(logs)
    for entry in logs:
        for shares in entry.campaign_to_arm_to_share.values():
            assert all(s >= 0 for s in shares.values())
            assert sum(shares.values()) == pytest.approx(1.0)
        for weights in entry.campaign_to_creative_to_weight.values():
            assert sum(weights.values()) == pytest.approx(1.0)
    assert set(logs[-1].campaign_to_arm_to_share) == {"synth-1", "synth-2", "synth-3"}


def test_synthetic_replay_reports_pacing_against_plan(report: dict[str, Any]) -> None:
    pacing = report["pacing"]["synth-1"]
    assert len(pacing["days"]) == 7
    assert all(len(d["spend_by_hour"]) == 24 for d in pacing["days"])
    assert pacing["max_abs_deviation_of_daily"] is not None


def test_synthetic_replay_same_seed_byte_identical(market: Path, report: dict[str, Any]) -> None:
    assert render_json(replay(market)) == render_json(report)


def test_synthetic_replay_cli_end_to_end(market: Path, tmp_path: Path) -> None:
    day = tmp_path / "day"  # the first day of the market keeps the shipped 1 h steps fast
    day.mkdir()
    lines = (market / "log.tsv").read_text().splitlines(keepends=True)
    first_day = [line for line in lines[1:] if line.split("\t")[4].startswith("20130606")]
    (day / "log.tsv").write_text("".join(lines[:1] + first_day))
    shutil.copy(market / "meta.json", day / "meta.json")
    out = tmp_path / "r.json"
    code = main(
        ["replay", "--format", "synthetic", "--log", str(day), "--budget-fraction", "1/4",
         "--seed", "3", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    body = json.loads(out.read_text())
    assert body["auctions"] == len(first_day)
    assert len(body["plan_logs"]) >= 20
