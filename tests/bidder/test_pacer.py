"""Pacer: the day's plan fraction follows the campaign's pacing curve in local time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bidder.config.model import Budget, Campaign
from bidder.ledger.embedded import EmbeddedLedger
from bidder.pacer import DayPlan, Pacer, day_fraction

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


@pytest.mark.parametrize(
    ("curve", "hours"),
    [
        ((), frozenset()),
        (tuple(float(h % 5) for h in range(24)), frozenset()),
        ((), frozenset({7, 8, 9, 20})),
        (tuple(0.1 * h for h in range(24)), frozenset(range(6, 23))),
        (tuple(0.0 for _ in range(24)), frozenset({3, 4})),  # no weight: even over the hours
    ],
)
def test_pacer_day_plan_gives_the_same_floats_as_plan_fraction(
    curve: tuple[float, ...], hours: frozenset[int]
) -> None:
    """The per-campaign table the pacer keeps is bit for bit ``plan_fraction``."""
    plan = DayPlan(curve, hours)
    c = campaign(curve, hours)
    for minute in range(0, 24 * 60, 7):
        local = dt.datetime(2026, 1, 5, minute // 60, minute % 60, 13, 250_000, tzinfo=TZ)
        assert plan.fraction(local) == day_fraction(c, local)


def test_pacer_rebuilds_the_plan_when_the_campaign_changes() -> None:
    ledger = EmbeddedLedger(timezone="Asia/Shanghai")
    first = campaign()
    ledger.set_budgets({"c": first.budget})
    pacer = Pacer()
    now_s = dt.datetime(2026, 1, 5, 12, 0, tzinfo=TZ).timestamp()
    pacer.tick((first,), ledger, TZ, now_s)
    curved = campaign(tuple(1.0 if h < 12 else 0.0 for h in range(24)))
    pacer.tick((curved,), ledger, TZ, now_s + 60)
    state = pacer.state("c")
    assert state is not None
    local = dt.datetime.fromtimestamp(now_s + 60, TZ)
    assert state.day_fraction == day_fraction(curved, local) == 1.0
