"""The C fast path gives exactly what the walk gives, and only for warning-free requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.errors import RequestError
from bidder.openrtb.fast import decode_clean
from bidder.openrtb.request import DEFAULT_LIMITS, parse_bid_request, parse_bid_request_walk

L = DEFAULT_LIMITS


def _fast(body: bytes, version: str | None = None) -> Any:
    return decode_clean(body, version, L.max_imps, L.max_depth, L.max_array_len)


def _assert_agrees(body: bytes, version: str | None = None) -> bool:
    """The fast result, if any, equals the walk's, which had no warnings. True if fast."""
    fast = _fast(body, version)
    if fast is None:
        return False
    walked, warnings = parse_bid_request_walk(body, version=version)
    assert warnings == [], f"fast path took a request the walk warns about: {warnings}"
    assert fast == walked
    return True


def _bodies(path: Path) -> list[bytes]:
    with path.open("rb") as lines:
        return [orjson.dumps(orjson.loads(line)["request"]) for line in lines]


def test_request_fast_agrees_with_walk_on_corpus(shared_data: Path) -> None:
    bodies = _bodies(shared_data / "openrtb" / "requests.jsonl")
    taken = sum(_assert_agrees(b, "2.5") for b in bodies)
    assert taken > 0.8 * len(bodies)  # the corpus is mostly clean: the fast path is the norm


def test_request_fast_declines_every_rejected_request(shared_data: Path) -> None:
    for body in _bodies(shared_data / "openrtb" / "requests_invalid.jsonl"):
        try:
            parse_bid_request_walk(body)
        except RequestError:
            assert _fast(body) is None
            continue
        _assert_agrees(body)


BASE: dict[str, Any] = {
    "id": "r1",
    "imp": [{"id": "1", "banner": {"w": 300, "h": 250}, "bidfloor": 0.5}],
    "site": {"id": "s", "domain": "ex.com"},
}


@pytest.mark.parametrize(
    ("patch", "why"),
    [
        ({"id": ""}, "empty request id"),
        ({"id": 7}, "numeric request id"),
        ({"app": {"id": "a"}}, "site and app together"),
        ({"wseat": [], "bseat": []}, "wseat and bseat together, even empty"),
        ({"at": 5}, "auction type out of range"),
        ({"tmax": 0}, "tmax must be > 0"),
        ({"test": True}, "JSON boolean flag"),
        ({"imp": [{"id": "1"}]}, "imp without media"),
        ({"imp": [{"id": "1", "banner": {"w": -1, "h": 50}}]}, "fluid banner"),
        ({"imp": [{"id": "1", "banner": {}, "bidfloorcur": "usd"}]}, "lower-case currency"),
        ({"imp": [{"id": "1", "banner": {}}, {"id": "1", "banner": {}}]}, "duplicate imp id"),
        ({"imp": [{"id": "1", "native": {"ver": "1.2"}}]}, "native without request"),
        ({"imp": [{"id": "1", "native": {"request": {"assets": []}}}]}, "native request object"),
        ({"imp": [{"id": "1", "video": {"minduration": 9, "maxduration": 5}}]}, "min > max"),
        ({"imp": [{"id": "1", "banner": {}, "pmp": {"deals": [{"id": ""}]}}]}, "deal id"),
        ({"imp": [{"id": "1", "banner": {"w": 300.0, "h": 250}}]}, "integral float size"),
        ({"device": {"geo": {"country": "fra"}}}, "lower-case country"),
        ({"user": {"data": [None]}}, "null data item"),
        ({"regs": {"ext": "gdpr"}}, "regs.ext not an object"),
        ({"imp": [{"id": "1", "banner": {"w": 2**40, "h": 1}}]}, "huge integer"),
    ],
)
def test_request_fast_declines_what_the_walk_must_see(patch: dict[str, Any], why: str) -> None:
    body = json.dumps({**BASE, **patch}).encode()
    assert _fast(body) is None, why
    parse_bid_request(body) if patch.get("tmax") != 0 else None  # the walk still answers


def test_request_fast_builds_user_and_regs_like_the_walk() -> None:
    body = orjson.dumps(
        {
            **BASE,
            "user": {
                "id": "u",
                "ext": {"consent": "old"},
                "data": [
                    {"name": "dp", "segment": [{"id": "s1", "value": "v"}, {"value": "x"}]},
                    {"id": "d2", "name": "n", "segment": [{"id": "s2"}]},
                ],
            },
            "regs": {"coppa": 1, "us_privacy": "1---", "ext": {"gdpr": 1, "us_privacy": "1Y"}},
        }
    )
    assert _assert_agrees(body, "2.6")
    request, _ = parse_bid_request(body)
    assert request.user is not None and request.user.consent == "old"
    assert [s.data_id for s in request.user.segments] == ["dp", "d2"]
    assert (request.regs.coppa, request.regs.gdpr, request.regs.us_privacy) == (1, 1, "1---")


def test_request_fast_declines_deep_bodies_and_stricter_array_caps() -> None:
    nested: Any = {"b": 1}
    for _ in range(40):
        nested = [nested]
    deep = dict(BASE, ext={"a": nested})
    assert _fast(orjson.dumps(deep)) is None
    body = orjson.dumps(BASE)
    assert decode_clean(body, None, L.max_imps, L.max_depth, 10) is None
    assert decode_clean(body, None, L.max_imps, L.max_depth, 5000) is not None


SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "USD", "usd", "video/mp4", "1", "FRA", "fr", "${AUCTION_PRICE}"])
)
FIELD = st.sampled_from(
    ["id", "w", "h", "format", "banner", "video", "native", "audio", "bidfloor", "bidfloorcur",
     "pmp", "deals", "mimes", "minduration", "maxduration", "battr", "request", "instl",
     "secure", "pos", "geo", "country", "lat", "data", "segment", "name", "value", "consent",
     "gdpr", "coppa", "ext", "ifa", "lmt", "cat", "publisher", "at", "private_auction"]
)  # fmt: skip
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELD, inner, max_size=5),
    max_leaves=20,
)
TOP = st.sampled_from(
    ["id", "imp", "site", "app", "device", "user", "regs", "at", "tmax", "cur", "bcat", "wseat",
     "bseat", "test", "ext"]
)  # fmt: skip


@settings(max_examples=400)
@given(
    st.dictionaries(TOP, VALUE, max_size=6),
    st.lists(st.dictionaries(FIELD, VALUE, max_size=5), min_size=1, max_size=3),
)
def test_request_fast_agrees_with_walk_on_generated_requests(
    top: dict[str, Any], imps: list[dict[str, Any]]
) -> None:
    doc = {"id": "r", **top, "imp": imps}
    body = json.dumps(doc).encode()
    try:
        _assert_agrees(body)
    except RequestError:
        raise AssertionError("fast path accepted a request the walk rejects") from None


NESTED = st.recursive(
    st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=30,
)


@given(NESTED, st.integers(min_value=0, max_value=8))
def test_request_fast_depth_check_matches_the_walk(value: Any, max_depth: int) -> None:
    from bidder.openrtb.fast import _deeper_than
    from bidder.openrtb.request import _too_deep

    body = json.dumps({"v": value}).encode()
    assert _deeper_than(body, max_depth) == _too_deep({"v": value}, max_depth)


def test_request_fast_declines_bodies_nested_past_the_decoder_stack() -> None:
    body = b'{"id":"r","imp":[{"id":"1","banner":{}}],"ext":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert _fast(body) is None
    with pytest.raises(RequestError):
        parse_bid_request(body)
