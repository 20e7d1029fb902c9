"""Property tests: parse_bid_request returns a well-formed request or raises RequestError only."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bidder.errors import RequestError
from bidder.openrtb.request import parse_bid_request
from bidder.settings import data_dir

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["${json-unit.any-number}", "USD", "video/mp4", "", "\u2603\U0001f600"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    ["id", "imp", "banner", "video", "native", "audio", "w", "h", "format", "mimes", "bidfloor",
     "bidfloorcur", "pmp", "deals", "tmax", "at", "cur", "bcat", "wseat", "bseat", "test", "site",
     "app", "device", "user", "regs", "geo", "data", "segment", "ext", "request", "minduration"]
)  # fmt: skip
# objects shaped like requests, so the walk goes past the envelope checks
REQUESTISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=40,
)


def _dumps(value: Any) -> bytes:
    """JSON bytes; unlike orjson, ``json`` writes integers wider than 64 bits."""
    return json.dumps(value, ensure_ascii=False).encode()


def _check(body: bytes) -> None:
    try:
        request, warnings = parse_bid_request(body)
    except RequestError as exc:
        assert exc.problems
        assert exc.__cause__ is None, f"parser bug behind the safety net: {exc.__cause__!r}"
        return
    assert request.imp
    assert isinstance(request.id, str)
    assert all(isinstance(imp.id, str) for imp in request.imp)
    assert all(isinstance(str(w), str) for w in warnings)


@given(JSON)
def test_property_any_json_value(value: Any) -> None:
    _check(_dumps(value))


@given(st.dictionaries(KEYS, REQUESTISH, max_size=8))
def test_property_requestish_objects(value: dict[str, Any]) -> None:
    _check(_dumps(value))


@given(st.lists(st.dictionaries(KEYS, REQUESTISH, max_size=6), min_size=1, max_size=3))
def test_property_requestish_imps(imps: list[dict[str, Any]]) -> None:
    _check(_dumps({"id": "r", "imp": imps}))


@given(st.binary(max_size=200))
def test_property_any_bytes(body: bytes) -> None:
    _check(body)


def _corpus_sample() -> list[dict[str, Any]]:
    path = data_dir() / "openrtb" / "requests.jsonl"
    if not path.is_file():
        return []
    with Path(path).open("rb") as lines:
        rows = [orjson.loads(line)["request"] for line in lines]
    return rows[:: max(1, len(rows) // 60)]


CORPUS = _corpus_sample()
REPLACEMENTS = st.sampled_from(
    [None, -1, -(2**63), 2**64, 1e308, -0.0, 0.5, "", "x" * 300, "\u0000\udfff"[:1], "\U0001f600",
     [], {}, [None], {"id": 1}, True, "${json-unit.any-string}"]
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out.extend(_paths(child, (*prefix, index)))
    return out


def _mutate(request: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    mutated = copy.deepcopy(request)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(mutated) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["drop", "replace", "nest", "json"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = copy.deepcopy(data.draw(REPLACEMENTS))
        elif action == "nest":
            value = parent[path[-1]]
            for _ in range(data.draw(st.integers(min_value=1, max_value=40))):
                value = [value]
            parent[path[-1]] = value
        else:
            parent[path[-1]] = data.draw(JSON)
    return mutated


@pytest.mark.skipif(not CORPUS, reason="shared data folder is absent (set RTB_DATA_DIR)")
@given(st.data())
def test_property_mutated_corpus_requests(data: st.DataObject) -> None:
    request = data.draw(st.sampled_from(CORPUS))
    _check(_dumps(_mutate(request, data)))
