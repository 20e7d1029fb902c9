"""`rtb replay` and `rtb bench replay`: reports, determinism, errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rtb.cli import main
from rtb.cmd_replay import parse_fraction, parse_param


def _replay_args(shared_data: Path, *extra: str) -> list[str]:
    log = shared_data / "ipinyou" / "rlb-dp" / "streams" / "2997.test.txt"
    return ["replay", "--format", "rlb", "--log", str(log), "--budget-fraction", "1/32", *extra]


def test_replay_cli_lin_report_has_published_numbers(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = _replay_args(shared_data, "--episode", "1000", "--strategy", "lin", "--param", "b0=10")
    assert main([*args, "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert (report["impressions"], report["clicks"], report["cost"]) == (32_208, 71, 203_610)
    assert report["spend"] == 203_610
    assert report["auctions"] == 156_063
    assert report["budget"] == 1969 * 157
    assert report["money_unit"] == "fen_cpm"
    assert report["strategy"] == {"name": "lin", "params": {"b0": 10.0}}
    assert report["tuning"] is None
    assert len(report["episodes"]) == 157
    expected_keys = {"bids", "win_rate", "ctr", "cpm", "ecpc", "seed", "code_version"}
    assert expected_keys <= report.keys()
    assert len(report["input"]["sha256"]) == 64


def test_replay_cli_same_inputs_byte_identical_report(shared_data: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    args = _replay_args(shared_data, "--strategy", "rand", "--param", "upper=40", "--seed", "3")
    assert main([*args, "--out", str(first)]) == 0
    assert main([*args, "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_replay_cli_lin_without_b0_tunes_on_validation(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main([*_replay_args(shared_data, "--strategy", "lin"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["tuning"]["stream"] == "2997.validation.txt"
    assert report["strategy"]["params"] == {"b0": 8.0}
    assert report["clicks"] == 63


def test_replay_cli_html_writes_page_and_plots(shared_data: Path, tmp_path: Path) -> None:
    html_dir = tmp_path / "html"
    args = _replay_args(shared_data, "--strategy", "mcpc", "--html", str(html_dir))
    assert main(args) == 0
    assert {p.name for p in html_dir.iterdir()} == {
        "index.html",
        "spend-vs-plan.png",
        "win-rate.png",
    }


@pytest.mark.parametrize("fmt", ["ipinyou", "synthetic", "bidlog"])
def test_replay_cli_missing_log_is_a_readable_error(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["replay", "--format", fmt, "--log", str(tmp_path / "x.log")]
    assert main(args) == 2
    assert "x.log" in capsys.readouterr().err


def test_replay_cli_bad_param_names_it(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _replay_args(
        shared_data, "--strategy", "ortb1", "--param", "c=-1", "--param", "lambda=1"
    )
    assert main(args) == 2
    assert "ortb1.c: must be a finite number > 0, got -1.0" in capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["lin", "rlb_cond"])  # tuned / fitted on validation
def test_replay_cli_refuses_tuning_or_fitting_on_the_replayed_log(
    shared_data: Path, capsys: pytest.CaptureFixture[str], strategy: str
) -> None:
    log = shared_data / "ipinyou" / "rlb-dp" / "streams" / "2997.validation.txt"
    args = ["replay", "--format", "rlb", "--log", str(log), "--strategy", strategy]
    assert main(args) == 2
    assert "validation stream other than the replayed log" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "value"), [("1/32", 0.03125), ("0.03125", 0.03125), ("1", 1.0)])
def test_parse_fraction_accepts_ratio_and_decimal(text: str, value: float) -> None:
    assert parse_fraction(text) == value


@pytest.mark.parametrize("text", ["abc", "1/0", "0", "-1/2"])
def test_parse_fraction_rejects_bad_values(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"fraction|must be > 0"):
        parse_fraction(text)


def test_parse_param_splits_name_and_number() -> None:
    assert parse_param("lambda=2.4e-4") == ("lambda", 2.4e-4)
