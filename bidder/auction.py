"""decide(request, plan, now): targeting -> scoring -> pricing -> budget, with no I/O.

The server and the simulator call the same ``Auction.decide``; it is synchronous,
never awaits and never logs on success. Budget is *reserved* in the ledger for every
bid it returns (except ``test=1`` requests, which never spend), so a caller that does
not send a bid (deadline passed) must ``cancel`` it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Protocol
from zoneinfo import ZoneInfo

from msgspec import Struct

from bidder.candidate import AuctionContext, Candidate
from bidder.config.model import Campaign, Config
from bidder.decision import Bid, Decision
from bidder.experiments import split_variant, variant_campaign, variant_for, with_variant
from bidder.memo import remember
from bidder.openrtb.nbr import NoBidReason
from bidder.openrtb.types import BidRequest, Imp
from bidder.optimizing import ParticipationCache, group_arm, participates
from bidder.pricing import clears_floor, price_micros
from bidder.privacy import IdHasher
from bidder.scoring import Scorer
from bidder.targeting import (
    ShapeMatch,
    TargetingIndex,
    build_index,
    check_campaign,
    check_creative,
    imp_battr,
    select_deal,
    shape_matches,
)
from optimizer.plan import Plan

# How far a candidate got: when nothing bids, the reason reported is the one from the
# candidate that got furthest (a floor miss says more than a size mismatch).
_STAGE = {reason: i for i, reason in enumerate(NoBidReason)}
_FLOOR_CEILING_MICROS = 2**62  # above any budget or bid cap
_NO_TAGS: frozenset[str] = frozenset()


class BudgetLedger(Protocol):
    def reserve(
        self, key: str, campaign_id: str, arm: str, amount_micros: int, now: float
    ) -> bool: ...

    def reservation_micros(self, key: str) -> int | None: ...

    def is_charged(self, key: str) -> bool: ...

    def release(self, key: str, now: float) -> bool: ...


class FrequencyCounter(Protocol):
    def count(self, user_hash: str, campaign_id: str, window_s: int, now: float) -> int: ...


class TagSource(Protocol):
    def tags(self, user_hash: str, now: float) -> frozenset[str]: ...


class MultiplierSource(Protocol):
    def multiplier(self, campaign_id: str) -> float: ...


@dataclass(frozen=True, slots=True)
class Setup:
    """A loaded config with its compiled indexes; replaced whole on reload."""

    config: Config
    index: TargetingIndex
    tz: ZoneInfo
    rates: Mapping[str, float]  # currency -> engine currency units per unit


def build_setup(config: Config) -> Setup:
    rates = {k.upper(): v for k, v in config.currency_rates.items()}
    rates[config.currency.upper()] = 1.0
    return Setup(
        config=config,
        index=build_index(config.campaigns),
        tz=ZoneInfo(config.server.timezone),
        rates=rates,
    )


def arm_key(ctx: AuctionContext, campaign_id: str, creative_id: str) -> str:
    """Optimiser arm: media (exchange x site/app) x hour slot x creative."""
    req = ctx.request
    if req.app is not None:
        media = "app:" + (req.app.bundle or req.app.id or "unknown")
    elif req.site is not None:
        media = "site:" + (req.site.domain or req.site.id or "unknown")
    else:
        media = "unknown"
    return f"{ctx.exchange}|{media}|{ctx.hour:02d}|{creative_id}"


class Pending(Struct, frozen=True, gc=False):
    """A request between targeting and pricing: its candidates wait for their pCTRs."""

    ctx: AuctionContext
    plan: Plan
    candidates: list[Candidate]
    rejections: dict[NoBidReason, int]
    currency: str
    rate: float


class Auction:
    """Holds the engine state ``decide`` reads; every part can be swapped by reference."""

    def __init__(
        self,
        setup: Setup,
        scorer: Scorer,
        ledger: BudgetLedger,
        frequency: FrequencyCounter,
        tags: TagSource,
        pacing: MultiplierSource,
        hasher: IdHasher,
    ) -> None:
        self.setup = setup
        self.scorer = scorer
        self.ledger = ledger
        self.frequency = frequency
        self.tag_store = tags
        self.pacing = pacing
        self.hasher = hasher
        self.participation = ParticipationCache()
        self._local_by_quarter: dict[int, tuple[int, int]] = {}

    def context(self, request: BidRequest, now: dt.datetime, exchange: str) -> AuctionContext:
        """Campaign-independent facts of the request: user hash, tags, local time."""
        user_hash = None
        raw = request.user_key()
        if raw:
            user_hash = self.hasher.hash(raw)
        allowed = _user_data_allowed(request)
        ts = now.timestamp()
        hour, weekday = self._local_time(ts)
        return AuctionContext(
            request=request,
            now=now,
            exchange=exchange,
            user_hash=user_hash,
            tags=None if allowed else _NO_TAGS,
            user_data_allowed=allowed,
            hour=hour,
            weekday=weekday,
            tag_lookup=partial(self._tags, request, user_hash, ts),
            now_s=ts,
        )

    def _tags(self, request: BidRequest, user_hash: str | None, ts: float) -> frozenset[str]:
        tag_set: set[str] = set()
        if user_hash is not None:
            tag_set.update(self.tag_store.tags(user_hash, ts))
        if request.user is not None:
            tag_set.update(f"seg:{s.data_id}:{s.id}" for s in request.user.segments)
        return frozenset(tag_set)

    def _local_time(self, ts: float) -> tuple[int, int]:
        """(hour, weekday) in the server's time zone; every real UTC offset is a multiple
        of 15 minutes, so one lookup per quarter hour is exact."""
        quarter = int(ts // 900)
        cache = self._local_by_quarter
        local = cache.get(quarter)
        if local is None:
            at = dt.datetime.fromtimestamp(quarter * 900, self.setup.tz)
            local = remember(cache, 4096, quarter, (at.hour, at.weekday()))
        return local

    def decide(
        self, request: BidRequest, plan: Plan, now: dt.datetime, exchange: str = "default"
    ) -> Decision:
        """Decide the bids for one request.

        Callers guarantee ``now`` is timezone-aware. Returns a ``Decision`` with at most
        one bid per imp; budget for each bid is reserved unless ``request.test``.
        Never raises for any parsed request. Equal to ``prepare``, the scorer on the
        candidates, then ``complete`` (the server runs those three steps itself so that
        it can score the candidates of concurrent requests in one batch).
        """
        prepared = self.prepare(request, plan, now, exchange)
        if isinstance(prepared, Decision):
            return prepared
        scorer = self.scorer
        pctrs = scorer.score(prepared.ctx, prepared.candidates).tolist()
        return self.complete(prepared, pctrs, scorer.version)

    def prepare(
        self, request: BidRequest, plan: Plan, now: dt.datetime, exchange: str = "default"
    ) -> Decision | Pending:
        """Targeting: the candidates to score, or the no-bid ``Decision`` if there are none."""
        setup = self.setup
        ctx = self.context(request, now, exchange)
        rejections: dict[NoBidReason, int] = {}
        currency, rate = _response_currency(request, setup)
        version = self.scorer.version
        if currency is None:
            _count(rejections, NoBidReason.CURRENCY)
            return self._empty(ctx, NoBidReason.CURRENCY, rejections, version, plan, "", 0.0)
        candidates = self._candidates(ctx, plan, rejections)
        if not candidates:
            nbr = _worst(rejections) if rejections else NoBidReason.NO_CAMPAIGNS
            return self._empty(ctx, nbr, rejections, version, plan, currency, rate)
        return Pending(ctx, plan, candidates, rejections, currency, rate)

    def complete(self, pending: Pending, pctrs: list[float], model_version: str) -> Decision:
        """Pricing and budget for scored candidates (``pctrs[i]`` of ``candidates[i]``)."""
        ctx, plan, candidates, rejections = (
            pending.ctx,
            pending.plan,
            pending.candidates,
            pending.rejections,
        )
        currency, rate = pending.currency, pending.rate
        bids = self._price(ctx, plan, candidates, pctrs, rejections)
        if not bids:
            return self._empty(
                ctx, _worst(rejections), rejections, model_version, plan, currency, rate
            )
        trace = tuple(
            (c.campaign.id, c.creative.id, float(p), 0)
            for c, p in zip(candidates, pctrs, strict=True)
        )
        return Decision(
            request=ctx.request,
            bids=tuple(bids),
            nbr=None,
            currency=currency,
            currency_rate=rate,
            exchange=ctx.exchange,
            model_version=model_version,
            plan_version=plan.version,
            config_version=self.setup.config.version,
            user_hash=ctx.user_hash,
            pctr_by_candidate=trace,
            rejections=dict(rejections),
        )

    def cancel(self, decision: Decision, now: dt.datetime) -> None:
        """Release the reservations of bids that will not be sent."""
        ts = now.timestamp()
        for bid in decision.bids:
            if bid.reserved:
                self.ledger.release(bid.key, ts)

    def _empty(
        self,
        ctx: AuctionContext,
        nbr: NoBidReason,
        rejections: dict[NoBidReason, int],
        model_version: str,
        plan: Plan,
        currency: str,
        rate: float,
    ) -> Decision:
        return Decision(
            request=ctx.request,
            bids=(),
            nbr=nbr,
            currency=currency,
            currency_rate=rate,
            exchange=ctx.exchange,
            model_version=model_version,
            plan_version=plan.version,
            config_version=self.setup.config.version,
            user_hash=ctx.user_hash,
            rejections=dict(rejections),
        )

    def _candidates(
        self, ctx: AuctionContext, plan: Plan, rejections: dict[NoBidReason, int]
    ) -> list[Candidate]:
        """One candidate per (imp, campaign): the creative chosen by rotation weight."""
        setup = self.setup
        request = ctx.request
        campaign_ok: dict[str, NoBidReason | None] = {}
        out: list[Candidate] = []
        ts = ctx.now_s
        for imp_index, imp in enumerate(request.imp):
            if not imp.id or not request.id:
                _count(rejections, NoBidReason.MISSING_ID)
                continue
            matches = shape_matches(setup.index, imp)
            if not matches:
                _count(rejections, NoBidReason.NO_MATCHING_FORMAT)
                continue
            floor = floor_micros(imp.bidfloor, imp.bidfloorcur, setup.rates)
            by_campaign: dict[str, list[ShapeMatch]] = {}
            for match in matches:
                by_campaign.setdefault(match[0].id, []).append(match)
            for campaign_id, options in by_campaign.items():
                campaign = options[0][0]
                if campaign_id not in campaign_ok:
                    campaign_ok[campaign_id] = self._check_user(campaign, ctx, ts)
                reason = campaign_ok[campaign_id]
                if reason is not None:
                    _count(rejections, reason)
                    continue
                cand = self._candidate(ctx, plan, imp_index, imp, options, floor, rejections)
                if cand is not None:
                    out.append(cand)
        return out

    def _check_user(self, campaign: Campaign, ctx: AuctionContext, ts: float) -> NoBidReason | None:
        reason = check_campaign(campaign, ctx)
        if reason is not None:
            return reason
        cap = campaign.frequency_cap
        if cap is not None and ctx.user_hash is not None:
            seen = self.frequency.count(ctx.user_hash, campaign.id, cap.window_s, ts)
            if seen >= cap.max_impressions:
                return NoBidReason.FREQUENCY_CAP
        return None

    def _candidate(
        self,
        ctx: AuctionContext,
        plan: Plan,
        imp_index: int,
        imp: Imp,
        options: list[ShapeMatch],
        floor: int | None,
        rejections: dict[NoBidReason, int],
    ) -> Candidate | None:
        campaign = options[0][0]
        deal, deal_reason = select_deal(campaign, imp)
        if deal_reason is not None:
            _count(rejections, deal_reason)
            return None
        if deal is not None and deal.bidfloor > 0:
            floor = floor_micros(deal.bidfloor, deal.bidfloorcur, self.setup.rates)
        if floor is None:
            _count(rejections, NoBidReason.CURRENCY)
            return None
        allowed: list[ShapeMatch] = []
        for option in options:
            reason = check_creative(option[1], ctx.request, imp_battr(imp, option[2]))
            if reason is not None:
                _count(rejections, reason)
            else:
                allowed.append(option)
        if not allowed:
            return None
        _, creative, media, size = _rotate(allowed, plan, campaign.id, ctx.request.id, imp.id)
        return Candidate(
            imp_index=imp_index,
            imp=imp,
            campaign=campaign,
            creative=creative,
            media_type=media,
            floor_micros=floor,
            deal_id=deal.id if deal is not None else None,
            w=size[0] if size is not None else creative.w,
            h=size[1] if size is not None else creative.h,
        )

    def _price(
        self,
        ctx: AuctionContext,
        plan: Plan,
        candidates: list[Candidate],
        pctrs: list[float],
        rejections: dict[NoBidReason, int],
    ) -> list[Bid]:
        """Price every candidate, keep the best per imp, then reserve budget for it."""
        best: dict[int, tuple[int, float, Candidate, str]] = {}
        pacing_of = self.pacing.multiplier
        participation = self.participation
        request = ctx.request
        user_hash = ctx.user_hash
        for cand, pctr in zip(candidates, pctrs, strict=True):
            campaign = cand.campaign
            campaign_id = campaign.id
            pacing = pacing_of(campaign_id)
            if pacing <= 0.0:
                _count(rejections, NoBidReason.PACING)
                continue
            arm = arm_key(ctx, campaign_id, cand.creative.id)
            table = participation.table(plan, campaign)
            if table is not None and not participates(
                table,
                group_arm(arm, campaign.optimizer.grouping),
                request.id,
                cand.imp.id,
                campaign_id,
            ):
                _count(rejections, NoBidReason.PLAN)
                continue
            multiplier = plan.multiplier(campaign_id)
            if campaign.optimizer.experiment is not None:
                variant = variant_for(campaign, user_hash)
                if variant is not None:  # A/B test: the user's variant of the campaign
                    arm = with_variant(arm, variant)
                    multiplier *= variant.bid_multiplier
                    campaign = variant_campaign(campaign, variant)
            price = price_micros(campaign, pctr, pacing, multiplier)
            if price <= 0:
                _count(rejections, NoBidReason.ZERO_PRICE)
                continue
            if not clears_floor(price, cand.floor_micros):
                _count(rejections, NoBidReason.BELOW_FLOOR)
                continue
            held = best.get(cand.imp_index)
            if held is None or price > held[0]:
                best[cand.imp_index] = (price, pctr, cand, arm)
        bids: list[Bid] = []
        if not best:
            return bids
        ts = ctx.now_s
        ledger = self.ledger
        for imp_index in sorted(best) if len(best) > 1 else best:
            price, pctr, cand, arm = best[imp_index]
            imp_id = cand.imp.id
            bid_id = _bid_id(request.id, imp_id)
            campaign_id = cand.campaign.id
            reserved = False
            if not request.test:
                held_micros = ledger.reservation_micros(bid_id)
                if held_micros is not None:
                    # The same auction again (an exchange retry): the first bid's
                    # reservation covers it, so bid at most what is reserved.
                    price = min(price, held_micros)
                    if not clears_floor(price, cand.floor_micros):
                        _count(rejections, NoBidReason.BELOW_FLOOR)
                        continue
                elif ledger.is_charged(bid_id):
                    _count(rejections, NoBidReason.DUPLICATE_AUCTION)
                    continue
                elif ledger.reserve(bid_id, campaign_id, arm, price, ts):
                    reserved = True
                else:
                    _count(rejections, NoBidReason.BUDGET)
                    continue
            bids.append(
                Bid(
                    bid_id, imp_id, campaign_id, cand.creative, cand.media_type, price,
                    cand.floor_micros, pctr, arm, cand.deal_id, reserved, cand.w, cand.h,
                    split_variant(arm)[1],
                )
            )  # fmt: skip
        return bids


def _user_data_allowed(request: BidRequest) -> bool:
    """Audience data may be used unless COPPA, GDPR without consent, or LMT/DNT applies."""
    if request.regs.coppa:
        return False
    if request.regs.gdpr and not (request.user is not None and request.user.consent):
        return False
    device = request.device
    return not (device is not None and (device.lmt or device.dnt))


def _response_currency(request: BidRequest, setup: Setup) -> tuple[str | None, float]:
    """First requested currency we can price; OpenRTB's default is USD."""
    wanted = request.cur or ("USD",)
    for cur in wanted:
        rate = setup.rates.get(cur.upper())
        if rate is not None and rate > 0:
            return cur.upper(), rate
    return None, 0.0


def floor_micros(bidfloor: float, bidfloorcur: str, rates: Mapping[str, float]) -> int | None:
    """Floor per impression in engine micros, rounded up; None for an unknown currency."""
    if bidfloor <= 0:
        return 0
    rate = rates.get(bidfloorcur.upper() if bidfloorcur else "USD")
    if rate is None:
        return None
    micros = bidfloor * rate * 1000.0
    if not micros < _FLOOR_CEILING_MICROS:  # absurd (or infinite) floors: nothing can clear them
        return _FLOOR_CEILING_MICROS
    whole = int(micros)
    return whole if whole == micros else whole + 1


def _rotate(
    allowed: list[ShapeMatch], plan: Plan, campaign_id: str, request_id: str, imp_id: str
) -> ShapeMatch:
    """Pick a creative by the plan's rotation weights, deterministically per auction."""
    if len(allowed) == 1:
        return allowed[0]
    weights = plan.creative_weights.get(campaign_id)
    ws = [max(weights.get(m[1].id, 0.0), 0.0) if weights else 1.0 for m in allowed]
    total = sum(ws)
    if total <= 0:
        ws = [1.0] * len(allowed)
        total = float(len(allowed))
    digest = hashlib.blake2b(f"{request_id}/{imp_id}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64 * total
    acc = 0.0
    for choice, w in zip(allowed, ws, strict=True):
        acc += w
        if u < acc:
            return choice
    return allowed[-1]


def _bid_id(request_id: str, imp_id: str) -> str:
    return hashlib.blake2b(f"{request_id}\x00{imp_id}".encode(), digest_size=10).hexdigest()


def _count(rejections: dict[NoBidReason, int], reason: NoBidReason) -> None:
    rejections[reason] = rejections.get(reason, 0) + 1


def _worst(rejections: dict[NoBidReason, int]) -> NoBidReason:
    return max(rejections, key=lambda r: _STAGE[r])
