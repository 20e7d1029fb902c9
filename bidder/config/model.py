"""Frozen config objects that ``config.yaml`` loads into. Defaults live here, once.

Money is integer micros: budgets are currency units in the file (``units * 1e6``), bid
prices are CPM in the file and the price of *one impression* in micros here
(``bidder.money.cpm_to_micros``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum


class BidStrategyKind(str, Enum):
    FIXED_CPM = "fixed_cpm"  # bid fixed_cpm, whatever the pCTR
    VALUE_PER_CLICK = "value_per_click"  # value_per_click x pCTR
    TARGET_CPC = "target_cpc"  # target_cpc x pCTR, so expected cost per click = target
    TARGET_CPA = "target_cpa"  # target_cpa x pCTR x pCVR


class PacingMode(str, Enum):
    EVEN = "even"
    ASAP = "asap"


class ChargeOn(str, Enum):
    WIN = "win"  # nurl
    BILL = "bill"  # burl


@dataclass(frozen=True, slots=True)
class BidStrategy:
    kind: BidStrategyKind = BidStrategyKind.VALUE_PER_CLICK
    fixed_cpm_micros: int = 0  # per-impression micros when kind is FIXED_CPM
    value_per_click_micros: int = 0
    target_cpc_micros: int = 0
    target_cpa_micros: int = 0
    prior_ctr: float = 0.001  # used when no model scores the candidate
    prior_cvr: float = 0.01  # conversions per click, for TARGET_CPA


@dataclass(frozen=True, slots=True)
class Budget:
    total_micros: int
    daily_micros: int


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    max_impressions: int
    window_s: int


@dataclass(frozen=True, slots=True)
class Flight:
    start: dt.datetime | None = None  # aware, UTC
    end: dt.datetime | None = None  # aware, UTC, exclusive


@dataclass(frozen=True, slots=True)
class Size:
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Targeting:
    """Empty sets mean "any". ``*_block`` sets always apply."""

    countries: frozenset[str] = frozenset()  # upper-case, alpha-2 or alpha-3 as sent
    regions: frozenset[str] = frozenset()
    cities: frozenset[str] = frozenset()
    device_types: frozenset[int] = frozenset()  # OpenRTB device.devicetype
    os: frozenset[str] = frozenset()  # lower-case
    app_bundles_allow: frozenset[str] = frozenset()
    app_bundles_block: frozenset[str] = frozenset()
    site_domains_allow: frozenset[str] = frozenset()
    site_domains_block: frozenset[str] = frozenset()
    iab_categories_block: frozenset[str] = frozenset()
    sizes: frozenset[Size] = frozenset()
    media_types: frozenset[str] = frozenset()  # banner, video, native, audio
    deal_ids: frozenset[str] = frozenset()
    deals_only: bool = False  # bid only through a listed deal
    inventory: frozenset[str] = frozenset()  # "site", "app" (empty: both)


@dataclass(frozen=True, slots=True)
class Audience:
    """Tag rules: all of ``all_of``, at least one of ``any_of`` (if set), none of ``none_of``."""

    any_of: frozenset[str] = frozenset()
    all_of: frozenset[str] = frozenset()
    none_of: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return not (self.any_of or self.all_of or self.none_of)


@dataclass(frozen=True, slots=True)
class Creative:
    id: str
    format: str  # banner, video, native, audio
    w: int | None = None
    h: int | None = None
    markup: str | None = None  # banner HTML, native JSON, or VAST XML for video/audio
    landing_url: str = ""
    adomain: tuple[str, ...] = ()
    cat: tuple[str, ...] = ()
    attr: frozenset[int] = frozenset()
    mimes: tuple[str, ...] = ()  # video/audio
    duration_s: int | None = None  # video/audio
    enabled: bool = True
    sizes: tuple[Size, ...] = ()  # banner: every size it renders at (w x h is the first)

    def banner_sizes(self) -> tuple[Size, ...]:
        if self.sizes:
            return self.sizes
        if self.w is not None and self.h is not None:
            return (Size(self.w, self.h),)
        return ()


class OptimizerPolicy(str, Enum):
    THOMPSON = "thompson"
    UCB = "ucb"
    EPSILON_GREEDY = "epsilon_greedy"
    UNIFORM = "uniform"


class OptimizerObjective(str, Enum):
    CLICKS = "clicks"
    CONVERSIONS = "conversions"
    CLICKS_UNDER_TARGET_CPC = "clicks_under_target_cpc"


class ArmDimension(str, Enum):
    """Parts of the full arm key ``exchange|media|HH|creative`` an optimiser arm keeps."""

    EXCHANGE = "exchange"
    SITE = "site"  # the media part: site domain or app bundle
    HOUR = "hour"
    CREATIVE = "creative"


@dataclass(frozen=True, slots=True)
class MediaShare:
    """Share bounds for one media (an exchange label or a site/app of the arm key)."""

    media: str
    min_share: float = 0.0
    max_share: float = 1.0


@dataclass(frozen=True, slots=True)
class AbVariant:
    """One arm of an A/B test: weight and overrides applied in ``decide``."""

    name: str
    weight: float = 1.0
    bid_multiplier: float = 1.0
    strategy_value_micros: int | None = None  # replaces the bid strategy's amount


@dataclass(frozen=True, slots=True)
class Experiment:
    """Users split by hashed id; users without an id always get ``control``."""

    salt: str
    control: str
    variants: tuple[AbVariant, ...]

    def variant(self, name: str) -> AbVariant | None:
        for v in self.variants:
            if v.name == name:
                return v
        return None


DEFAULT_GROUPING = (ArmDimension.EXCHANGE, ArmDimension.HOUR, ArmDimension.CREATIVE)


@dataclass(frozen=True, slots=True)
class OptimizerSettings:
    """The ``optimizer:`` section (global defaults) or one campaign's resolved settings."""

    enabled: bool = False
    policy: OptimizerPolicy = OptimizerPolicy.THOMPSON
    objective: OptimizerObjective = OptimizerObjective.CLICKS
    target_cpc_micros: int | None = None
    target_cpa_micros: int | None = None
    grouping: tuple[ArmDimension, ...] = DEFAULT_GROUPING
    media_shares: tuple[MediaShare, ...] = ()
    floor: float = 0.2  # minimum participation of every arm, as a fraction of its uniform share
    max_move: float = 1.0  # largest change of one arm's share per step
    step_interval_s: int = 300
    creatives: bool = True  # optimise creative rotation (false: uniform rotation)
    seed: int = 0
    experiment: Experiment | None = None


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    advertiser_domain: str
    budget: Budget
    max_bid_micros: int
    creatives: tuple[Creative, ...]
    name: str = ""
    iab_categories: tuple[str, ...] = ()
    strategy: BidStrategy = field(default_factory=BidStrategy)
    pacing: PacingMode = PacingMode.EVEN
    pacing_curve: tuple[float, ...] = ()  # 24 hourly plan weights (local hours); empty: even
    charge_on: ChargeOn = ChargeOn.WIN
    frequency_cap: FrequencyCap | None = None
    flight: Flight = field(default_factory=Flight)
    hours: frozenset[int] = frozenset()  # day-parting, 0-23 in server.timezone; empty: all
    targeting: Targeting = field(default_factory=Targeting)
    audience: Audience = field(default_factory=Audience)
    seat: str | None = None  # our seat id at exchanges, checked against wseat/bseat
    enabled: bool = True
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)  # resolved


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    tmax_margin_ms: int = 10  # answer no-bid when less than this is left of tmax
    default_tmax_ms: int = 100  # when the request has no tmax
    admin_host: str = "127.0.0.1"  # the admin API listens here (localhost by default)
    admin_port: int = 8081  # 0: serve the admin API on the bid port instead
    admin_token_env: str = "RTB_ADMIN_TOKEN"
    admin_token: str | None = field(default=None, repr=False)  # resolved from the env var
    notice_secret_env: str = "RTB_NOTICE_SECRET"
    notice_secret: str | None = field(default=None, repr=False)  # resolved from the env var
    notice_base_url: str = "http://127.0.0.1:8080"
    notice_ttl_s: int = 3600  # a notice signed longer ago than this is expired
    reservation_ttl_s: int = 300  # an unanswered bid's reservation is released after this
    timezone: str = "UTC"
    state_dir: str = "var/state"  # journal and other persisted state
    bidlog_path: str | None = "var/bidlog.jsonl"
    max_body_bytes: int = 256 * 1024
    max_imps: int = 20
    max_json_depth: int = 32  # deeper request bodies are refused (400)
    max_decompressed_bytes: int = 1024 * 1024  # gzip/deflate bodies: decoded size cap (413)
    body_read_timeout_ms: int = 1000  # a body still arriving after this is cut off (408)
    header_read_timeout_ms: int = 15_000  # also the keep-alive idle timeout
    max_connections: int = 1024  # open connections per listener; more are answered 503
    bidlog_retention_days: int = 30  # dated bid log files older than this are deleted
    tag_retention_days: int = 30  # cap on audience tag TTLs
    malloc_tuning: bool = True  # glibc mallopt at startup (bidder/malloc.py); false: leave it
    user_id_salt_env: str = "RTB_USER_SALT"
    user_id_salt: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ModelSettings:
    path: str | None = "models/default"  # directory written by `rtb train`; None: priors only
    build_if_missing: bool = True
    predictor: str = "booster"  # booster | compiled | auto (compiled, else booster)


class BackendKind(str, Enum):
    EMBEDDED = "embedded"  # ledger, caps and tags in this process (one bidder)
    REDIS = "redis"  # a fleet sharing them through Redis (docs/fleet.md)


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """Where budgets, frequency caps and audience tags live (``backend:``; docs/fleet.md)."""

    kind: BackendKind = BackendKind.EMBEDDED
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "rtb:"
    node_id: str = ""  # empty: "<hostname>-<port>" at startup
    lease_fraction: float = 0.01  # max slice of a daily budget one node holds, (0, 1]
    lease_ttl_s: int = 30  # a node stops using a lease it could not renew for this long
    sync_interval_s: float = 0.5  # lease top-up, report and cache refresh period
    dedupe_ttl_s: int = 7 * 86_400  # how long a charged (auction, imp) key stays in Redis
    cache_ttl_s: int = 60  # a cached user's caps/tags are re-read from Redis after this


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerSettings
    campaigns: tuple[Campaign, ...]
    currency: str = "USD"  # the engine's currency: budgets and max bids are in it
    currency_rates: dict[str, float] = field(default_factory=dict)  # 1 X = rate * currency
    model: ModelSettings = field(default_factory=ModelSettings)
    backend: BackendSettings = field(default_factory=BackendSettings)
    version: str = ""  # content hash of the file, set by the loader
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)  # global defaults
    _by_id: dict[str, Campaign] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.campaigns})

    def campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id (a dict lookup: notices call it several times each)."""
        return self._by_id.get(campaign_id)
