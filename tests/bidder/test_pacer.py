"""Pacer: the day's plan fraction follows the campaign's pacing curve in local time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bidder.config.model import Budget, Campaign
from bidder.pacer import day_fraction

TZ = ZoneInfo("Asia/Shanghai")


def campaign(curve: tuple[float, ...] = (), hours: frozenset[int] = frozenset()) -> Campaign:
    return Campaign(
        id="c",
        advertiser_domain="example.com",
        budget=Budget(total_micros=10_000, daily_micros=1_000),
        max_bid_micros=1_000,
        creatives=(),
        pacing_curve=curve,
        hours=hours,
    )


def test_pacer_day_fraction_even_by_default() -> None:
    local = dt.datetime(2026, 1, 5, 6, 30, tzinfo=TZ)
    assert day_fraction(campaign(), local) == pytest.approx(6.5 / 24)


def test_pacer_day_fraction_follows_the_curve() -> None:
    curve = (0.0,) * 6 + (1.0,) * 18  # nothing planned before 06:00
    assert day_fraction(campaign(curve), dt.datetime(2026, 1, 5, 5, 59, tzinfo=TZ)) == 0.0
    assert day_fraction(campaign(curve), dt.datetime(2026, 1, 5, 15, 0, tzinfo=TZ)) == 0.5


def test_pacer_day_fraction_curve_within_active_hours() -> None:
    curve = (1.0,) * 12 + (3.0,) * 12
    c = campaign(curve, hours=frozenset({11, 12}))
    assert day_fraction(c, dt.datetime(2026, 1, 5, 12, 0, tzinfo=TZ)) == pytest.approx(0.25)
