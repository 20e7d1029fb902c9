"""Sweeps: the per-cell function, the process pool, the written table."""

from __future__ import annotations

import json
from pathlib import Path

from rtb.cli import main
from simulator.sweep import SweepSpec, run_cell, run_sweep


def test_run_cell_2997_mcpc_is_published_row(shared_data: Path) -> None:
    row = run_cell("2997", 1 / 32, "mcpc", 1, shared_data)
    assert (row["impressions"], row["clicks"], row["spend"]) == (14_752, 48, 307_751)
    assert row["evaluated_on"] == "2997.test.txt (all)"


def test_run_cell_without_test_stream_splits_validation(shared_data: Path) -> None:
    row = run_cell("1458", 1 / 32, "mcpc", 1, shared_data)
    assert row["auctions"] == 50_000
    assert row["evaluated_on"] == "1458.validation.txt (episodes 51-100)"


def test_run_sweep_processes_match_in_process(shared_data: Path) -> None:
    spec = SweepSpec(("2997",), (1 / 64, 1 / 32), ("mcpc", "const"), (1,), shared_data)
    assert run_sweep(spec, jobs=2) == run_sweep(spec, jobs=1)


def test_bench_replay_writes_json_and_markdown(shared_data: Path, tmp_path: Path) -> None:
    args = ["bench", "replay", "--campaigns", "2997", "--budget-fractions", "1/32"]
    args += ["--strategies", "lin,mcpc", "--seeds", "1", "--out", str(tmp_path), "--html"]
    assert main(args) == 0
    document = json.loads((tmp_path / "sweep.json").read_text())
    clicks = {row["strategy"]: row["clicks"] for row in document["rows"]}
    assert clicks == {"lin": 63, "mcpc": 48}
    assert "| 2997 | 1/32 | lin |" in (tmp_path / "sweep.md").read_text()
    assert (tmp_path / "clicks-vs-budget.png").is_file()
