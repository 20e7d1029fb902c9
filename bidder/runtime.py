"""Runtime: the live engine a server process holds (config, auction, ledger, stores, plan).

Everything swappable is swapped by reference: a reload builds a complete new ``Setup``
and assigns it; the plan and the scorer are replaced the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bidder.auction import Auction, Setup, build_setup
from bidder.bidlog import BidLog
from bidder.config.model import BackendKind, Config
from bidder.events import NoticeProcessor
from bidder.ledger.embedded import EmbeddedLedger
from bidder.metrics import Metrics, MoneyGauges
from bidder.notices import NoticeSigner
from bidder.openrtb.request import DEFAULT_LIMITS, ParseLimits
from bidder.pacer import Pacer
from bidder.privacy import IdHasher
from bidder.scoring import Scorer
from bidder.secrets import parse_keyring, persisted_secret
from bidder.stores.freqcap import EmbeddedFrequencyStore
from bidder.stores.tags import EmbeddedTagStore
from optimizer.plan import EMPTY_PLAN, Plan

if TYPE_CHECKING:
    from bidder.fleet.service import FleetService
    from bidder.workers import NoticeRelay

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # seconds since the epoch


@dataclass
class Runtime:
    config: Config
    config_path: Path | None
    auction: Auction
    ledger: EmbeddedLedger
    frequency: EmbeddedFrequencyStore
    tags: EmbeddedTagStore
    pacer: Pacer
    metrics: Metrics
    signer: NoticeSigner
    notices: NoticeProcessor
    bidlog: BidLog
    hasher: IdHasher
    clock: Clock
    state_dir: Path
    persist: bool = True
    plan: Plan = EMPTY_PLAN
    _limits: ParseLimits = DEFAULT_LIMITS
    _limits_for: Config | None = None
    ready: bool = True
    reload_errors: list[str] = field(default_factory=list)
    fleet: FleetService | None = None  # backend.kind redis: background sync with Redis
    notice_relay: NoticeRelay | None = None  # server.workers > 1 (bidder.workers)
    _gauges: MoneyGauges = field(default_factory=MoneyGauges)

    @property
    def parse_limits(self) -> ParseLimits:
        """Request limits of the current config (built once per config, not per request)."""
        config = self.config
        if self._limits_for is not config:
            server = config.server
            self._limits = ParseLimits(max_imps=server.max_imps, max_depth=server.max_json_depth)
            self._limits_for = config
        return self._limits

    @property
    def setup(self) -> Setup:
        return self.auction.setup

    def apply_config(self, config: Config) -> None:
        """Swap in a validated config: new indexes, budgets and limits at once."""
        setup = build_setup(config)
        self.ledger.set_budgets({c.id: c.budget for c in config.campaigns})
        self.auction.setup = setup
        self.config = config
        self.metrics.set_config(config.version)

    def set_scorer(self, scorer: Scorer) -> None:
        self.auction.scorer = scorer
        self.metrics.set_model(scorer.version)

    def set_plan(self, plan: Plan) -> None:
        self.plan = plan
        self.metrics.plan_version.set(plan.version)

    def tick(self) -> None:
        """Once a second: expire reservations, step pacing, refresh money gauges."""
        now = self.clock()
        ledger = self.ledger
        ledger.expire(now)
        setup = self.setup
        campaigns = setup.config.campaigns
        spends = {c.id: ledger.campaign_spend(c.id, now) for c in campaigns}
        self.pacer.tick(campaigns, ledger, setup.tz, now, spends)
        self._gauges.refresh(self.metrics, spends, self.pacer)

    def close(self) -> None:
        self.bidlog.flush()
        self.ledger.close()
        if not self.persist:
            return
        self.frequency.save(self.state_dir / "freqcap.json")
        self.tags.save(self.state_dir / "tags.json")


def build_runtime(
    config: Config,
    scorer: Scorer,
    *,
    clock: Clock,
    config_path: Path | None = None,
    metrics: Metrics | None = None,
    persist: bool = True,
    ledger: EmbeddedLedger | None = None,
) -> Runtime:
    """Open the state directory (journal, stores, secrets) and assemble the engine.

    ``persist=False`` (the simulator) keeps everything in memory with fixed secrets, so a
    replay touches no files and hashes identically run after run. ``ledger`` replaces the
    embedded one (a worker's lease ledger, ``bidder.workers``).
    """
    given_ledger = ledger
    server = config.server
    state_dir = Path(server.state_dir)
    if persist:
        state_dir.mkdir(parents=True, exist_ok=True)
        salt = server.user_id_salt or persisted_secret(state_dir, "user-id.salt")
        ring = server.notice_secret or persisted_secret(state_dir, "notice.key")
    else:
        salt = server.user_id_salt or "replay"
        ring = server.notice_secret or "replay"
    hasher = IdHasher(salt)
    keys, current = parse_keyring(ring)
    signer = NoticeSigner(keys, current, server.notice_base_url)
    frequency: EmbeddedFrequencyStore
    tags: EmbeddedTagStore
    fleet = config.backend.kind is BackendKind.REDIS
    if fleet:
        from bidder.fleet.build import build_fleet_stores

        ledger, frequency, tags = build_fleet_stores(config, state_dir if persist else None)
    elif given_ledger is not None:
        ledger = given_ledger
        frequency = EmbeddedFrequencyStore()
        tags = EmbeddedTagStore()
    else:
        ledger = EmbeddedLedger(
            state_dir / "ledger.journal" if persist else None,
            timezone=server.timezone,
            reservation_ttl_s=server.reservation_ttl_s,
            presize=persist,
        )
        frequency = EmbeddedFrequencyStore()
        tags = EmbeddedTagStore()
    ledger.set_budgets({c.id: c.budget for c in config.campaigns})
    if persist:
        ledger.snapshot(clock())  # compact the journal replayed at startup
    if persist and not fleet:
        _load_store(frequency, state_dir / "freqcap.json")
        _load_store(tags, state_dir / "tags.json")
    metrics = metrics if metrics is not None else Metrics()
    pacer = Pacer()
    setup = build_setup(config)
    auction = Auction(setup, scorer, ledger, frequency, tags, pacer, hasher)
    runtime_ref: list[Runtime] = []
    notices = NoticeProcessor(
        signer, ledger, frequency, metrics, lambda: runtime_ref[0].config, server.notice_ttl_s
    )
    runtime = Runtime(
        config=config,
        config_path=config_path,
        auction=auction,
        ledger=ledger,
        frequency=frequency,
        tags=tags,
        pacer=pacer,
        metrics=metrics,
        signer=signer,
        notices=notices,
        bidlog=BidLog(server.bidlog_path if persist else None, hasher),
        hasher=hasher,
        clock=clock,
        state_dir=state_dir,
        persist=persist,
    )
    runtime_ref.append(runtime)
    metrics.set_config(config.version)
    metrics.set_model(scorer.version)
    metrics.plan_version.set(0)
    if fleet:
        from bidder.fleet.build import build_fleet_service

        runtime.fleet = build_fleet_service(runtime)
    runtime.tick()
    return runtime


def _load_store(store: EmbeddedFrequencyStore | EmbeddedTagStore, path: Path) -> None:
    if path.exists():
        try:
            store.load(path)
        except Exception:
            log.exception("could not load %s; starting empty", path)
