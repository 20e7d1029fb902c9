"""Garbage-collector policy of a serving process."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Move what startup allocated (modules, model, config, indexes) out of GC scans.

    A full collection otherwise walks every one of those objects again and again: with
    them frozen it walks only what serving allocated since (per-bid records are untracked
    Structs), so its pauses stay short. Call once, when the server is ready.
    """
    gc.collect()
    gc.freeze()
