"""Dask clients for the CLI: a new local cluster (``local``) or a running scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

LOCAL = "local"


@contextlib.contextmanager
def dask_client(scheduler: str, n_workers: int = 2) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler`` (``tcp://host:8786``), or on a local
    cluster of ``n_workers`` single-threaded worker processes when it is ``"local"``."""
    from distributed import Client, LocalCluster

    if scheduler != LOCAL:
        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client
