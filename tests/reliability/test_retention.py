"""Bid log daily rotation and retention; audience tags capped at the retention period."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from bidder.config.model import ServerSettings
from bidder.retention import (
    DAY_S,
    apply_retention,
    capped_ttl_s,
    dated_path,
    prune_bidlogs,
    rotate_bidlog,
)
from bidder.stores.tags import EmbeddedTagStore

NOW_S = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC).timestamp()


def test_retention_rotates_live_file_of_a_past_day(tmp_path: Path) -> None:
    base = tmp_path / "bidlog.jsonl"
    base.write_text(f'{{"ts": {NOW_S - DAY_S}}}\n{{"ts": {NOW_S}}}\n')
    assert rotate_bidlog(base, NOW_S) == tmp_path / "bidlog-2026-06-09.jsonl"
    assert not base.exists()
    assert (tmp_path / "bidlog-2026-06-09.jsonl").read_text().count("ts") == 2


def test_retention_keeps_live_file_of_today_and_appends_after_restart(tmp_path: Path) -> None:
    base = tmp_path / "bidlog.jsonl"
    base.write_text(f'{{"ts": {NOW_S}}}\n')
    assert rotate_bidlog(base, NOW_S) is None and base.exists()
    dated_path(base, "2026-06-10").write_text("earlier\n")
    assert rotate_bidlog(base, NOW_S + DAY_S) == dated_path(base, "2026-06-10")
    assert dated_path(base, "2026-06-10").read_text().startswith("earlier\n{")


def test_retention_deletes_dated_files_older_than_retention_only(tmp_path: Path) -> None:
    base = tmp_path / "bidlog.jsonl"
    names = ["bidlog-2026-06-10.jsonl", "bidlog-2026-06-03.jsonl", "bidlog-2026-06-02.jsonl",
             "bidlog-2025-01-01.jsonl", "bidlog-notes.jsonl", "other-2020-01-01.jsonl"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text("x\n")
    removed = prune_bidlogs(base, 7, NOW_S)
    assert sorted(p.name for p in removed) == ["bidlog-2025-01-01.jsonl", "bidlog-2026-06-02.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            "bidlog-2026-06-10.jsonl",
            "bidlog-2026-06-03.jsonl",
            "bidlog-notes.jsonl",
            "other-2020-01-01.jsonl",
        ]
    )


def test_retention_caps_tag_lifetimes(tmp_path: Path) -> None:
    store = EmbeddedTagStore()
    store.add("h1", ["long"], 365 * DAY_S, NOW_S)
    store.add("h1", ["short"], 3600, NOW_S)
    settings = dataclasses.replace(ServerSettings(), bidlog_path=None, tag_retention_days=30)
    apply_retention(settings, store, NOW_S)
    assert store.tags("h1", NOW_S + 29 * DAY_S) == frozenset({"long"})
    assert store.tags("h1", NOW_S + 31 * DAY_S) == frozenset()
    assert store.tags("h1", NOW_S + 1800) == frozenset({"long", "short"})
    assert capped_ttl_s(365 * DAY_S, 30) == 30 * DAY_S
    assert capped_ttl_s(60, 30) == 60
