"""The shared OpenRTB corpus: all valid traffic parses; invalid traffic is rejected or listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bidder.errors import RequestError
from bidder.openrtb.request import parse_bid_request

ACCEPTED_TABLE = Path(__file__).resolve().parent / "invalid_accepted.json"
REASONS = {"json", "depth", "version", "too_many_imps", "invalid"}


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            yield orjson.loads(line)


def test_corpus_valid_requests_all_parse(shared_data: Path) -> None:
    rows = list(_rows(shared_data / "openrtb" / "requests.jsonl"))
    assert len(rows) == 4670
    rejected: list[str] = []
    for row in rows:
        try:
            request, _ = parse_bid_request(orjson.dumps(row["request"]))
        except RequestError as exc:
            rejected.append(f"{row['sha1']} {row['source']}: {exc}")
            continue
        assert request.imp
        assert all(isinstance(imp.id, str) for imp in request.imp)
    assert rejected == []


def test_corpus_invalid_requests_rejected_or_listed(shared_data: Path) -> None:
    table: dict[str, str] = json.loads(ACCEPTED_TABLE.read_text())
    rows = list(_rows(shared_data / "openrtb" / "requests_invalid.jsonl"))
    assert len(rows) == 109
    unlisted, stale = [], []
    for row in rows:
        try:
            parse_bid_request(orjson.dumps(row["request"]))
        except RequestError as exc:
            assert exc.reason in REASONS
            if row["sha1"] in table:
                stale.append(row["sha1"])
            continue
        if row["sha1"] not in table:
            unlisted.append(f"{row['sha1']} {row['source']}")
    assert unlisted == [], "accepted but not in invalid_accepted.json"
    assert stale == [], "listed in invalid_accepted.json but now rejected"
    assert set(table) <= {row["sha1"] for row in rows}, "table lists unknown sha1s"


def test_corpus_accepted_table_reasons_are_one_line() -> None:
    table: dict[str, str] = json.loads(ACCEPTED_TABLE.read_text())
    for sha1, reason in table.items():
        assert len(sha1) == 40
        assert reason.strip()
        assert "\n" not in reason


@pytest.mark.parametrize("role", ["pbs_to_bidder", "example"])
def test_corpus_role_parses_with_typed_fields(shared_data: Path, role: str) -> None:
    rows = [r for r in _rows(shared_data / "openrtb" / "requests.jsonl") if r["role"] == role]
    for row in rows[:200]:
        request, warnings = parse_bid_request(orjson.dumps(row["request"]))
        for imp in request.imp:
            assert isinstance(imp.bidfloor, float)
            if imp.banner is not None:
                assert all(f.w >= 0 and f.h >= 0 for f in imp.banner.sizes())
        assert all(str(w) for w in warnings)
