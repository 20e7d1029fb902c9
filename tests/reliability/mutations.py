"""Bad-input generators for the HTTP fuzz tests and ``benchmarks/fuzz_http.py``.

``mutate(rng, request)`` turns one corpus BidRequest into one ``Case`` (body bytes plus
headers): wrong types, huge and negative numbers, NaN/Infinity literals, deep nesting,
duplicate keys, unicode, empty and oversized arrays, truncated and non-UTF-8 bodies, wrong
content types, and gzip/deflate bodies that do or do not decompress.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

JSON_TYPE = {"Content-Type": "application/json"}
_ODD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, -(2**63), 2**64, 10**30, -(10**30), 1e308, -1e308, 5e-324,
    0.5, "", "0", "-1", "1e999", "\u0000", "\ud83d\ude00" * 3, "\u202e\u0645\u0631\u062d\u0628\u0627",
    "${AUCTION_PRICE}", "x" * 5000, [], {}, [None], {"": None}, [[[]]],
)  # fmt: skip
_CONTENT_TYPES = (
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "application/octet-stream", "", "*/*;;;",
    "application/json; charset=utf-16",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Case:
    kind: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_TYPE))


def load_corpus(data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """BidRequest objects from ``openrtb/requests.jsonl`` (the first ``limit`` of them)."""
    out: list[dict[str, Any]] = []
    with (data_dir / "openrtb" / "requests.jsonl").open("rb") as fh:
        for line in fh:
            request = orjson.loads(line).get("request")
            if isinstance(request, dict):
                out.append(request)
            if limit is not None and len(out) >= limit:
                break
    return out


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (dict keys and list indexes)."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(node, prefix)]
    while stack:
        value, path = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            found.append((*path, key))
            if isinstance(child, (dict, list)) and len(found) < 2000:
                stack.append((child, (*path, key)))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any) -> None:
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for key in path:
        node = node[key]
    return node


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def _replace_value(rng: random.Random, request: dict[str, Any], values: tuple[Any, ...]) -> bytes:
    for _ in range(rng.randint(1, 4)):
        paths = _paths(request)  # again: a replaced container invalidates paths below it
        if paths:
            _set(request, rng.choice(paths), copy.deepcopy(rng.choice(values)))
    return _dumps(request)


def wrong_type(rng: random.Random, request: dict[str, Any]) -> Case:
    return Case("wrong_type", _replace_value(rng, request, _ODD_VALUES))


def extreme_number(rng: random.Random, request: dict[str, Any]) -> Case:
    numbers = (-1, -(10**20), 10**20, 2**53 + 1, 1e308, -1e308, 1e-308, -0.0, 99999999999)
    return Case("extreme_number", _replace_value(rng, request, numbers))


def nan_literal(rng: random.Random, request: dict[str, Any]) -> Case:
    literal = rng.choice((float("nan"), float("inf"), float("-inf")))
    return Case("nan_literal", _replace_value(rng, request, (literal,)))


def deep_nesting(rng: random.Random, request: dict[str, Any]) -> Case:
    depth = rng.choice((20, 33, 100, 1000, 5000, 100_000))
    opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
    nested = opener * depth + b"1" + closer * depth
    paths = _paths(request)
    marker = "__deep__"
    if paths:
        _set(request, rng.choice(paths), marker)
        body = _dumps(request).replace(b'"' + marker.encode() + b'"', nested, 1)
    else:
        body = nested
    return Case("deep_nesting", body)


def duplicate_keys(rng: random.Random, request: dict[str, Any]) -> Case:
    body = _dumps(request)
    key = rng.choice(("id", "imp", "tmax", "site", "device", "user", "at"))
    value = _dumps(rng.choice(_ODD_VALUES))
    return Case("duplicate_keys", b'{"' + key.encode() + b'":' + value + b"," + body[1:])


def unicode_strings(rng: random.Random, request: dict[str, Any]) -> Case:
    texts = ("\ud800", "\udfff", "\u0000\u0001", "\ufeff", "é" * 100, "\U0010ffff", "a\u0301")
    body = _replace_value(rng, request, texts)
    if rng.random() < 0.3:
        body = b"\xef\xbb\xbf" + body  # UTF-8 byte-order mark
    return Case("unicode", body)


def array_size(rng: random.Random, request: dict[str, Any]) -> Case:
    imps = request.get("imp") if isinstance(request.get("imp"), list) else []
    choice = rng.random()
    if choice < 0.3:
        request["imp"] = []
    elif choice < 0.6 and imps:
        request["imp"] = [copy.deepcopy(imps[0]) for _ in range(rng.choice((21, 200, 2000)))]
    else:
        paths = [p for p in _paths(request) if isinstance(_get(request, p), list)] or [("imp",)]
        _set(request, rng.choice(paths), [rng.choice(_ODD_VALUES[:12])] * rng.choice((0, 5000)))
    return Case("array_size", _dumps(request))


def truncated(rng: random.Random, request: dict[str, Any]) -> Case:
    body = _dumps(request)
    return Case("truncated", body[: rng.randrange(max(1, len(body)))])


def non_utf8(rng: random.Random, request: dict[str, Any]) -> Case:
    body = bytearray(_dumps(request))
    for _ in range(rng.randint(1, 5)):
        body[rng.randrange(len(body))] = rng.choice((0x80, 0xC0, 0xFE, 0xFF, 0xED))
    return Case("non_utf8", bytes(body))


def content_type(rng: random.Random, request: dict[str, Any]) -> Case:
    headers = {"Content-Type": rng.choice(_CONTENT_TYPES)}
    return Case("content_type", _dumps(request), headers)


def bad_gzip(rng: random.Random, request: dict[str, Any]) -> Case:
    body = _dumps(request)
    encoding = rng.choice(("gzip", "deflate", "x-gzip", "gzip, gzip", "compress", "identity"))
    choice = rng.random()
    if choice < 0.4:
        payload = rng.randbytes(rng.randint(0, 2000))
    elif choice < 0.7:
        packed = gzip.compress(body)
        payload = packed[: rng.randrange(len(packed))]
    else:
        payload = bytearray(zlib.compress(body))
        payload[rng.randrange(len(payload))] ^= 0xFF
        payload = bytes(payload)
    return Case("bad_gzip", payload, {**JSON_TYPE, "Content-Encoding": encoding})


def good_gzip(rng: random.Random, request: dict[str, Any]) -> Case:
    body = _dumps(request) if rng.random() < 0.7 else b" " * rng.choice((10**6, 4 * 10**6))
    return Case("gzip", gzip.compress(body, 6), {**JSON_TYPE, "Content-Encoding": "gzip"})


def not_an_object(rng: random.Random, request: dict[str, Any]) -> Case:
    body = rng.choice((b"", b"null", b"[]", b"1", b'"x"', b"{", b"}", b"{}", b"[{}]", b"\x00"))
    return Case("not_an_object", body)


def oversized(rng: random.Random, request: dict[str, Any]) -> Case:
    request["ext"] = {"pad": "x" * rng.choice((300_000, 1_200_000))}
    return Case("oversized", _dumps(request))


def valid(rng: random.Random, request: dict[str, Any]) -> Case:
    return Case("valid", _dumps(request))


MUTATORS: tuple[Callable[[random.Random, dict[str, Any]], Case], ...] = (
    wrong_type, extreme_number, nan_literal, deep_nesting, duplicate_keys, unicode_strings,
    array_size, truncated, non_utf8, content_type, bad_gzip, good_gzip, not_an_object,
    oversized, valid,
)  # fmt: skip


def mutate(rng: random.Random, request: dict[str, Any]) -> Case:
    """One bad (or, 1 time in 15, untouched) case from a corpus request; never mutates it."""
    return rng.choice(MUTATORS)(rng, copy.deepcopy(request))


def build_cases(corpus: list[dict[str, Any]], count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [mutate(rng, rng.choice(corpus)) for _ in range(count)]
