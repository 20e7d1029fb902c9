"""Sweeps on a Dask cluster: each cell is one ``simulator.sweep.run_cell`` task.

Workers must see ``spec.data_dir`` at the same path (a shared filesystem or the same
machine). Rows come back in grid order, so the written sweep is byte-identical to the
in-process and process-pool runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.sweep import SweepSpec, run_cell


def run_sweep_dask(
    spec: SweepSpec, client: Any, on_done: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """Every cell of ``spec`` as a task on ``client``'s cluster; rows in grid order."""
    from distributed import as_completed

    extra = (spec.data_dir, spec.episode_len, spec.max_bid)
    futures = [client.submit(run_cell, *cell, *extra, pure=False) for cell in spec.cells()]
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        future.result()  # re-raises a failed cell's exception here
        if on_done is not None:
            on_done()
    rows: list[dict[str, Any]] = client.gather(futures)
    return rows
