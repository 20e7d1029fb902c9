"""Golden invalid requests: each file's body is rejected with exactly its error lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from bidder.errors import RequestError
from bidder.openrtb.request import parse_bid_request

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "golden" / "openrtb" / "invalid"
CASES = sorted(GOLDEN_DIR.glob("*.json"))


def _body(case: dict[str, Any]) -> bytes:
    if "body" in case:
        return str(case["body"]).encode()
    return orjson.dumps(case["request"])


def test_golden_invalid_folder_has_cases() -> None:
    assert len(CASES) >= 12


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_invalid_gives_exact_error_lines(path: Path) -> None:
    case = json.loads(path.read_text())
    assert case["description"]
    assert case["expect"]["status"] == 400
    with pytest.raises(RequestError) as caught:
        parse_bid_request(_body(case))
    assert caught.value.lines() == case["expect"]["errors"]
    assert caught.value.__cause__ is None  # a real rejection, not the safety net
