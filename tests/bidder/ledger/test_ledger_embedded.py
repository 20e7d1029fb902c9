"""Unit tests for the in-memory behaviour of EmbeddedLedger."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bidder.config.model import Budget
from bidder.ledger import ChargeResult, EmbeddedLedger, Ledger, Spend

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def build_ledger(total: int = 10_000, daily: int = 5_000, **kwargs: object) -> EmbeddedLedger:
    ledger = EmbeddedLedger(**kwargs)  # type: ignore[arg-type]
    ledger.set_budgets({"c1": Budget(total_micros=total, daily_micros=daily)})
    return ledger


def test_ledger_satisfies_protocol() -> None:
    ledger: Ledger = EmbeddedLedger()
    assert ledger.total_charged_micros() == 0


def test_ledger_reserve_refuses_past_daily_budget() -> None:
    ledger = build_ledger(total=10_000, daily=5_000)
    assert ledger.reserve("a/1", "c1", "x", 3_000, T0)
    assert not ledger.reserve("a/2", "c1", "x", 2_001, T0)
    assert ledger.reserve("a/3", "c1", "x", 2_000, T0)
    assert ledger.campaign_spend("c1", T0).remaining_today_micros == 0


def test_ledger_reserve_refuses_past_total_budget() -> None:
    ledger = build_ledger(total=4_000, daily=5_000)
    assert ledger.reserve("a/1", "c1", "x", 4_000, T0)
    assert not ledger.reserve("a/2", "c1", "x", 1, T0)


def test_ledger_reserve_refuses_duplicate_key_and_unknown_campaign() -> None:
    ledger = build_ledger()
    assert ledger.reserve("a/1", "c1", "x", 100, T0)
    assert not ledger.reserve("a/1", "c1", "x", 100, T0)
    assert not ledger.reserve("a/2", "nope", "x", 100, T0)
    stats = ledger.stats()
    assert stats.reserve_rejected_duplicate_total == 1
    assert stats.reserve_rejected_budget_total == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda lg: lg.reserve("k", "c1", "x", 0, T0), "amount_micros must be > 0, got 0"),
        (lambda lg: lg.reserve("k", "c1", "x", -5, T0), "amount_micros must be > 0, got -5"),
        (lambda lg: lg.charge("k", -1, T0), "price_micros must be >= 0, got -1"),
        (lambda lg: lg.set_budgets({"c": Budget(-1, 0)}), "budgets must be >= 0 micros"),
    ],
)
def test_ledger_invalid_arguments_raise(call: object, message: str) -> None:
    ledger = build_ledger()
    with pytest.raises(ValueError, match=message):
        call(ledger)  # type: ignore[operator]


def test_ledger_charge_releases_remainder_and_charges_once() -> None:
    ledger = build_ledger()
    ledger.reserve("a/1", "c1", "x", 3_000, T0)
    assert ledger.charge("a/1", 1_200, T0 + 1) is ChargeResult.CHARGED
    assert ledger.charge("a/1", 1_200, T0 + 2) is ChargeResult.DUPLICATE
    assert ledger.campaign_spend("c1", T0 + 2) == Spend(
        total_micros=1_200,
        today_micros=1_200,
        reserved_micros=0,
        remaining_total_micros=8_800,
        remaining_today_micros=3_800,
    )
    assert ledger.is_charged("a/1")
    assert ledger.arm_spend("c1") == {"x": 1_200}
    assert not ledger.reserve("a/1", "c1", "x", 100, T0 + 3)


def test_ledger_charge_above_bid_keeps_reservation() -> None:
    ledger = build_ledger()
    ledger.reserve("a/1", "c1", "x", 3_000, T0)
    assert ledger.charge("a/1", 3_001, T0) is ChargeResult.PRICE_ABOVE_BID
    assert ledger.reservation_micros("a/1") == 3_000
    assert ledger.charge("a/1", 3_000, T0) is ChargeResult.CHARGED
    assert ledger.reservation_micros("a/1") is None


def test_ledger_charge_unknown_key() -> None:
    ledger = build_ledger()
    assert ledger.charge("never/1", 10, T0) is ChargeResult.UNKNOWN
    assert ledger.stats().charge_result_to_total[ChargeResult.UNKNOWN] == 1


def test_ledger_release_frees_reservation() -> None:
    ledger = build_ledger(daily=3_000)
    ledger.reserve("a/1", "c1", "x", 3_000, T0)
    assert ledger.release("a/1", T0)
    assert not ledger.release("a/1", T0)
    assert ledger.campaign_spend("c1", T0).reserved_micros == 0
    assert ledger.reserve("a/2", "c1", "x", 3_000, T0)
    assert ledger.charge("a/1", 10, T0) is ChargeResult.UNKNOWN


def test_ledger_expire_releases_only_old_reservations() -> None:
    ledger = build_ledger(reservation_ttl_s=300.0)
    ledger.reserve("a/1", "c1", "x", 1_000, T0)
    ledger.reserve("a/2", "c1", "x", 1_000, T0 + 100)
    assert ledger.expire(T0 + 299) == 0
    assert ledger.expire(T0 + 300) == 1
    assert ledger.campaign_spend("c1", T0 + 300).reserved_micros == 1_000
    assert ledger.expire(T0 + 400) == 1
    assert ledger.expire(T0 + 10_000) == 0
    assert ledger.stats().expired_total == 2


def test_ledger_expire_skips_reservations_settled_or_reserved_again() -> None:
    ledger = build_ledger(reservation_ttl_s=300.0)
    ledger.reserve("a/1", "c1", "x", 1_000, T0)
    ledger.release("a/1", T0 + 1)
    ledger.reserve("a/1", "c1", "x", 1_000, T0 + 200)
    assert ledger.expire(T0 + 300) == 0
    assert ledger.reservation_micros("a/1") == 1_000
    assert ledger.expire(T0 + 500) == 1


def test_ledger_charge_after_expiry_when_budget_still_fits() -> None:
    ledger = build_ledger(total=10_000, daily=5_000, reservation_ttl_s=10.0)
    ledger.reserve("a/1", "c1", "x", 3_000, T0)
    ledger.expire(T0 + 10)
    assert ledger.charge("a/1", 3_001, T0 + 11) is ChargeResult.PRICE_ABOVE_BID
    assert ledger.charge("a/1", 2_500, T0 + 11) is ChargeResult.CHARGED
    assert ledger.campaign_spend("c1", T0 + 11).total_micros == 2_500
    assert ledger.charge("a/1", 2_500, T0 + 12) is ChargeResult.DUPLICATE


def test_ledger_charge_after_expiry_refused_when_budget_spent() -> None:
    ledger = build_ledger(total=10_000, daily=5_000, reservation_ttl_s=10.0)
    ledger.reserve("a/1", "c1", "x", 3_000, T0)
    ledger.expire(T0 + 10)
    ledger.reserve("a/2", "c1", "y", 5_000, T0 + 10)
    assert ledger.charge("a/1", 1, T0 + 11) is ChargeResult.EXPIRED_NO_BUDGET
    assert ledger.campaign_spend("c1", T0 + 11).total_micros == 0
    ledger.release("a/2", T0 + 12)
    assert ledger.charge("a/1", 1, T0 + 12) is ChargeResult.CHARGED


def test_ledger_loss_notice_settles_expired_reservation() -> None:
    ledger = build_ledger(reservation_ttl_s=10.0)
    ledger.reserve("a/1", "c1", "x", 3_000, T0)
    ledger.expire(T0 + 10)
    assert not ledger.release("a/1", T0 + 11)
    assert ledger.charge("a/1", 1, T0 + 12) is ChargeResult.UNKNOWN


def test_ledger_recently_expired_map_is_bounded() -> None:
    ledger = build_ledger(reservation_ttl_s=10.0, expired_max_entries=2)
    for i in range(3):
        ledger.reserve(f"a/{i}", "c1", "x", 100, T0 + i)
    ledger.expire(T0 + 100)
    assert ledger.charge("a/0", 100, T0 + 101) is ChargeResult.UNKNOWN
    assert ledger.charge("a/2", 100, T0 + 101) is ChargeResult.CHARGED


def test_ledger_recently_expired_entries_age_out() -> None:
    ledger = build_ledger(reservation_ttl_s=10.0, expired_retention_s=60.0)
    ledger.reserve("a/1", "c1", "x", 100, T0)
    ledger.expire(T0 + 10)
    ledger.expire(T0 + 71)
    assert ledger.charge("a/1", 100, T0 + 72) is ChargeResult.UNKNOWN


def test_ledger_dedupe_keys_kept_for_retention_window() -> None:
    ledger = build_ledger(dedupe_retention_s=1_000.0)
    ledger.reserve("a/1", "c1", "x", 100, T0)
    ledger.charge("a/1", 100, T0)
    ledger.expire(T0 + 999)
    assert ledger.is_charged("a/1")
    ledger.expire(T0 + 1_000)
    assert not ledger.is_charged("a/1")
    assert ledger.campaign_spend("c1", T0 + 1_000).total_micros == 100


def test_ledger_daily_spend_resets_at_local_midnight() -> None:
    tz = ZoneInfo("America/New_York")
    before = dt.datetime(2026, 6, 1, 23, 59, 30, tzinfo=tz).timestamp()
    after = dt.datetime(2026, 6, 2, 0, 0, 0, tzinfo=tz).timestamp()
    ledger = build_ledger(total=100_000, daily=5_000, timezone="America/New_York")
    ledger.reserve("a/1", "c1", "x", 5_000, before)
    assert not ledger.reserve("a/2", "c1", "x", 1, before)
    ledger.charge("a/1", 4_000, before + 1)
    assert ledger.campaign_spend("c1", after).today_micros == 0
    assert ledger.reserve("a/2", "c1", "x", 5_000, after)
    assert ledger.campaign_spend("c1", after).total_micros == 4_000


def test_ledger_reservation_charges_against_day_it_was_made() -> None:
    tz = ZoneInfo("Europe/Paris")
    before = dt.datetime(2026, 6, 1, 23, 59, 59, tzinfo=tz).timestamp()
    after = dt.datetime(2026, 6, 2, 0, 0, 5, tzinfo=tz).timestamp()
    ledger = build_ledger(total=100_000, daily=5_000, timezone="Europe/Paris")
    ledger.reserve("a/1", "c1", "x", 5_000, before)
    assert ledger.charge("a/1", 5_000, after) is ChargeResult.CHARGED
    spend = ledger.campaign_spend("c1", after)
    assert (spend.today_micros, spend.remaining_today_micros) == (0, 5_000)
    assert ledger.campaign_spend("c1", before).today_micros == 5_000


def test_ledger_day_follows_dst_change() -> None:
    tz = ZoneInfo("America/New_York")  # 2026-03-08 has 23 hours
    ledger = build_ledger(total=100_000, daily=1_000, timezone="America/New_York")
    late = dt.datetime(2026, 3, 8, 23, 30, tzinfo=tz).timestamp()
    assert ledger.reserve("a/1", "c1", "x", 1_000, late)
    assert not ledger.reserve("a/2", "c1", "x", 1_000, late + 1_799)
    assert ledger.reserve("a/3", "c1", "x", 1_000, late + 1_800)


def test_ledger_budget_reduced_below_spend_blocks_new_reservations() -> None:
    ledger = build_ledger(total=10_000, daily=10_000)
    ledger.reserve("a/1", "c1", "x", 6_000, T0)
    ledger.charge("a/1", 6_000, T0)
    ledger.set_budgets({"c1": Budget(total_micros=5_000, daily_micros=10_000)})
    spend = ledger.campaign_spend("c1", T0)
    assert (spend.total_micros, spend.remaining_total_micros) == (6_000, 0)
    assert not ledger.reserve("a/2", "c1", "x", 1, T0)
    ledger.set_budgets({"c1": Budget(total_micros=7_000, daily_micros=10_000)})
    assert ledger.reserve("a/2", "c1", "x", 1_000, T0)


def test_ledger_removed_campaign_keeps_spend_and_settles_holds() -> None:
    ledger = build_ledger()
    ledger.reserve("a/1", "c1", "x", 1_000, T0)
    ledger.reserve("a/2", "c1", "y", 1_000, T0)
    ledger.charge("a/1", 500, T0)
    ledger.set_budgets({})
    assert not ledger.reserve("a/3", "c1", "x", 1, T0)
    assert ledger.charge("a/2", 700, T0) is ChargeResult.CHARGED
    assert ledger.campaign_spend("c1", T0).total_micros == 1_200
    assert ledger.arm_spend("c1") == {"x": 500, "y": 700}
    assert ledger.total_charged_micros() == 1_200


def test_ledger_unknown_campaign_spend_is_zero() -> None:
    ledger = build_ledger()
    assert ledger.campaign_spend("nope", T0) == Spend(0, 0, 0, 0, 0)
    assert ledger.arm_spend("nope") == {}


def test_ledger_stats_count_every_result() -> None:
    ledger = build_ledger(reservation_ttl_s=10.0)
    ledger.reserve("a/1", "c1", "x", 100, T0)
    ledger.reserve("a/2", "c1", "x", 100, T0)
    ledger.reserve("a/3", "c1", "x", 100, T0)
    ledger.charge("a/1", 200, T0)
    ledger.charge("a/1", 50, T0)
    ledger.charge("a/1", 50, T0)
    ledger.release("a/2", T0)
    ledger.expire(T0 + 10)
    stats = ledger.stats()
    assert stats.charge_result_to_total == {
        ChargeResult.CHARGED: 1,
        ChargeResult.DUPLICATE: 1,
        ChargeResult.UNKNOWN: 0,
        ChargeResult.PRICE_ABOVE_BID: 1,
        ChargeResult.EXPIRED_NO_BUDGET: 0,
    }
    assert (stats.reserve_accepted_total, stats.release_total, stats.expired_total) == (3, 1, 1)
    assert stats.charged_micros_total == 50
