"""Readers: iPinYou, synthetic, Criteo and Open Bandit files -> time-ordered tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bidder.errors import ModelError
from bidder.features import RTB_CATEGORICAL
from bidder.model.dataset import IPINYOU_COLUMNS, read_table


def test_read_table_synthetic_keeps_truth_and_rows(synthetic_dir: Path) -> None:
    table = read_table(synthetic_dir, "synthetic", rows=500)
    assert len(table) == 500
    assert table.true_ctr is not None
    assert np.all((table.true_ctr > 0) & (table.true_ctr < 1))
    assert set(np.unique(table.label)) <= {0, 1}
    assert [len(c.ids) for c in table.columns] == [500] * len(RTB_CATEGORICAL)
    assert table.tags is not None and len(table.tags.indptr) == 501


def test_table_rows_slices_tags_consistently(synthetic_dir: Path) -> None:
    table = read_table(synthetic_dir, "synthetic", rows=100)
    part = table.rows(10, 20)
    assert len(part) == 10
    assert part.tags is not None and table.tags is not None
    assert part.tags.indptr[0] == 0
    lo, hi = table.tags.indptr[10], table.tags.indptr[20]
    np.testing.assert_array_equal(part.tags.ids, table.tags.ids[lo:hi])


def test_read_table_ipinyou_headerless_and_header_files(tmp_path: Path) -> None:
    row = [
        "0",
        "2",
        "13",
        "b1",
        "20131022135101295",
        "1",
        "u",
        "windows_chrome",
        "1.2.3.*",
        "216",
        "220",
        "2",
        "dom",
        "url",
        "null",
        "s",
        "300",
        "250",
        "FirstView",
        "Na",
        "13",
        "7319",
        "277",
        "205",
        "null",
        "2259",
        "10063",
    ]
    (tmp_path / "train.log.txt").write_text("\t".join(row) + "\n")
    later = [*row[:4], "20131023000000000", *row[5:], "1", "0"]
    later[0] = "1"
    (tmp_path / "test.log.txt").write_text(
        "\t".join(IPINYOU_COLUMNS) + "\n" + "\t".join(later) + "\n"
    )
    table = read_table(tmp_path, "ipinyou")
    assert list(table.label) == [0, 1]
    site = RTB_CATEGORICAL.index("site")
    assert table.columns[site].values == ("dom",)


def test_read_table_ipinyou_shared_data(shared_data: Path) -> None:
    table = read_table(shared_data / "ipinyou/camp2259-raw", "ipinyou")
    assert len(table) == 8355 + 4171
    assert int(table.label.sum()) == 5


def test_read_table_criteo_and_obd_shared_data(shared_data: Path) -> None:
    criteo = read_table(shared_data / "ctr-samples/criteo-kaggle2014-3idiots", "criteo")
    assert len(criteo) == 1999
    assert criteo.numeric.shape == (1999, 13)
    assert np.isnan(criteo.numeric).any()
    obd = read_table(shared_data / "open-bandit-dataset/random/all", "obd")
    assert len(obd) == 10000
    assert obd.numeric.shape == (10000, 1)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("bidlog", "format 'bidlog' is not available yet"),
        ("parquet", "unknown data format 'parquet'"),
        ("criteo", "does not exist"),
    ],
)
def test_read_table_rejects_bad_input(tmp_path: Path, fmt: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        read_table(tmp_path / "absent.csv", fmt)


def test_read_table_synthetic_without_log_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no log\.tsv"):
        read_table(tmp_path, "synthetic")
