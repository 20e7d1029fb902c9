"""Scorer seam: candidates in, calibrated pCTR out, one batch per request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bidder.candidate import AuctionContext, Candidate


class Scorer(Protocol):
    """Scores all candidates of one request in a single call.

    Callers guarantee ``candidates`` is non-empty and all belong to ``ctx``.
    Implementations return a float64 array of shape ``(len(candidates),)`` with
    calibrated click probabilities in ``[0, 1]``; they do no I/O and never raise on
    unseen feature values (those map to "other"). ``version`` names the model.
    """

    @property
    def version(self) -> str: ...

    def score(
        self, ctx: AuctionContext, candidates: Sequence[Candidate]
    ) -> npt.NDArray[np.float64]: ...


ScoringJob = tuple[AuctionContext, Sequence[Candidate]]


def score_jobs(scorer: Scorer, jobs: Sequence[ScoringJob]) -> list[npt.NDArray[np.float64]]:
    """pCTRs of several requests' candidates: one model call when the scorer batches
    (``score_many``), else one ``score`` per request. Same values either way."""
    score_many = getattr(scorer, "score_many", None)
    if score_many is not None:
        out: list[npt.NDArray[np.float64]] = score_many(jobs)
        return out
    return [scorer.score(ctx, candidates) for ctx, candidates in jobs]


class PriorScorer:
    """pCTR = each campaign's configured ``strategy.prior_ctr`` (used when no model is loaded)."""

    version = "prior"

    def score(
        self, ctx: AuctionContext, candidates: Sequence[Candidate]
    ) -> npt.NDArray[np.float64]:
        return np.array([c.campaign.strategy.prior_ctr for c in candidates], dtype=np.float64)
