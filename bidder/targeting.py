"""Targeting: indexes compiled at config load that map an imp to the line items that fit it.

``build_index(campaigns)`` groups creatives by (media type, size) once, so a request only
looks at campaigns that own a creative of a shape the imp accepts; the per-campaign rules
(flight, hours, inventory, geo, device, categories, blocks, deals, audience) then run on
that short list, each rejection returning a ``NoBidReason``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bidder.candidate import AuctionContext
from bidder.config.model import Campaign, Creative
from bidder.openrtb.nbr import NoBidReason
from bidder.openrtb.types import AUDIO, BANNER, NATIVE, VIDEO, BidRequest, Deal, Imp

SizeKey = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Match:
    """A campaign that fits an imp, with the creatives that fit and the deal that applies."""

    campaign: Campaign
    creatives: tuple[Creative, ...]
    media_type: str
    deal: Deal | None


@dataclass(frozen=True, slots=True)
class TargetingIndex:
    banner_by_size: dict[SizeKey, tuple[tuple[Campaign, Creative], ...]]
    by_media: dict[str, tuple[tuple[Campaign, Creative], ...]]  # video, native, audio
    campaign_count: int


def build_index(campaigns: Sequence[Campaign]) -> TargetingIndex:
    """Compile the (media, size) -> (campaign, creative) lists for the enabled campaigns."""
    banner: dict[SizeKey, list[tuple[Campaign, Creative]]] = {}
    media: dict[str, list[tuple[Campaign, Creative]]] = {}
    for campaign in campaigns:
        if not campaign.enabled:
            continue
        allowed_media = campaign.targeting.media_types
        for creative in campaign.creatives:
            if not creative.enabled or (allowed_media and creative.format not in allowed_media):
                continue
            if creative.format == BANNER:
                for size in creative.banner_sizes():
                    banner.setdefault((size.w, size.h), []).append((campaign, creative))
            else:
                media.setdefault(creative.format, []).append((campaign, creative))
    return TargetingIndex(
        banner_by_size={k: tuple(v) for k, v in banner.items()},
        by_media={k: tuple(v) for k, v in media.items()},
        campaign_count=sum(1 for c in campaigns if c.enabled),
    )


ShapeMatch = tuple[Campaign, Creative, str, SizeKey | None]


def shape_matches(index: TargetingIndex, imp: Imp) -> list[ShapeMatch]:
    """Every (campaign, creative, media type, banner size) whose shape the imp accepts.

    A responsive creative that fits several of the imp's sizes matches once, at the
    first size the imp lists.
    """
    out: list[ShapeMatch] = []
    if imp.banner is not None:
        seen: set[SizeKey] = set()
        matched: set[tuple[str, str]] = set()
        for fmt in imp.banner.sizes():
            key = (fmt.w, fmt.h)
            if key in seen:
                continue
            seen.add(key)
            for campaign, creative in index.banner_by_size.get(key, ()):
                ids = (campaign.id, creative.id)
                if ids not in matched:
                    matched.add(ids)
                    out.append((campaign, creative, BANNER, key))
    if imp.video is not None:
        mimes = imp.video.mimes
        for campaign, creative in index.by_media.get(VIDEO, ()):
            if _video_fits(creative, mimes, imp.video.minduration, imp.video.maxduration):
                out.append((campaign, creative, VIDEO, None))
    if imp.native is not None:
        for campaign, creative in index.by_media.get(NATIVE, ()):
            out.append((campaign, creative, NATIVE, None))
    if imp.audio is not None:
        for campaign, creative in index.by_media.get(AUDIO, ()):
            if not (imp.audio.mimes and creative.mimes) or set(imp.audio.mimes) & set(
                creative.mimes
            ):
                out.append((campaign, creative, AUDIO, None))
    return out


def _video_fits(
    creative: Creative, mimes: tuple[str, ...], min_s: int | None, max_s: int | None
) -> bool:
    if mimes and creative.mimes and not set(mimes) & set(creative.mimes):
        return False
    d = creative.duration_s
    if d is None:
        return True
    return not (
        (min_s is not None and d < min_s) or (max_s is not None and max_s > 0 and d > max_s)
    )


def check_campaign(campaign: Campaign, ctx: AuctionContext) -> NoBidReason | None:
    """Request-level rules for one campaign (independent of the imp and creative)."""
    if _outside_flight(campaign, ctx.now):
        return NoBidReason.FLIGHT
    if campaign.hours and ctx.hour not in campaign.hours:
        return NoBidReason.HOUR
    req = ctx.request
    t = campaign.targeting
    reason = _check_inventory(campaign, req)
    if reason is not None:
        return reason
    if t.countries or t.regions or t.cities:
        geo = req.geo()
        if geo is None:
            return NoBidReason.GEO
        if t.countries and (geo.country or "") not in t.countries:
            return NoBidReason.GEO
        if t.regions and (geo.region or "") not in t.regions:
            return NoBidReason.GEO
        if t.cities and (geo.city or "") not in t.cities:
            return NoBidReason.GEO
    device = req.device
    if t.device_types and (device is None or device.devicetype not in t.device_types):
        return NoBidReason.DEVICE
    if t.os and (device is None or (device.os or "").lower() not in t.os):
        return NoBidReason.OS
    if req.bcat and (req.bcat.intersection(campaign.iab_categories)):
        return NoBidReason.CATEGORY
    if req.badv and campaign.advertiser_domain in req.badv:
        return NoBidReason.ADVERTISER_BLOCKED
    if campaign.seat is not None and (
        (req.wseat and campaign.seat not in req.wseat) or campaign.seat in req.bseat
    ):
        return NoBidReason.SEAT
    return _check_audience(campaign, ctx)


def _outside_flight(campaign: Campaign, now: dt.datetime) -> bool:
    f = campaign.flight
    return (f.start is not None and now < f.start) or (f.end is not None and now >= f.end)


def _check_inventory(campaign: Campaign, req: BidRequest) -> NoBidReason | None:
    t = campaign.targeting
    if req.app is not None:
        if t.inventory and "app" not in t.inventory:
            return NoBidReason.INVENTORY
        bundle = req.app.bundle or ""
        if (t.app_bundles_allow and bundle not in t.app_bundles_allow) or (
            bundle in t.app_bundles_block
        ):
            return NoBidReason.INVENTORY
        if t.site_domains_allow:
            return NoBidReason.INVENTORY
        cats = req.app.cat
    else:
        if t.inventory and "site" not in t.inventory:
            return NoBidReason.INVENTORY
        domain = (req.site.domain or "") if req.site is not None else ""
        if (t.site_domains_allow and domain not in t.site_domains_allow) or (
            domain in t.site_domains_block
        ):
            return NoBidReason.INVENTORY
        if t.app_bundles_allow:
            return NoBidReason.INVENTORY
        cats = req.site.cat if req.site is not None else ()
    if t.iab_categories_block and _blocked_category(cats, t.iab_categories_block):
        return NoBidReason.CATEGORY
    return None


def _blocked_category(cats: tuple[str, ...], blocked: frozenset[str]) -> bool:
    """A category is blocked if it or its tier-1 parent (``IAB2`` of ``IAB2-3``) is listed."""
    return any(cat in blocked or cat.split("-", 1)[0] in blocked for cat in cats)


def _check_audience(campaign: Campaign, ctx: AuctionContext) -> NoBidReason | None:
    aud = campaign.audience
    if aud.is_empty():
        return None
    if not ctx.user_data_allowed:
        return NoBidReason.NO_USER_DATA
    tags = ctx.tags
    if aud.all_of and not aud.all_of <= tags:
        return NoBidReason.AUDIENCE
    if aud.any_of and aud.any_of.isdisjoint(tags):
        return NoBidReason.AUDIENCE
    if aud.none_of and not aud.none_of.isdisjoint(tags):
        return NoBidReason.AUDIENCE
    return None


def check_creative(
    creative: Creative, req: BidRequest, battr: frozenset[int]
) -> NoBidReason | None:
    """Request blocks that apply to one creative: bcat, badv, battr."""
    if req.bcat and _blocked_category(creative.cat, req.bcat):
        return NoBidReason.CATEGORY
    if req.badv and not req.badv.isdisjoint(creative.adomain):
        return NoBidReason.ADVERTISER_BLOCKED
    if battr and not battr.isdisjoint(creative.attr):
        return NoBidReason.CREATIVE_ATTR
    return None


def select_deal(campaign: Campaign, imp: Imp) -> tuple[Deal | None, NoBidReason | None]:
    """The deal this campaign bids through on this imp, or why it cannot bid at all."""
    t = campaign.targeting
    pmp = imp.pmp
    if pmp is not None and t.deal_ids:
        for deal in pmp.deals:
            if deal.id in t.deal_ids and (
                not deal.wseat or campaign.seat is None or campaign.seat in deal.wseat
            ):
                return deal, None
    if t.deals_only or (pmp is not None and pmp.private_auction):
        return None, NoBidReason.DEAL
    return None, None


def imp_battr(imp: Imp, media_type: str) -> frozenset[int]:
    if media_type == BANNER and imp.banner is not None:
        return imp.banner.battr
    if media_type == VIDEO and imp.video is not None:
        return imp.video.battr
    if media_type == NATIVE and imp.native is not None:
        return imp.native.battr
    if media_type == AUDIO and imp.audio is not None:
        return imp.audio.battr
    return frozenset()
