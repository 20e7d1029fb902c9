"""Dashboard counters: attribution of notices to open bids, unique users, fixed memory."""

from __future__ import annotations

import pytest

from bidder import stats as stats_module
from bidder.config.model import Creative
from bidder.decision import Bid, Decision
from bidder.events import NoticeOutcome
from bidder.notices import NoticeFacts, NoticeKind
from bidder.openrtb.types import BidRequest, Imp
from bidder.stats import Stats

NOW_S = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


def _decision(key: str, pctr: float, media: str = "banner", creative: str = "cr-1") -> Decision:
    bid = Bid(
        id=key, imp_id="1", campaign_id="c1", creative=Creative(id=creative, format=media),
        media_type=media, price_micros=1500, floor_micros=0, pctr=pctr, arm="x",
    )  # fmt: skip
    return Decision(
        request=BidRequest(id=key, imp=(Imp(id="1"),)), bids=(bid,), nbr=None,
        currency="USD", currency_rate=1.0, exchange="x", model_version="m",
        plan_version=0, config_version="v",
    )  # fmt: skip


def _outcome(kind: NoticeKind, key: str, result: str, user: str = "u1",
             creative: str = "cr-1", price: int | None = 1000) -> NoticeOutcome:  # fmt: skip
    facts = NoticeFacts(
        kind=kind, auction_id=key, imp_id="1", key=key, campaign_id="c1",
        creative_id=creative, bid_micros=1500, rate=1.0, issued_s=int(NOW_S), test=False,
        user_hash=user,
    )  # fmt: skip
    return NoticeOutcome(200, result, facts, price)


def test_stats_win_is_attributed_to_its_bid() -> None:
    stats = Stats()
    stats.add_decision(_decision("a", 0.02, media="video", creative="cr-v"), NOW_S)

    stats.add_notice(NoticeKind.WIN, _outcome(NoticeKind.WIN, "a", "charged", creative="cr-v"),
                     NOW_S)  # fmt: skip
    stats.add_notice(NoticeKind.CLICK, _outcome(NoticeKind.CLICK, "a", "click", creative="cr-v"),
                     NOW_S)  # fmt: skip

    c = stats.campaigns["c1"]
    video = c.by_media["video"]
    assert (video.bids, video.impressions, video.clicks, video.spend_micros) == (1, 1, 1, 1000)
    assert c.total.impression_pctr_sum == pytest.approx(0.02)
    assert c.by_creative["cr-v"].impressions == 1
    assert c.by_hour[20].impressions == 1
    assert stats.decisions == 1


def test_stats_loss_forgets_the_bid() -> None:
    stats = Stats()
    stats.add_decision(_decision("a", 0.02), NOW_S)

    stats.add_notice(NoticeKind.LOSS, _outcome(NoticeKind.LOSS, "a", "released"), NOW_S)
    stats.add_notice(NoticeKind.WIN, _outcome(NoticeKind.WIN, "a", "charged"), NOW_S)

    c = stats.campaigns["c1"]
    assert c.by_media["unknown"].impressions == 1  # no open bid left to attribute it to
    assert c.total.impression_pctr_sum == 0.0


def test_stats_unique_users_count_each_user_once() -> None:
    stats = Stats()
    for n, user in enumerate(["u1", "u2", "u1", "u3", "u2"]):
        stats.add_decision(_decision(f"b{n}", 0.01), NOW_S)
        stats.add_notice(NoticeKind.WIN, _outcome(NoticeKind.WIN, f"b{n}", "charged", user),
                         NOW_S)  # fmt: skip
    stats.add_notice(NoticeKind.WIN, _outcome(NoticeKind.WIN, "b9", "duplicate", "u4"), NOW_S)

    assert len(stats.campaigns["c1"].users) == 3
    assert stats.campaigns["c1"].total.impressions == 5


def test_stats_keep_only_the_last_open_bids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "_OPEN_BIDS_KEPT", 3)
    stats = Stats()
    for n in range(5):
        stats.add_decision(_decision(f"b{n}", 0.1, media="native"), NOW_S)

    for n in range(5):
        stats.add_notice(NoticeKind.WIN, _outcome(NoticeKind.WIN, f"b{n}", "charged"), NOW_S)

    by_media = stats.campaigns["c1"].by_media
    assert by_media["unknown"].impressions == 2  # b0, b1: dropped, oldest first
    assert by_media["native"].impressions == 3


def test_stats_memory_does_not_grow_with_bids() -> None:
    stats = Stats()
    stats.add_decision(_decision("first", 0.01), NOW_S)
    c = stats.campaigns["c1"]
    open_bytes, users_bytes = stats._open.nbytes, c.users.nbytes

    for n in range(20_000):
        stats.add_decision(_decision(f"b{n}", 0.01), NOW_S + n)
        stats.add_notice(NoticeKind.WIN, _outcome(NoticeKind.WIN, f"b{n}", "charged", f"u{n}"),
                         NOW_S + n)  # fmt: skip

    assert (stats._open.nbytes, c.users.nbytes) == (open_bytes, users_bytes)
    assert len(stats._open) == 20_001
    assert abs(len(c.users) - 20_000) <= 20_000 * 4 * 0.0081  # within 4 standard errors
