"""Retargeting segments: recent site visitors and cart abandoners, with window-based TTLs."""

from __future__ import annotations

from collections.abc import Mapping

from bidder.eventstore import EventKind, UserSummary

VISITORS = "retarget:visitors"
CART_ABANDONERS = "retarget:cart_abandoners"
DAY_S = 86_400


def retarget_tags(
    user_to_summary: Mapping[str, UserSummary], now_s: float, window_days: int
) -> dict[str, dict[str, float]]:
    """``{user_hash: {tag: ttl_s}}``: each tag lives until its triggering event leaves the window.

    A visitor had any event (a cart or purchase implies a visit) in the last
    ``window_days``; a cart abandoner carted in the window and bought nothing after.
    """
    window_s = window_days * DAY_S
    out: dict[str, dict[str, float]] = {}
    for user, summary in user_to_summary.items():
        tags: dict[str, float] = {}
        ttl = summary.last_s + window_s - now_s
        if ttl > 0 and summary.last_s <= now_s:
            tags[VISITORS] = ttl
        cart_s = summary.kind_to_last_s.get(EventKind.CART)
        bought_s = summary.kind_to_last_s.get(EventKind.PURCHASE)
        if cart_s is not None and (bought_s is None or bought_s < cart_s):
            cart_ttl = cart_s + window_s - now_s
            if cart_ttl > 0:
                tags[CART_ABANDONERS] = cart_ttl
        if tags:
            out[user] = tags
    return out
