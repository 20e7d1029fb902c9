"""Fuzzed input through the real aiohttp app: only 200, 204, 400 or 413, and no ERROR logs."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bidder.serving import GOLDEN_CONFIG, ROOT, FakeClock, make_app, make_runtime
from tests.reliability.conftest import LoopServer
from tests.reliability.mutations import Case, build_cases, load_corpus, mutate

# The client side of the oversized cases: aiohttp warns before sending a body over 1 MB.
pytestmark = pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")

ALLOWED = {200, 204, 400, 413}
CORPUS_CASES = 2500
BATCH = 50

_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | _json


_format = st.fixed_dictionaries(
    {"w": _maybe(st.integers(-5, 2000)), "h": _maybe(st.integers(-5, 2000))}
)
_banner = st.fixed_dictionaries(
    {"w": _maybe(st.integers(0, 2000)), "h": _maybe(st.integers(0, 2000))},
    optional={"format": _maybe(st.lists(_format, max_size=5)), "battr": _json, "pos": _json},
)
_video = st.fixed_dictionaries(
    {"mimes": _maybe(st.lists(st.sampled_from(["video/mp4", "video/webm"]), max_size=3))},
    optional={"minduration": _json, "maxduration": _json, "protocols": _json},
)
_imp = st.fixed_dictionaries(
    {"id": _maybe(st.text(max_size=6))},
    optional={
        "banner": _maybe(_banner),
        "video": _maybe(_video),
        "bidfloor": _maybe(st.floats(-10, 1e6)),
        "bidfloorcur": _maybe(st.sampled_from(["USD", "EUR", "XXX"])),
        "pmp": _json,
        "tagid": _json,
        "secure": _json,
    },
)
_request = st.fixed_dictionaries(
    {"id": _maybe(st.text(max_size=12)), "imp": _maybe(st.lists(_maybe(_imp), max_size=4))},
    optional={
        "at": _maybe(st.integers(-1, 4)),
        "tmax": _maybe(st.integers(-100, 10_000)),
        "cur": _json,
        "bcat": _json,
        "badv": _json,
        "site": _maybe(
            st.fixed_dictionaries({}, optional={"domain": _json, "page": _json, "cat": _json})
        ),
        "app": _maybe(st.fixed_dictionaries({}, optional={"bundle": _json, "cat": _json})),
        "device": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "ua": _json,
                    "ip": _json,
                    "geo": _json,
                    "devicetype": _json,
                    "ifa": _json,
                },
            )
        ),
        "user": _maybe(
            st.fixed_dictionaries({}, optional={"id": _json, "buyeruid": _json, "data": _json})
        ),
        "regs": _json,
        "source": _json,
        "ext": _json,
    },
)


async def _send(server: LoopServer, case: Case) -> int:
    async with server.client.post("/bid", data=case.body, headers=case.headers) as resp:
        await resp.read()
        return resp.status


def _check(server: LoopServer, statuses: Counter[int], cases: list[Case]) -> None:
    bad = [
        (c.kind, s) for c, s in zip(cases, statuses.elements(), strict=False) if s not in ALLOWED
    ]
    assert set(statuses) <= ALLOWED, f"unexpected statuses {dict(statuses)} {bad[:5]}"
    errors = [r.getMessage() for r in server.errors.records]
    assert not errors, errors[:3]


@settings(max_examples=400)
@given(request=_request)
def test_bid_endpoint_answers_openrtb_shaped_json_with_allowed_status(
    loop_server: LoopServer, request: dict[str, Any]
) -> None:
    case = Case("hypothesis", json.dumps(request, allow_nan=True).encode("utf-8", "surrogatepass"))
    status = loop_server.run(_send(loop_server, case))
    assert status in ALLOWED, (status, case.body[:300])
    assert not loop_server.errors.records, loop_server.errors.records[0].getMessage()


class Corpus(list[dict[str, Any]]):
    def __repr__(self) -> str:  # hypothesis prints its arguments on failure
        return f"<corpus of {len(self)} requests>"


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> Corpus:
    return Corpus(load_corpus(shared_data))


@settings(max_examples=600)
@given(index=st.integers(min_value=0), seed=st.integers(0, 2**32))
def test_bid_endpoint_answers_mutated_corpus_with_allowed_status(
    loop_server: LoopServer, corpus: Corpus, index: int, seed: int
) -> None:
    case = mutate(random.Random(seed), corpus[index % len(corpus)])
    status = loop_server.run(_send(loop_server, case))
    assert status in ALLOWED, (case.kind, status, case.headers, case.body[:300])
    assert not loop_server.errors.records, loop_server.errors.records[0].getMessage()


def test_bid_endpoint_survives_concurrent_mutated_corpus(
    loop_server: LoopServer, corpus: Corpus
) -> None:
    cases = build_cases(corpus, CORPUS_CASES, seed=20261124)
    statuses: Counter[int] = Counter()
    by_kind: Counter[tuple[str, int]] = Counter()

    async def run_all() -> None:
        for start in range(0, len(cases), BATCH):
            batch = cases[start : start + BATCH]
            results = await asyncio.gather(*(_send(loop_server, c) for c in batch))
            for case, status in zip(batch, results, strict=True):
                statuses[status] += 1
                by_kind[case.kind, status] += 1

    loop_server.run(run_all())
    assert set(statuses) <= ALLOWED, sorted(k for k in by_kind if k[1] not in ALLOWED)
    assert not loop_server.errors.records, loop_server.errors.records[0].getMessage()
    assert statuses[413] > 0 and statuses[400] > 0  # the limits and the parser both answered
    assert loop_server.runtime.metrics.errors._value.get() == 0  # no unexpected exception


async def test_bid_endpoint_huge_finite_bidfloor_is_not_an_internal_error(
    aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    request = json.loads((ROOT / "tests/golden/openrtb/bid/banner-300x250-site.json").read_text())[
        "request"
    ]
    request["imp"][0]["bidfloor"] = 1e308
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path, FakeClock())
    client = await aiohttp_client(make_app(runtime))
    resp = await client.post("/bid", json=request)
    assert resp.status in ALLOWED
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
