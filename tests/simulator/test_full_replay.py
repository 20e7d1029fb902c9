"""Full-path replay of the iPinYou 2259 raw logs through the real parser, decide and ledger."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rtb.cli import main
from simulator.full_run import load_rows, run_full_replay
from simulator.replay import AuctionType
from simulator.report import render_json

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "simulator" / "configs" / "ipinyou-2259.yaml"


def replay(log: Path, auction: AuctionType = AuctionType.SECOND_PRICE) -> dict[str, object]:
    return run_full_replay(
        log, CONFIG, budget_fraction=0.25, auction=auction, seed=7, version="test"
    )


def test_full_replay_2259_end_to_end(shared_data: Path) -> None:
    log = shared_data / "ipinyou" / "camp2259-raw" / "train.log.txt"
    report = replay(log)
    assert report["auctions"] == 8355
    assert report["invalid_requests"] == 0
    assert 0 < report["impressions"] <= report["bids"] <= report["auctions"]
    assert report["spend"] <= report["budget"]
    assert report["money_unit"] == "fen_cpm"
    per_hour = report["per_hour"]
    assert isinstance(per_hour, dict)
    assert sum(h["impressions"] for h in per_hour.values()) == report["impressions"]
    per_arm = report["per_arm"]
    assert isinstance(per_arm, dict)
    assert sum(a["spend"] for a in per_arm.values()) == pytest.approx(report["spend"])


def test_full_replay_report_is_byte_identical(shared_data: Path) -> None:
    log = shared_data / "ipinyou" / "camp2259-raw" / "test.log.txt"
    assert render_json(replay(log)) == render_json(replay(log))


def test_full_replay_first_price_pays_the_bid(shared_data: Path) -> None:
    log = shared_data / "ipinyou" / "camp2259-raw" / "test.log.txt"
    second = replay(log)
    first = replay(log, AuctionType.FIRST_PRICE)
    assert first["auction_type"] == "first"
    cpm_first, cpm_second = first["cpm"], second["cpm"]
    assert isinstance(cpm_first, float) and isinstance(cpm_second, float)
    assert cpm_first >= cpm_second


def test_full_replay_rows_sorted_by_time(shared_data: Path) -> None:
    rows = load_rows(shared_data / "ipinyou" / "camp2259-raw" / "train.log.txt")
    assert all(a.ts_s <= b.ts_s for a, b in itertools.pairwise(rows))


def test_full_replay_cli_writes_report(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    log = shared_data / "ipinyou" / "camp2259-raw" / "test.log.txt"
    code = main(["replay", "--format", "ipinyou", "--log", str(log), "--out", str(out)])
    assert code == 0
    assert b'"auctions": 4171' in out.read_bytes()
