"""EmbeddedLedger as a hypothesis state machine against a small reference model."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bidder.config.model import Budget
from bidder.ledger import ChargeResult, EmbeddedLedger

TIMEZONE = "America/New_York"
TZ = ZoneInfo(TIMEZONE)
T0 = dt.datetime(2026, 3, 7, 22, 0, tzinfo=TZ).timestamp()  # a DST change the next night
TTL_S = 300.0
CAMPAIGNS = ("c0", "c1", "c2")
ARMS = ("a", "b")
NO_BUDGET = Budget(total_micros=0, daily_micros=0)  # a campaign absent from the budgets
BIG_S = 1e9  # retention windows the run never reaches, so the model needs no aging

budgets_st = st.builds(
    Budget,
    total_micros=st.integers(0, 300_000),
    daily_micros=st.integers(0, 150_000),
)


@dataclass(frozen=True, slots=True)
class Hold:
    campaign_id: str
    arm: str
    amount_micros: int
    day: int
    created_s: float


@dataclass(slots=True)
class Model:
    """What the ledger should hold, computed independently."""

    budgets: dict[str, Budget] = field(default_factory=dict)
    spent: dict[tuple[str, int], int] = field(default_factory=dict)  # (campaign, day) → micros
    arm_spent: dict[tuple[str, str], int] = field(default_factory=dict)
    holds: dict[str, Hold] = field(default_factory=dict)
    expired: dict[str, Hold] = field(default_factory=dict)
    charged: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)  # released, or dropped by a restart
    acknowledged_micros: int = 0
    # committed (spent + held) when budgets were last set: already-held bids may settle
    # above a lowered budget, nothing new may.
    grandfathered_total: dict[str, int] = field(default_factory=dict)
    grandfathered_day: dict[tuple[str, int], int] = field(default_factory=dict)

    def total_spent(self, campaign_id: str) -> int:
        return sum(v for (c, _), v in self.spent.items() if c == campaign_id)

    def held(self, campaign_id: str, day: int | None = None) -> int:
        return sum(
            h.amount_micros
            for h in self.holds.values()
            if h.campaign_id == campaign_id and (day is None or h.day == day)
        )

    def fits(self, campaign_id: str, amount_micros: int, day: int) -> bool:
        budget = self.budgets.get(campaign_id, NO_BUDGET)
        total = self.total_spent(campaign_id) + self.held(campaign_id) + amount_micros
        today = self.spent.get((campaign_id, day), 0) + self.held(campaign_id, day)
        return total <= budget.total_micros and today + amount_micros <= budget.daily_micros


def local_day(now: float) -> int:
    return dt.datetime.fromtimestamp(now, TZ).date().toordinal()


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # tmpfs where there is one: every restart and snapshot fsyncs
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.directory = Path(tempfile.mkdtemp(prefix="ledger-sm-", dir=shm))
        self.path = self.directory / "ledger.journal"
        self.model = Model()
        self.now = T0
        self.next_key = 0
        self.ledger = self.open()

    def open(self) -> EmbeddedLedger:
        return EmbeddedLedger(
            self.path,
            timezone=TIMEZONE,
            reservation_ttl_s=TTL_S,
            dedupe_retention_s=BIG_S,
            expired_retention_s=BIG_S,
        )

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def known_keys(self) -> list[str]:
        model = self.model
        return sorted({*model.holds, *model.expired, *model.charged, *model.settled})

    @initialize(campaign_to_budget=st.fixed_dictionaries(dict.fromkeys(CAMPAIGNS, budgets_st)))
    def start(self, campaign_to_budget: dict[str, Budget]) -> None:
        self.apply_budgets(campaign_to_budget)

    def apply_budgets(self, campaign_to_budget: dict[str, Budget]) -> None:
        model = self.model
        model.budgets = dict(campaign_to_budget)
        days = (
            {local_day(self.now)}
            | {d for _, d in model.spent}
            | {h.day for h in model.holds.values()}
        )
        for campaign_id in CAMPAIGNS:
            committed = model.total_spent(campaign_id) + model.held(campaign_id)
            model.grandfathered_total[campaign_id] = committed
            for day in days:
                committed_day = model.spent.get((campaign_id, day), 0)
                committed_day += model.held(campaign_id, day)
                model.grandfathered_day[(campaign_id, day)] = committed_day
        self.ledger.set_budgets(campaign_to_budget)

    @rule(
        campaign_id=st.sampled_from(CAMPAIGNS),
        arm=st.sampled_from(ARMS),
        amount_micros=st.integers(1, 60_000),
        reuse=st.sampled_from((False, False, False, True)),
        data=st.data(),
    )
    def reserve(
        self, campaign_id: str, arm: str, amount_micros: int, reuse: bool, data: st.DataObject
    ) -> None:
        keys = self.known_keys()
        if reuse and keys:
            key = data.draw(st.sampled_from(keys))
        else:
            key = f"auction{self.next_key}/1"
            self.next_key += 1
        model = self.model
        day = local_day(self.now)
        duplicate = key in model.holds or key in model.charged
        expected = not duplicate and model.fits(campaign_id, amount_micros, day)
        assert self.ledger.reserve(key, campaign_id, arm, amount_micros, self.now) is expected
        if expected:
            model.holds[key] = Hold(campaign_id, arm, amount_micros, day, self.now)
            model.settled.discard(key)

    @rule(campaign_id=st.sampled_from(CAMPAIGNS), arm=st.sampled_from(ARMS))
    def reserve_all_remaining(self, campaign_id: str, arm: str) -> None:
        """Fill a budget exactly: one micro more must fail, the exact amount must fit."""
        model = self.model
        budget = model.budgets.get(campaign_id, NO_BUDGET)
        day = local_day(self.now)
        left_total = budget.total_micros - model.total_spent(campaign_id) - model.held(campaign_id)
        today = model.spent.get((campaign_id, day), 0) + model.held(campaign_id, day)
        amount_micros = min(left_total, budget.daily_micros - today)
        key = f"auction{self.next_key}/1"
        self.next_key += 1
        assert not self.ledger.reserve(key, campaign_id, arm, max(amount_micros, 0) + 1, self.now)
        if amount_micros > 0:
            assert self.ledger.reserve(key, campaign_id, arm, amount_micros, self.now)
            model.holds[key] = Hold(campaign_id, arm, amount_micros, day, self.now)
        spend = self.ledger.campaign_spend(campaign_id, self.now)
        assert spend.remaining_today_micros == 0

    def draw_key(self, data: st.DataObject) -> str:
        """A held, expired, charged or settled key, each kind equally likely if present."""
        model = self.model
        pools = [
            sorted(pool)
            for pool in (model.holds, model.expired, model.charged, model.settled)
            if pool
        ]
        return data.draw(st.sampled_from(data.draw(st.sampled_from(pools))))

    @precondition(lambda self: bool(self.known_keys()))
    @rule(data=st.data(), above=st.booleans(), fraction=st.floats(0.0, 1.0))
    def charge(self, data: st.DataObject, above: bool, fraction: float) -> None:
        key = self.draw_key(data)
        model = self.model
        hold = model.holds.get(key) or model.expired.get(key)
        bid = hold.amount_micros if hold is not None else 1_000
        price = bid + 1 if above else int(bid * fraction)
        expected = self.expected_charge(key, price)
        assert self.ledger.charge(key, price, self.now) is expected
        if expected is ChargeResult.CHARGED:
            assert hold is not None
            model.holds.pop(key, None)
            model.expired.pop(key, None)
            model.charged.add(key)
            slot = (hold.campaign_id, hold.day)
            model.spent[slot] = model.spent.get(slot, 0) + price
            arm_slot = (hold.campaign_id, hold.arm)
            model.arm_spent[arm_slot] = model.arm_spent.get(arm_slot, 0) + price
            model.acknowledged_micros += price

    def expected_charge(self, key: str, price: int) -> ChargeResult:
        model = self.model
        hold = model.holds.get(key)
        if hold is not None:
            if price > hold.amount_micros:
                return ChargeResult.PRICE_ABOVE_BID
            return ChargeResult.CHARGED
        if key in model.charged:
            return ChargeResult.DUPLICATE
        hold = model.expired.get(key)
        if hold is None:
            return ChargeResult.UNKNOWN
        if price > hold.amount_micros:
            return ChargeResult.PRICE_ABOVE_BID
        if not model.fits(hold.campaign_id, price, hold.day):
            return ChargeResult.EXPIRED_NO_BUDGET
        return ChargeResult.CHARGED

    @rule(data=st.data())
    def charge_unknown(self, data: st.DataObject) -> None:
        price = data.draw(st.integers(0, 10_000))
        assert self.ledger.charge("never/1", price, self.now) is ChargeResult.UNKNOWN

    @precondition(lambda self: bool(self.known_keys()))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        key = self.draw_key(data)
        expected = key in self.model.holds
        assert self.ledger.release(key, self.now) is expected
        held = self.model.holds.pop(key, None)
        expired = self.model.expired.pop(key, None)
        if held is not None or expired is not None:
            self.model.settled.add(key)

    @rule(step_s=st.integers(0, 2 * int(TTL_S)))
    def advance_and_expire(self, step_s: int) -> None:
        self.now += step_s
        cutoff_s = self.now - TTL_S
        due = [k for k, h in self.model.holds.items() if h.created_s <= cutoff_s]
        for key in due:
            self.model.expired[key] = self.model.holds.pop(key)
        assert self.ledger.expire(self.now) == len(due)

    @rule(seconds_after=st.integers(0, 120))
    def advance_past_midnight(self, seconds_after: int) -> None:
        today = dt.datetime.fromtimestamp(self.now, TZ).date() + dt.timedelta(days=1)
        midnight = dt.datetime(today.year, today.month, today.day, tzinfo=TZ).timestamp()
        self.now = midnight + seconds_after

    @rule(campaign_to_budget=st.dictionaries(st.sampled_from(CAMPAIGNS), budgets_st))
    def set_budgets(self, campaign_to_budget: dict[str, Budget]) -> None:
        self.apply_budgets(campaign_to_budget)

    @rule()
    def restart(self) -> None:
        self.ledger.close()
        self.ledger = self.open()
        self.model.settled.update(self.model.holds, self.model.expired)
        self.model.holds.clear()
        self.model.expired.clear()
        self.ledger.set_budgets(self.model.budgets)
        assert self.ledger.total_charged_micros() == self.model.acknowledged_micros

    @rule()
    def snapshot(self) -> None:
        self.ledger.snapshot(self.now)

    @invariant()
    def spend_matches_model_and_stays_in_budget(self) -> None:
        model = self.model
        today = local_day(self.now)
        for campaign_id in CAMPAIGNS:
            spend = self.ledger.campaign_spend(campaign_id, self.now)
            total = model.total_spent(campaign_id)
            assert spend.total_micros == total
            assert spend.today_micros == model.spent.get((campaign_id, today), 0)
            assert spend.reserved_micros == model.held(campaign_id)
            assert spend.remaining_total_micros >= 0
            assert 0 <= spend.remaining_today_micros <= spend.remaining_total_micros
            assert sum(self.ledger.arm_spend(campaign_id).values()) == total
            budget = model.budgets.get(campaign_id, NO_BUDGET)
            ceiling = max(budget.total_micros, model.grandfathered_total.get(campaign_id, 0))
            assert total <= ceiling
            for (c, day), spent in model.spent.items():
                if c == campaign_id:
                    day_ceiling = model.grandfathered_day.get((c, day), 0)
                    assert spent <= max(budget.daily_micros, day_ceiling)

    @invariant()
    def charged_once(self) -> None:
        assert self.ledger.total_charged_micros() == self.model.acknowledged_micros
        for key in self.model.charged:
            assert self.ledger.is_charged(key)


LedgerMachine.TestCase.settings = settings(stateful_step_count=50)
test_ledger_state_machine = LedgerMachine.TestCase
