"""Scoring batches across concurrent requests: one model call per event-loop turn.

Requests that reach scoring in the same turn of the event loop (under load: every request
whose bytes arrived in the same poll) wait for one ``call_soon`` callback that scores all
their candidates together. At low load a batch is one request and the wait is one loop
turn. The values are those ``decide`` would compute: ``score_jobs`` is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bidder.auction import Pending
from bidder.scoring import Scorer, score_jobs


class ScoreBatcher:
    """``await score(pending)`` -> (pCTRs, model version) of its candidates."""

    def __init__(self, scorer: Callable[[], Scorer], max_candidates: int = 512) -> None:
        self._scorer = scorer  # read at flush time: a hot-swapped model applies at once
        self._max = max_candidates
        self._jobs: list[tuple[Pending, asyncio.Future[tuple[list[float], str]]]] = []
        self._queued = 0
        self.batches = 0
        self.scored = 0

    async def score(self, pending: Pending) -> tuple[list[float], str]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[list[float], str]] = loop.create_future()
        if not self._jobs:
            loop.call_soon(self._flush)
        self._jobs.append((pending, future))
        self._queued += len(pending.candidates)
        if self._queued >= self._max:
            self._flush()
        return await future

    def _flush(self) -> None:
        jobs, self._jobs, self._queued = self._jobs, [], 0
        if not jobs:
            return
        scorer = self._scorer()
        try:
            results = score_jobs(scorer, [(p.ctx, p.candidates) for p, _ in jobs])
        except Exception as exc:  # every waiting request answers no-bid and logs it
            for _, future in jobs:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.scored += len(jobs)
        version = scorer.version
        for (_, future), pctrs in zip(jobs, results, strict=True):
            if not future.done():
                future.set_result((pctrs.tolist(), version))
