"""`rtb bench replay --dask local`: the same sweep, byte for byte, as the in-process run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtb.cli import main

pytestmark = pytest.mark.slow


def test_dask_sweep_replay_is_byte_identical(shared_data: Path, tmp_path: Path) -> None:
    grid = ["--campaigns", "2997", "--budget-fractions", "1/32", "--strategies",
            "lin,mcpc", "--seeds", "1"]  # fmt: skip
    assert main(["bench", "replay", *grid, "--out", str(tmp_path / "one")]) == 0
    args = ["bench", "replay", *grid, "--dask", "local", "--dask-workers", "2"]
    assert main([*args, "--out", str(tmp_path / "dask")]) == 0
    for name in ("sweep.json", "sweep.md"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
