"""Cross-request score batching: concurrent requests share one model call, same decisions."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
import pytest

from bidder.auction import Pending
from bidder.batching import ScoreBatcher
from bidder.candidate import AuctionContext, Candidate
from bidder.decision import Decision
from bidder.openrtb.request import parse_bid_request
from bidder.runtime import Runtime
from bidder.scoring import PriorScorer
from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_runtime


class CountingScorer(PriorScorer):
    """Prior pCTRs scaled by the request's position in the batch-free order."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score_many(
        self, jobs: Sequence[tuple[AuctionContext, Sequence[Candidate]]]
    ) -> list[npt.NDArray[np.float64]]:
        self.calls.append(len(jobs))
        return [self.score(ctx, candidates) for ctx, candidates in jobs]


class FailingScorer(PriorScorer):
    def score_many(
        self, jobs: Sequence[tuple[AuctionContext, Sequence[Candidate]]]
    ) -> list[npt.NDArray[np.float64]]:
        raise RuntimeError("model exploded")


GOLDEN_BIDS = Path(__file__).resolve().parents[1] / "golden" / "openrtb" / "bid"
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def _bodies() -> list[bytes]:
    cases = sorted(GOLDEN_BIDS.glob("*.json"))
    return [orjson.dumps(orjson.loads(p.read_bytes())["request"]) for p in cases]


@pytest.fixture
def runtimes(tmp_path: Path) -> Iterator[Callable[[str, PriorScorer], Runtime]]:
    made: list[Runtime] = []

    def make(name: str, scorer: PriorScorer) -> Runtime:
        runtime = make_runtime(GOLDEN_CONFIG, tmp_path / name, FakeClock(NOW.timestamp()), scorer)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def _pendings(runtime: Runtime, bodies: list[bytes]) -> list[Pending]:
    out = []
    for body in bodies:
        request, _ = parse_bid_request(body)
        prepared = runtime.auction.prepare(request, runtime.plan, NOW, "x")
        assert not isinstance(prepared, Decision), prepared.nbr
        out.append(prepared)
    return out


def _summary(d: Decision) -> tuple[object, ...]:
    return (d.nbr, [(b.id, b.campaign_id, b.price_micros, b.pctr) for b in d.bids], d.rejections)


Runtimes = Callable[[str, PriorScorer], Runtime]


async def test_batching_scores_one_loop_turn_in_one_call_with_decide_results(
    runtimes: Runtimes,
) -> None:
    scorer = CountingScorer()
    runtime = runtimes("batched", scorer)
    batcher = ScoreBatcher(lambda: runtime.auction.scorer)
    pendings = _pendings(runtime, _bodies())
    scored = await asyncio.gather(*(batcher.score(p) for p in pendings))
    assert scorer.calls == [len(pendings)]  # one model call for the whole turn
    batched = [
        runtime.auction.complete(p, pctrs, v)
        for p, (pctrs, v) in zip(pendings, scored, strict=True)
    ]
    twin = runtimes("plain", PriorScorer())
    for body, decision in zip(_bodies(), batched, strict=True):
        request, _ = parse_bid_request(body)
        assert _summary(twin.auction.decide(request, twin.plan, NOW, "x")) == _summary(decision)
    assert (batcher.batches, batcher.scored) == (1, len(pendings))


async def test_batching_caps_a_batch_at_max_candidates(runtimes: Runtimes) -> None:
    scorer = CountingScorer()
    runtime = runtimes("capped", scorer)
    batcher = ScoreBatcher(lambda: runtime.auction.scorer, max_candidates=2)
    pendings = _pendings(runtime, _bodies()[:4])
    await asyncio.gather(*(batcher.score(p) for p in pendings))
    assert sum(scorer.calls) == 4 and max(scorer.calls) <= 2


async def test_batching_failure_reaches_every_waiting_request(runtimes: Runtimes) -> None:
    runtime = runtimes("failing", FailingScorer())
    batcher = ScoreBatcher(lambda: runtime.auction.scorer)
    pendings = _pendings(runtime, _bodies()[:3])
    results = await asyncio.gather(*(batcher.score(p) for p in pendings), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    fresh = _pendings(runtime, _bodies()[:1])  # the batcher keeps working afterwards
    runtime.auction.scorer = PriorScorer()
    assert len((await batcher.score(fresh[0]))[0]) == len(fresh[0].candidates)
