"""``Replayer.run`` scores chunks of rows in one call: the same results as row by row."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
import pytest
import yaml
from prometheus_client import CollectorRegistry

from bidder.candidate import AuctionContext, Candidate
from bidder.config.load import load_config, parse_config
from bidder.config.model import Config
from bidder.metrics import Metrics
from bidder.optimizing import OptimizerService
from bidder.runtime import build_runtime
from simulator.clock import SimClock
from simulator.full_run import budget_config, load_rows
from simulator.ipinyou import MarketRow
from simulator.replay import AuctionType, Replayer, ReplayResult
from simulator.synth import generate_market
from simulator.synth_outcomes import SynthOutcomes, world_from_meta

ROOT = Path(__file__).resolve().parents[2]
IPINYOU_CONFIG = ROOT / "simulator" / "configs" / "ipinyou-2259.yaml"
SYNTH_CONFIG = ROOT / "simulator" / "configs" / "synthetic.yaml"


class HashScorer:
    """A pCTR per (auction, creative) from a hash: a mix-up of candidates changes bids."""

    version = "hash"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(
        self, ctx: AuctionContext, candidates: Sequence[Candidate]
    ) -> npt.NDArray[np.float64]:
        return np.array([_pctr(ctx.request.id, c.creative.id) for c in candidates])

    def score_many(
        self, jobs: Sequence[tuple[AuctionContext, Sequence[Candidate]]]
    ) -> list[npt.NDArray[np.float64]]:
        self.calls.append(len(jobs))
        return [self.score(ctx, candidates) for ctx, candidates in jobs]


def _pctr(request_id: str, creative_id: str) -> float:
    digest = hashlib.blake2b(f"{request_id}/{creative_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 * 0.004


class RowByRowReplayer(Replayer):
    """The reference: every row ticks, then goes through ``decide`` on its own."""

    def run(self, rows: Sequence[MarketRow]) -> ReplayResult:  # type: ignore[override]
        result = ReplayResult()
        for row in rows:
            self._advance(row.ts_s, result)
            self.step(row, result)
        self._hour_marks(result, final=True)
        return result


def _replay(
    kind: type[Replayer],
    rows: list[MarketRow],
    config: Config,
    scorer: HashScorer,
    *,
    optimize: bool = False,
    outcomes: SynthOutcomes | None = None,
) -> tuple[ReplayResult, list[str], dict[str, object]]:
    clock = SimClock(rows[0].ts_s)
    runtime = build_runtime(
        config, scorer, clock=clock, metrics=Metrics(CollectorRegistry()), persist=False
    )
    service = OptimizerService(runtime, seed=4) if optimize else None
    result = kind(
        runtime, clock, AuctionType.SECOND_PRICE, optimizer=service, outcomes=outcomes
    ).run(rows)
    logs = [] if service is None else [entry.render_json_line() for entry in service.logs]
    return result, logs, dataclasses.asdict(runtime.ledger.stats())


def _shared_users(rows: list[MarketRow], users: int) -> list[MarketRow]:
    """The same rows with ``users`` distinct user ids: frequency caps bind often."""
    out = []
    for i, row in enumerate(rows):
        request = {**row.request, "user": {**row.request.get("user", {}), "id": f"u{i % users}"}}
        out.append(dataclasses.replace(row, request=request, body=orjson.dumps(request)))
    return out


def _capped_config(rows: list[MarketRow]) -> Config:
    doc = yaml.safe_load(IPINYOU_CONFIG.read_text())
    base = doc["campaigns"][0]
    doc["campaigns"] = [
        {**base, "id": "hourly", "pacing": "asap", "frequency_cap": {"impressions": 1, "window": "1h"}},
        {**base, "id": "daily", "pacing": "even", "frequency_cap": {"impressions": 2, "window": "24h"}},
    ]  # fmt: skip
    config = parse_config(yaml.safe_dump(doc), environ={}, source="test")
    return budget_config(config, rows, 0.5, None)


def test_chunked_replay_equals_row_by_row_with_binding_frequency_caps(
    shared_data: Path,
) -> None:
    rows = load_rows(shared_data / "ipinyou" / "camp2259-raw" / "test.log.txt")[:2500]
    rows = _shared_users(rows, 25)
    config = _capped_config(rows)
    chunked_scorer = HashScorer()
    chunked = _replay(Replayer, rows, config, chunked_scorer)
    reference = _replay(RowByRowReplayer, rows, config, HashScorer())
    assert chunked == reference
    result = chunked[0]
    assert result.nobid_reasons["frequency_cap"] > 100  # the caps did bind
    assert result.total.impressions > 100
    assert max(chunked_scorer.calls) > 20  # and candidates were scored many rows at a time


def test_chunked_replay_equals_row_by_row_with_the_optimizer_stepping(tmp_path: Path) -> None:
    generate_market(1500, 3, tmp_path, write_requests=False)
    rows = load_rows(tmp_path / "log.tsv")
    base = load_config(SYNTH_CONFIG)
    campaigns = tuple(
        dataclasses.replace(c, optimizer=dataclasses.replace(c.optimizer, step_interval_s=3600))
        for c in base.campaigns
    )
    config = budget_config(dataclasses.replace(base, campaigns=campaigns), rows, 0.25, None)
    outcomes = SynthOutcomes(world_from_meta(tmp_path), rows, 2)
    chunked = _replay(Replayer, rows, config, HashScorer(), optimize=True, outcomes=outcomes)
    reference = _replay(
        RowByRowReplayer, rows, config, HashScorer(), optimize=True, outcomes=outcomes
    )
    assert chunked == reference
    assert len(chunked[1]) > 10  # plans changed along the way


@pytest.mark.parametrize("chunk_rows", [1, 3])
def test_chunked_replay_is_the_same_for_any_chunk_size(
    shared_data: Path, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _shared_users(
        load_rows(shared_data / "ipinyou" / "camp2259-raw" / "test.log.txt")[:600], 10
    )
    config = _capped_config(rows)
    default = _replay(Replayer, rows, config, HashScorer())
    monkeypatch.setattr("simulator.replay.CHUNK_ROWS", chunk_rows)
    assert _replay(Replayer, rows, config, HashScorer()) == default
