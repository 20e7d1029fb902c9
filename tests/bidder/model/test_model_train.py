"""Training pipeline on a synthetic market with a known CTR: files, report keys, metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bidder.errors import ModelError
from bidder.features import RTB_SPEC, schema_hash
from bidder.model.train import TrainConfig, TrainResult, train_model
from rtb.cli import main

MODEL_FILES = (
    "model.txt",
    "encoder.json",
    "calibration.json",
    "canary.json",
    "metadata.json",
    "report.json",
    "reliability.png",
    "report.html",
)


def test_train_model_writes_every_file(trained: TrainResult) -> None:
    for name in MODEL_FILES:
        assert (trained.model_dir / name).is_file(), name
    assert not any(p.name.startswith(".") for p in trained.model_dir.parent.iterdir())


def test_train_model_report_has_documented_keys(trained: TrainResult) -> None:
    report = json.loads((trained.model_dir / "report.json").read_text())
    for who in ("model", "baseline", "ground_truth"):
        test = report[who]["test"]
        assert set(test) >= {"auc", "logloss", "ne", "calibration"}
        assert set(test["calibration"]) >= {"observed", "predicted", "ratio", "ece", "deciles"}
        assert len(test["calibration"]["deciles"]) == 10
    assert report["feature_importance"]
    assert report["data"]["test"]["rows"] == 3000


def test_train_model_learns_the_known_ctr(trained: TrainResult) -> None:
    test = trained.report["model"]["test"]
    truth = trained.report["ground_truth"]["test"]
    assert test["auc"] > 0.6
    assert test["auc"] <= truth["auc"] + 0.05
    assert 0.5 < test["calibration"]["ratio"] < 1.5
    assert test["ne"] < 1.0


def test_train_model_metadata_names_schema_and_seed(trained: TrainResult) -> None:
    meta = json.loads((trained.model_dir / "metadata.json").read_text())
    assert meta["schema_hash"] == schema_hash(RTB_SPEC)
    assert meta["seed"] == 1
    assert meta["vocab_sizes"]["site"] == 20
    assert meta["feature_spec"] == "rtb"


def test_train_model_same_seed_same_model(synthetic_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig(seed=3, rows=3000, num_boost_round=20, num_threads=1, baseline=False)
    a = train_model(synthetic_dir, "synthetic", tmp_path / "a", config, progress=None)
    b = train_model(synthetic_dir, "synthetic", tmp_path / "b", config, progress=None)
    assert (a.model_dir / "model.txt").read_text() == (b.model_dir / "model.txt").read_text()


def test_train_model_too_few_rows_raises(synthetic_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too few"):
        train_model(synthetic_dir, "synthetic", tmp_path / "m", TrainConfig(rows=2), progress=None)


def test_train_model_bidlog_raises_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="bidlog"):
        train_model(tmp_path, "bidlog", tmp_path / "m", progress=None)


def test_cmd_train_runs_end_to_end(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli-model"
    args = [
        "train",
        "--data",
        str(synthetic_dir),
        "--format",
        "synthetic",
        "--out",
        str(out),
        "--rows",
        "3000",
        "--seed",
        "2",
        "--threads",
        "1",
        "--quiet",
    ]
    assert main(args) == 0
    assert "model written to" in capsys.readouterr().out
    assert (out / "model.txt").is_file()


def test_cmd_train_bad_format_data_returns_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--data", str(tmp_path), "--format", "bidlog", "--out", str(tmp_path / "m")]
    assert main(args) == 1
    assert "not available yet" in capsys.readouterr().err


def test_train_model_criteo_and_obd_shared_data(shared_data: Path, tmp_path: Path) -> None:
    config = TrainConfig(num_boost_round=50, num_threads=1)
    for fmt, path in [
        ("criteo", "ctr-samples/criteo-kaggle2014-3idiots"),
        ("obd", "open-bandit-dataset/random/all"),
    ]:
        report = train_model(shared_data / path, fmt, tmp_path / fmt, config, None).report
        assert report["model"]["test"]["logloss"] > 0
        assert report["baseline"]["test"]["logloss"] > 0
