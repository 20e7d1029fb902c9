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
from typing import Protocol

import msgspec
import orjson

from bidder.decision import Bid, Decision
from bidder.errors import RequestError
from bidder.events import NoticeOutcome
from bidder.notices import NoticeFacts, NoticeKind
from bidder.openrtb.request import parse_bid_request
from bidder.openrtb.response import price_cpm
from bidder.optimizing import OptimizerService
from bidder.runtime import Runtime
from simulator.clock import SimClock
from simulator.ipinyou import MarketRow

TICK_S = 60.0  # simulated seconds between runtime ticks (pacing, expiry)


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

    def run(self, rows: Iterable[MarketRow]) -> ReplayResult:
        result = ReplayResult()
        for row in rows:
            self._advance(row.ts_s, result)
            self.step(row, result)
        self._hour_marks(result, final=True)
        return result

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
        if not decision.bids:
            if decision.nbr is not None:
                result.nobid_reasons[decision.nbr.value] += 1
            return decision
        for bid in decision.bids:
            self._settle(decision, bid, row, result)
        return decision

    def _settle(self, decision: Decision, bid: Bid, row: MarketRow, result: ReplayResult) -> None:
        hour_tally = result.by_hour[_hour_of(bid.arm)]
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
        clearing = msgspec.structs.replace(bid, price_micros=price_micros)
        cpm = repr(price_cpm(clearing, decision.currency_rate))
        facts = NoticeFacts(
            kind=kind,
            auction_id=decision.request.id,
            imp_id=bid.imp_id,
            key=bid.key,
            campaign_id=bid.campaign_id,
            creative_id=bid.creative.id,
            bid_micros=bid.price_micros,
            rate=decision.currency_rate,
            issued_s=int(self.clock()),
            test=bool(decision.request.test),
            user_hash=decision.user_hash or "",
            arm=bid.arm,
            pctr=bid.pctr,
            model_version=decision.model_version,
        )
        query = {"price": cpm, "loss": "102", "mtw": cpm}
        return self.runtime.notices.settle(facts, query, self.clock())


def _hour_of(arm: str) -> int:
    """The local hour slot of an arm key ``exchange|media|HH|creative``."""
    parts = arm.split("|")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
