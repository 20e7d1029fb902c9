"""Full-path replay: log rows -> OpenRTB bytes -> parse -> Auction.decide -> notices -> ledger.

The simulator owns no bidding logic: it builds the same ``Runtime`` as the server (in
memory, on a simulated clock), hands each row's request to the real parser and
``decide``, settles the auction against the row's competing price and sends the win or
loss notice through the real, signed notice path, which charges the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple, Protocol

import orjson

from bidder.auction import Pending
from bidder.decision import Bid, Decision
from bidder.errors import RequestError
from bidder.events import NoticeOutcome
from bidder.notices import NoticeFacts, NoticeKind
from bidder.openrtb.request import parse_bid_request
from bidder.openrtb.response import micros_to_response_cpm
from bidder.openrtb.types import BidRequest
from bidder.optimizing import OptimizerService
from bidder.runtime import Runtime
from bidder.scoring import score_jobs
from simulator.clock import SimClock
from simulator.ipinyou import MarketRow

TICK_S = 60.0  # simulated seconds between runtime ticks (pacing, expiry)
CHUNK_ROWS = 32  # rows targeted ahead and scored in one call; more keep more objects alive
# at once, and the garbage collector traverses them (256 rows: ~15% of the replay in gc)


class OutcomeModel(Protocol):
    """Known outcome of showing ``bid``'s creative on ``row`` (synthetic markets)."""

    def outcome(self, row: MarketRow, bid: Bid) -> tuple[bool, float]:
        """(clicked, true CTR)."""
        ...


class AuctionType(str, Enum):
    SECOND_PRICE = "second"  # the winner pays the competing price
    FIRST_PRICE = "first"  # the winner pays its own bid


@dataclass
class Tally:
    """Counts of one slice of a replay (all money in engine micros)."""

    auctions: int = 0
    bids: int = 0
    impressions: int = 0
    clicks: int = 0
    spend_micros: int = 0
    unknown_clicks: int = 0  # won, but the log cannot say whether our ad was clicked
    expected_clicks: float = 0.0  # sum of true CTR of won impressions (synthetic markets)

    def add_win(self, spend: int, click: bool | None, true_ctr: float | None) -> None:
        self.impressions += 1
        self.spend_micros += spend
        if click is None:
            self.unknown_clicks += 1
        elif click:
            self.clicks += 1
        if true_ctr is not None:
            self.expected_clicks += true_ctr


@dataclass
class ReplayResult:
    total: Tally = field(default_factory=Tally)
    by_hour: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_arm: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    invalid: int = 0
    counterfactual_bids: int = 0  # bids where the log does not know the market price
    creative_mismatch: int = 0  # wins whose creative differs from the logged one
    nobid_reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    spend_by_hour_index: list[int] = field(default_factory=list)  # cumulative, per elapsed hour
    campaign_spend_by_hour: dict[str, list[int]] = field(default_factory=dict)  # cumulative
    hours_elapsed_start_s: float | None = None


class _Staged(NamedTuple):
    """A row parsed and targeted ahead of its turn (``prepared`` None: invalid request)."""

    row: MarketRow
    advanced: bool  # the clock was advanced (tick, optimiser) before it was targeted
    request: BidRequest | None
    now: dt.datetime | None
    prepared: Decision | Pending | None


class Replayer:
    """Drives a ``Runtime`` built with ``persist=False`` and a ``SimClock``."""

    def __init__(
        self,
        runtime: Runtime,
        clock: SimClock,
        auction: AuctionType,
        *,
        optimizer: OptimizerService | None = None,
        outcomes: OutcomeModel | None = None,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.auction = auction
        self.optimizer = optimizer  # stepped on the simulated clock
        self.outcomes = outcomes  # clicks of creatives the log did not show
        self._last_tick_s: float | None = None
        self._won_users: set[str] = set()  # users charged an impression in this chunk
        self._hour_by_arm: dict[str, int] = {}  # arms repeat: parse each one's hour once

    def run(self, rows: Iterable[MarketRow]) -> ReplayResult:
        """Replay ``rows`` in order; equal, report for report, to ``step`` on each row.

        The rows are taken in chunks: targeting (``prepare``) runs ahead for a chunk, one
        scorer call prices all its candidates, then each auction is completed (pricing,
        budget) and settled in log order. That is exact because targeting reads no state
        that completing or settling an earlier auction of the chunk changes, except the
        frequency counts of a user who won an impression: such a user's later auctions in
        the chunk are targeted and scored again. A chunk ends before a row at which the
        optimiser would step (a new plan changes targeting).
        """
        result = ReplayResult()
        staged: list[_Staged] = []
        for row in rows:
            if staged and (
                len(staged) >= CHUNK_ROWS
                or (self.optimizer is not None and self.optimizer.is_due(row.ts_s))
            ):
                self._finish(staged, result)
                staged = []
            if not staged:  # the chunk's first row: tick (and step the optimiser) first
                self._advance(row.ts_s, result)
            staged.append(self._stage(row, result, advanced=not staged))
        self._finish(staged, result)
        self._hour_marks(result, final=True)
        return result

    def _stage(self, row: MarketRow, result: ReplayResult, *, advanced: bool) -> _Staged:
        """Parse and target one row ahead of its turn (``prepare`` reads no clock)."""
        result.total.auctions += 1
        try:
            request, _ = parse_bid_request(row.body or orjson.dumps(row.request))
        except RequestError:
            result.invalid += 1
            return _Staged(row, advanced, None, None, None)
        now = dt.datetime.fromtimestamp(row.ts_s, dt.UTC)
        runtime = self.runtime
        prepared = runtime.auction.prepare(request, runtime.plan, now, row.exchange)
        return _Staged(row, advanced, request, now, prepared)

    def _finish(self, staged: list[_Staged], result: ReplayResult) -> None:
        """Score the chunk's candidates in one call, then complete and settle in order."""
        runtime = self.runtime
        auction = runtime.auction
        scorer = auction.scorer
        jobs = [
            (s.prepared.ctx, s.prepared.candidates)
            for s in staged
            if isinstance(s.prepared, Pending)
        ]
        scores = iter(score_jobs(scorer, jobs) if jobs else ())
        capped = any(c.frequency_cap is not None for c in runtime.config.campaigns)
        won_users: set[str] = set()
        self._won_users = won_users
        for s in staged:
            row = s.row
            if not s.advanced:
                self._advance(row.ts_s, result)
            prepared, request, now = s.prepared, s.request, s.now
            if prepared is None or request is None or now is None:
                continue  # invalid request, counted when staged
            pctrs = next(scores) if isinstance(prepared, Pending) else None
            user_hash = (
                prepared.ctx.user_hash if isinstance(prepared, Pending) else prepared.user_hash
            )
            if capped and user_hash in won_users:
                # an earlier auction of the chunk gave this user an impression: the
                # frequency counts targeting read have changed, target and score again
                prepared = auction.prepare(request, runtime.plan, now, row.exchange)
                pctrs = None
            if isinstance(prepared, Pending):
                if pctrs is None:
                    pctrs = scorer.score(prepared.ctx, prepared.candidates)
                decision = auction.complete(prepared, pctrs.tolist(), scorer.version)
            else:
                decision = prepared
            self._after_decide(decision, row, result)
        self._won_users = set()

    def _advance(self, now_s: float, result: ReplayResult) -> None:
        self.clock.set(now_s)
        if self._last_tick_s is None or now_s - self._last_tick_s >= TICK_S:
            self.runtime.tick()
            self._last_tick_s = now_s
            self._hour_marks(result)
        if self.optimizer is not None:
            self.optimizer.run_due(now_s)

    def _hour_marks(self, result: ReplayResult, final: bool = False) -> None:
        """Cumulative spend at each whole simulated hour since the first row."""
        now_s = self.clock()
        if result.hours_elapsed_start_s is None:
            result.hours_elapsed_start_s = now_s
        hours = int((now_s - result.hours_elapsed_start_s) // 3600)
        if final:  # the last, partial hour closes the series
            hours = max(hours, len(result.spend_by_hour_index) + 1)
        while len(result.spend_by_hour_index) < hours or (final and not result.spend_by_hour_index):
            result.spend_by_hour_index.append(result.total.spend_micros)
            for campaign in self.runtime.config.campaigns:
                spend = self.runtime.ledger.campaign_spend(campaign.id, now_s).total_micros
                result.campaign_spend_by_hour.setdefault(campaign.id, []).append(spend)

    def step(self, row: MarketRow, result: ReplayResult) -> Decision | None:
        """One auction through the real parser, ``decide`` and notice path."""
        result.total.auctions += 1
        body = row.body or orjson.dumps(row.request)
        try:
            request, _ = parse_bid_request(body)
        except RequestError:
            result.invalid += 1
            return None
        now = dt.datetime.fromtimestamp(row.ts_s, dt.UTC)
        runtime = self.runtime
        decision = runtime.auction.decide(request, runtime.plan, now, row.exchange)
        self._after_decide(decision, row, result)
        return decision

    def _after_decide(self, decision: Decision, row: MarketRow, result: ReplayResult) -> None:
        if not decision.bids:
            if decision.nbr is not None:
                result.nobid_reasons[decision.nbr._value_] += 1
            return
        for bid in decision.bids:
            self._settle(decision, bid, row, result)

    def _settle(self, decision: Decision, bid: Bid, row: MarketRow, result: ReplayResult) -> None:
        hour = self._hour_by_arm.get(bid.arm)
        if hour is None:
            hour = self._hour_by_arm[bid.arm] = _hour_of(bid.arm)
        hour_tally = result.by_hour[hour]
        arm_tally = result.by_arm[bid.arm]
        for tally in (result.total, hour_tally, arm_tally):
            tally.bids += 1
        if not row.price_known:
            result.counterfactual_bids += 1
        won = bid.price_micros >= row.market_price_micros
        price = (
            row.market_price_micros
            if self.auction is AuctionType.SECOND_PRICE
            else bid.price_micros
        )
        kind = NoticeKind.WIN if won else NoticeKind.LOSS
        outcome = self._notice(decision, bid, kind, price)
        if not won or outcome.result != "charged":
            return
        same_creative = bid.creative.id == row.logged_creative
        if not same_creative:
            result.creative_mismatch += 1
        click = row.click if same_creative else None
        true_ctr = row.true_ctr if same_creative else None
        if not same_creative and self.outcomes is not None:
            click, true_ctr = self.outcomes.outcome(row, bid)
        for tally in (result.total, hour_tally, arm_tally):
            tally.add_win(price, click, true_ctr)
        if click:
            self._notice(decision, bid, NoticeKind.CLICK, price)

    def _notice(
        self, decision: Decision, bid: Bid, kind: NoticeKind, price_micros: int
    ) -> NoticeOutcome:
        """The notice the exchange would send, macros filled, through the real settle path.

        The URL signature is checked by the server path (tested there); the simulator hands
        over the same facts the signed URL carries.
        """
        rate = decision.currency_rate
        cpm = repr(micros_to_response_cpm(price_micros, rate))
        now_s = self.clock()
        request = decision.request
        facts = NoticeFacts(
            kind, request.id, bid.imp_id, bid.key, bid.campaign_id, bid.creative.id,
            bid.price_micros, rate, int(now_s), bool(request.test), decision.user_hash or "",
            bid.arm, bid.pctr, decision.model_version,
        )  # fmt: skip
        query = {"price": cpm, "loss": "102", "mtw": cpm}
        outcome = self.runtime.notices.settle(facts, query, now_s)
        if outcome.result == "charged" and decision.user_hash:
            self._won_users.add(decision.user_hash)
        return outcome


def _hour_of(arm: str) -> int:
    """The local hour slot of an arm key ``exchange|media|HH|creative``."""
    parts = arm.split("|")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
