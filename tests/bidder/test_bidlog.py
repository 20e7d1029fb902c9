"""Bid log: slices serialised on the loop write exactly what one flush writes."""

from __future__ import annotations

from pathlib import Path

from bidder.bidlog import BidLog
from bidder.events import NoticeOutcome
from bidder.notices import NoticeKind
from bidder.privacy import IdHasher


def _filled(path: Path, n: int) -> BidLog:
    bidlog = BidLog(path, IdHasher("salt"))
    for i in range(n):
        bidlog.add_notice(NoticeKind.WIN, NoticeOutcome(200, f"r{i}"), 1000.0 + i)
    return bidlog


def test_bidlog_slices_write_the_same_lines_as_one_flush(tmp_path: Path) -> None:
    whole = _filled(tmp_path / "whole.jsonl", 10)
    assert whole.flush() == 10
    sliced = _filled(tmp_path / "sliced.jsonl", 10)
    sizes = []
    while sliced.pending:
        lines = sliced.serialise(3)
        sizes.append(len(lines))
        sliced.write(lines)
    assert sizes == [3, 3, 3, 1]
    assert (tmp_path / "sliced.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert (sliced.written, sliced.pending, sliced.flush()) == (10, 0, 0)


def test_bidlog_disabled_buffers_and_writes_nothing(tmp_path: Path) -> None:
    bidlog = BidLog(None, IdHasher("salt"))
    bidlog.add_notice(NoticeKind.LOSS, NoticeOutcome(200, "released"), 1.0)
    assert (bidlog.pending, bidlog.flush(), bidlog.write([b"x"])) == (0, 0, 0)
