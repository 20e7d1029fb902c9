"""config.yaml -> frozen ``Config``, collecting every problem in the file before failing.

``parse_config`` and ``load_config`` raise only ``ConfigError``, whose ``problems`` list
every mistake at once, each as ``path: rule, got value``. ``redacted`` gives the
resolved config as plain data with secrets masked, for the startup log. The file layout
is documented in ``docs/config.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import os
import re
import zoneinfo
from collections.abc import Mapping
from enum import Enum
from pathlib import Path

import yaml

from bidder.config.model import (
    Audience,
    BackendKind,
    BackendSettings,
    BidStrategy,
    BidStrategyKind,
    Budget,
    Campaign,
    ChargeOn,
    Config,
    Flight,
    FrequencyCap,
    ModelSettings,
    OptimizerSettings,
    PacingMode,
    ServerSettings,
)
from bidder.config.optimizer_section import OPTIMIZER_KEYS, build_optimizer
from bidder.config.validate import (
    TARGETING_KEYS,
    Section,
    build_creatives,
    build_targeting,
    describe,
    join_path,
    read_duration_s,
    read_hours,
    read_instant,
    read_number,
    read_pacing_curve,
)
from bidder.errors import ConfigError, Problem
from bidder.money import cpm_to_micros, units_to_micros
from bidder.stores.freqcap import DEFAULT_MAX_EVENTS

__all__ = ["load_config", "parse_config", "redacted"]

TOP_KEYS = ("server", "currency", "currency_rates", "model", "backend", "optimizer", "campaigns")
BACKEND_KEYS = tuple(f.name for f in dataclasses.fields(BackendSettings))
SERVER_KEYS = tuple(f.name for f in dataclasses.fields(ServerSettings) if f.repr)
MODEL_KEYS = ("path", "build_if_missing", "predictor")
CAMPAIGN_KEYS = (
    "id", "name", "enabled", "advertiser_domain", "iab_categories", "budget", "max_bid_cpm",
    "bid_strategy", "pacing", "pacing_curve", "charge_on", "frequency_cap", "flight", "hours",
    "targeting", "audience", "seat", "creatives", "optimizer",
)  # fmt: skip
BUDGET_KEYS = ("total", "daily")
STRATEGY_KEYS = (
    "type",
    "value_per_click",
    "cpm",
    "target_cpc",
    "target_cpa",
    "prior_ctr",
    "prior_cvr",
)
STRATEGY_AMOUNT_KEY = {
    BidStrategyKind.VALUE_PER_CLICK: "value_per_click",
    BidStrategyKind.FIXED_CPM: "cpm",
    BidStrategyKind.TARGET_CPC: "target_cpc",
    BidStrategyKind.TARGET_CPA: "target_cpa",
}
FREQUENCY_CAP_KEYS = ("impressions", "window")
MAX_CAP_IMPRESSIONS = DEFAULT_MAX_EVENTS  # the frequency store keeps this many events per user
FLIGHT_KEYS = ("start", "end")
AUDIENCE_KEYS = ("any", "all", "none")
SECRET_FIELDS = ("admin_token", "notice_secret", "user_id_salt")
VERSION_HEX_CHARS = 12
MARKUP_LOG_CHARS = 60
MIN_CPM = 0.001  # one micro per impression

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def parse_config(
    text: str, *, environ: Mapping[str, str] | None = None, source: str = "<string>"
) -> Config:
    """Parse and validate config text; raise ``ConfigError`` listing every problem."""
    problems: list[Problem] = []
    data = _parse_yaml(text, source, problems)
    if problems:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"{describe(data)}, not sections of key: value fields"
        raise ConfigError([Problem(source, f"the file is {what}; it needs at least campaigns:")])
    env = os.environ if environ is None else environ
    config = _build_config(Section.of(data, "", TOP_KEYS, problems), env)
    if problems or config is None:
        raise ConfigError(problems)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return dataclasses.replace(config, version=digest[:VERSION_HEX_CHARS])


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; raise ``ConfigError`` listing every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), f"is not UTF-8 text: {exc.reason}")]) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([Problem(str(path), f"cannot be read: {reason}")]) from None
    return parse_config(text, environ=environ, source=str(path))


def redacted(config: Config) -> dict[str, object]:
    """The resolved config as plain data for the startup log; secrets show as ``***``."""
    data = _plain(config)
    assert isinstance(data, dict)
    server = data["server"]
    assert isinstance(server, dict)
    for name in SECRET_FIELDS:
        server[name] = None if getattr(config.server, name) is None else "***"
    for campaign in data["campaigns"] if isinstance(data["campaigns"], list) else ():
        for creative in campaign["creatives"]:
            creative["markup"] = _shortened(creative["markup"])
    return data


def _shortened(markup: object) -> object:
    """Creative markup cut to its start: the log needs which creative, not its HTML."""
    if isinstance(markup, str) and len(markup) > MARKUP_LOG_CHARS:
        return f"{markup[:MARKUP_LOG_CHARS]}... ({len(markup)} chars)"
    return markup


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")  # derived indexes, not settings
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class _Loader(yaml.SafeLoader):
    """SafeLoader that records keys written twice in one mapping (YAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    self.duplicate_keys.append((key_node.value, key_node.start_mark.line + 1))
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, source: str, problems: list[Problem]) -> object:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = exc.problem or exc.context or "syntax error"
        if not isinstance(exc, yaml.constructor.ConstructorError):
            reason += " (check the indentation and quotes on this line and the one before)"
        problems.append(Problem(source, f"{where}not valid YAML: {reason}"))
        return None
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problems.append(Problem(source, f"not valid YAML: {reason}"))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    for key, line in loader.duplicate_keys:
        problems.append(
            Problem(source, f'line {line}: key "{key}" is written twice in the same section')
        )
    return data


def _build_config(root: Section | None, environ: Mapping[str, str]) -> Config | None:
    if root is None:
        return None
    server = _build_server(root.section("server", SERVER_KEYS), environ)
    currency = _build_currency(root)
    rates = _build_currency_rates(root, currency)
    model = _build_model(root.section("model", MODEL_KEYS))
    backend = _build_backend(root.section("backend", BACKEND_KEYS))
    optimizer = build_optimizer(root.section("optimizer", OPTIMIZER_KEYS), OptimizerSettings())
    campaigns = _build_campaigns(root, optimizer)
    return Config(server, campaigns, currency, rates, model, backend, optimizer=optimizer)


def _build_currency(root: Section) -> str:
    currency = (root.text("currency", "USD") or "USD").upper()
    if not _CURRENCY_RE.match(currency):
        root.add("currency", f"must be a 3-letter currency code like USD, got {currency!r}")
    return currency


def _build_currency_rates(root: Section, currency: str) -> dict[str, float]:
    rates = {currency: 1.0}
    if not root.has("currency_rates"):
        return rates
    value = root.data["currency_rates"]
    if not isinstance(value, dict):
        root.add("currency_rates", f"must be a section like EUR: 1.08, got {describe(value)}")
        return rates
    for key, rate_value in value.items():
        path = join_path("currency_rates", str(key))
        code = str(key).upper()
        if not isinstance(key, str) or not _CURRENCY_RE.match(code):
            root.problems.append(Problem(path, "must be a 3-letter currency code like EUR"))
            continue
        rate = read_number(rate_value, path, root.problems, gt=0, lt=None)
        if rate is not None and code == currency and rate != 1:
            root.problems.append(Problem(path, f"the rate of {currency} itself is 1, got {rate}"))
        elif rate is not None:
            rates[code] = rate
    return rates


def _build_server(s: Section | None, environ: Mapping[str, str]) -> ServerSettings:
    d = ServerSettings()
    if s is None:
        return _resolve_secrets(d, environ)
    server = ServerSettings(
        host=s.text("host", d.host) or d.host,
        port=s.integer("port", d.port, lo=1, hi=65535),
        workers=s.integer("workers", d.workers, lo=1, hi=256),
        tmax_margin_ms=s.integer("tmax_margin_ms", d.tmax_margin_ms, lo=0),
        default_tmax_ms=s.integer("default_tmax_ms", d.default_tmax_ms, lo=1),
        admin_host=s.text("admin_host", d.admin_host) or d.admin_host,
        admin_port=s.integer("admin_port", d.admin_port, lo=0, hi=65535),
        admin_token_env=_env_name(s, "admin_token_env", d.admin_token_env),
        notice_secret_env=_env_name(s, "notice_secret_env", d.notice_secret_env),
        notice_base_url=_url(s, "notice_base_url", d.notice_base_url),
        notice_ttl_s=s.integer("notice_ttl_s", d.notice_ttl_s, lo=1),
        reservation_ttl_s=s.integer("reservation_ttl_s", d.reservation_ttl_s, lo=1),
        timezone=_timezone(s, d.timezone),
        state_dir=s.text("state_dir", d.state_dir) or d.state_dir,
        bidlog_path=_nullable_text(s, "bidlog_path", d.bidlog_path),
        max_body_bytes=s.integer("max_body_bytes", d.max_body_bytes, lo=1),
        max_imps=s.integer("max_imps", d.max_imps, lo=1),
        max_json_depth=s.integer("max_json_depth", d.max_json_depth, lo=2, hi=1000),
        max_decompressed_bytes=s.integer("max_decompressed_bytes", d.max_decompressed_bytes, lo=1),
        body_read_timeout_ms=s.integer("body_read_timeout_ms", d.body_read_timeout_ms, lo=1),
        header_read_timeout_ms=s.integer("header_read_timeout_ms", d.header_read_timeout_ms, lo=1),
        max_connections=s.integer("max_connections", d.max_connections, lo=1),
        bidlog_retention_days=s.integer("bidlog_retention_days", d.bidlog_retention_days, lo=1),
        tag_retention_days=s.integer("tag_retention_days", d.tag_retention_days, lo=1),
        malloc_tuning=s.flag("malloc_tuning", d.malloc_tuning),
        user_id_salt_env=_env_name(s, "user_id_salt_env", d.user_id_salt_env),
    )
    if server.tmax_margin_ms >= server.default_tmax_ms:
        s.add(
            "tmax_margin_ms",
            f"must be < default_tmax_ms ({server.default_tmax_ms}), got {server.tmax_margin_ms}",
        )
    if server.max_decompressed_bytes < server.max_body_bytes:
        s.add(
            "max_decompressed_bytes",
            f"must be >= max_body_bytes ({server.max_body_bytes}), "
            f"got {server.max_decompressed_bytes}",
        )
    if server.admin_port == server.port:
        s.add(
            "admin_port", f"must differ from port (use 0 to share the bid port), got {server.port}"
        )
    return _resolve_secrets(server, environ)


def _resolve_secrets(server: ServerSettings, environ: Mapping[str, str]) -> ServerSettings:
    """Secrets come from the env vars the file names; unset or empty leaves None."""
    return dataclasses.replace(
        server,
        admin_token=environ.get(server.admin_token_env) or None,
        notice_secret=environ.get(server.notice_secret_env) or None,
        user_id_salt=environ.get(server.user_id_salt_env) or None,
    )


def _env_name(s: Section, key: str, default: str) -> str:
    name = s.text(key, default) or default
    if not _ENV_NAME_RE.match(name):
        s.add(key, f"must be an environment variable name like RTB_ADMIN_TOKEN, got {name!r}")
    return name


def _url(s: Section, key: str, default: str) -> str:
    url = s.text(key, default) or default
    if not url.lower().startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        s.add(key, f"must be a web address starting with http:// or https://, got {describe(url)}")
    return url


def _timezone(s: Section, default: str) -> str:
    name = s.text("timezone", default) or default
    try:
        zoneinfo.ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ' (use a name like "Europe/Paris")'
        s.add("timezone", f"unknown time zone {describe(name)}{hint}")
    return name


def _nullable_text(s: Section, key: str, default: str | None) -> str | None:
    """Text, or None when the file writes ``key: null`` explicitly."""
    if key in s.data and s.data[key] is None:
        return None
    return s.text(key, default)


def _build_model(s: Section | None) -> ModelSettings:
    d = ModelSettings()
    if s is None:
        return d
    return ModelSettings(
        path=_nullable_text(s, "path", d.path),
        build_if_missing=s.flag("build_if_missing", d.build_if_missing),
        predictor=_predictor(s, d.predictor),
    )


PREDICTORS = ("booster", "compiled", "auto")


def _predictor(s: Section, default: str) -> str:
    value = s.text("predictor", default) or default
    if value not in PREDICTORS:
        s.add("predictor", f"expected one of {', '.join(PREDICTORS)}, got {value!r}")
        return default
    return value


def _build_backend(s: Section | None) -> BackendSettings:
    d = BackendSettings()
    if s is None:
        return d
    backend = BackendSettings(
        kind=s.choice("kind", BackendKind, d.kind),
        redis_url=s.text("redis_url", d.redis_url) or d.redis_url,
        key_prefix=s.text("key_prefix", d.key_prefix) or d.key_prefix,
        node_id=s.text("node_id", d.node_id) or d.node_id,
        lease_fraction=s.number("lease_fraction", d.lease_fraction, gt=0),
        lease_ttl_s=s.integer("lease_ttl_s", d.lease_ttl_s, lo=1),
        sync_interval_s=s.number("sync_interval_s", d.sync_interval_s, gt=0),
        dedupe_ttl_s=s.integer("dedupe_ttl_s", d.dedupe_ttl_s, lo=1),
        cache_ttl_s=s.integer("cache_ttl_s", d.cache_ttl_s, lo=1),
    )
    if backend.lease_fraction > 1:
        s.add("lease_fraction", f"must be <= 1, got {backend.lease_fraction}")
    if backend.sync_interval_s * 2 > backend.lease_ttl_s:
        s.add(
            "sync_interval_s",
            f"must be at most half of lease_ttl_s ({backend.lease_ttl_s}), "
            f"got {backend.sync_interval_s}",
        )
    if not backend.redis_url.startswith(("redis://", "rediss://", "unix://")):
        s.add(
            "redis_url",
            f"must start with redis://, rediss:// or unix://, got {backend.redis_url!r}",
        )
    return backend


def _build_campaigns(root: Section, optimizer: OptimizerSettings) -> tuple[Campaign, ...]:
    if not root.require("campaigns"):
        return ()
    campaigns: list[Campaign] = []
    id_to_path: dict[str, str] = {}
    items = list(root.items("campaigns"))
    if isinstance(root.data["campaigns"], list) and not items:
        root.add("campaigns", "must list at least one campaign")
    for path, item in items:
        s = Section.of(item, path, CAMPAIGN_KEYS, root.problems)
        if s is None:
            continue
        campaign = _build_campaign(s, optimizer)
        if campaign.id in id_to_path:
            s.add(
                "id",
                f'duplicate campaign id "{campaign.id}", also used by {id_to_path[campaign.id]}',
            )
        elif campaign.id:
            id_to_path[campaign.id] = path
        campaigns.append(campaign)
    return tuple(campaigns)


def _build_campaign(s: Section, optimizer: OptimizerSettings) -> Campaign:
    # read in the file's usual key order, so problems are listed top to bottom
    campaign_id = s.text("id", "", required=True) or ""
    name = s.text("name", "") or ""
    enabled = s.flag("enabled", True)
    domain = _domain(s)
    categories = s.texts("iab_categories")
    budget = _build_budget(s)
    max_bid_micros = _cpm_micros(s, "max_bid_cpm", required=True)
    strategy = _build_strategy(s)
    pacing = s.choice("pacing", PacingMode, PacingMode.EVEN)
    pacing_curve = read_pacing_curve(s, pacing)
    charge_on = s.choice("charge_on", ChargeOn, ChargeOn.WIN)
    frequency_cap = _build_frequency_cap(s.section("frequency_cap", FREQUENCY_CAP_KEYS))
    flight = _build_flight(s.section("flight", FLIGHT_KEYS))
    hours = _build_hours(s)
    targeting = build_targeting(s.section("targeting", TARGETING_KEYS))
    audience = _build_audience(s.section("audience", AUDIENCE_KEYS))
    seat = s.text("seat")
    creatives = build_creatives(s, targeting, default_adomain=domain, default_cat=categories)
    settings = build_optimizer(s.section("optimizer", OPTIMIZER_KEYS), optimizer)
    return Campaign(
        id=campaign_id,
        advertiser_domain=domain,
        budget=budget,
        max_bid_micros=max_bid_micros,
        creatives=creatives,
        name=name,
        iab_categories=categories,
        strategy=strategy,
        pacing=pacing,
        pacing_curve=pacing_curve,
        charge_on=charge_on,
        frequency_cap=frequency_cap,
        flight=flight,
        hours=hours,
        targeting=targeting,
        audience=audience,
        seat=seat,
        enabled=enabled,
        optimizer=settings,
    )


def _domain(s: Section) -> str:
    domain = (s.text("advertiser_domain", "", required=True) or "").lower()
    if domain and not _DOMAIN_RE.match(domain):
        s.add(
            "advertiser_domain", f"must be a bare domain like example.com, got {describe(domain)}"
        )
    return domain


def _cpm_micros(s: Section, key: str, *, required: bool = False) -> int:
    cpm = s.number(key, 0.0, gt=0, required=required)
    if 0 < cpm < MIN_CPM:
        s.add(key, f"must be >= {MIN_CPM} (one micro per impression), got {cpm!r}")
    return cpm_to_micros(cpm)


def _build_budget(campaign: Section) -> Budget:
    if not campaign.require("budget"):
        return Budget(0, 0)
    s = Section.of(campaign.data["budget"], campaign.at("budget"), BUDGET_KEYS, campaign.problems)
    if s is None:
        return Budget(0, 0)
    total = s.number("total", 0.0, gt=0, required=True)
    daily = s.number("daily", total, gt=0)
    if total > 0 and daily > total:
        s.add("daily", f"must be <= budget.total ({total:g}), got {daily:g}")
    return Budget(total_micros=units_to_micros(total), daily_micros=units_to_micros(daily))


def _build_strategy(campaign: Section) -> BidStrategy:
    if not campaign.require("bid_strategy"):
        return BidStrategy()
    path = campaign.at("bid_strategy")
    s = Section.of(campaign.data["bid_strategy"], path, STRATEGY_KEYS, campaign.problems)
    if s is None:
        return BidStrategy()
    d = BidStrategy()
    kind = s.choice("type", BidStrategyKind, d.kind, required=True)
    for other_kind, key in STRATEGY_AMOUNT_KEY.items():
        if s.has(key) and other_kind is not kind and s.has("type"):
            s.add(key, f"only used when type is {other_kind.value}; remove it or change type")
    amount_key = STRATEGY_AMOUNT_KEY[kind]
    if s.has("type") and not s.has(amount_key):
        s.add(amount_key, f"is required when type is {kind.value}")
    amount = s.number(amount_key, 0.0, gt=0) if kind is not BidStrategyKind.FIXED_CPM else 0.0
    return BidStrategy(
        kind=kind,
        fixed_cpm_micros=_cpm_micros(s, "cpm") if kind is BidStrategyKind.FIXED_CPM else 0,
        value_per_click_micros=units_to_micros(amount) if amount_key == "value_per_click" else 0,
        target_cpc_micros=units_to_micros(amount) if amount_key == "target_cpc" else 0,
        target_cpa_micros=units_to_micros(amount) if amount_key == "target_cpa" else 0,
        prior_ctr=s.number("prior_ctr", d.prior_ctr, gt=0, lt=1),
        prior_cvr=s.number("prior_cvr", d.prior_cvr, gt=0, lt=1),
    )


def _build_frequency_cap(s: Section | None) -> FrequencyCap | None:
    if s is None:
        return None
    impressions = (
        s.integer("impressions", 1, lo=1, hi=MAX_CAP_IMPRESSIONS) if s.require("impressions") else 1
    )
    window_s = 1
    if s.require("window"):
        window_s = read_duration_s(s.data["window"], s.at("window"), s.problems) or 1
    return FrequencyCap(max_impressions=impressions, window_s=window_s)


def _build_flight(s: Section | None) -> Flight:
    if s is None:
        return Flight()
    start = read_instant(s.data["start"], s.at("start"), s.problems) if s.has("start") else None
    end = None
    if s.has("end"):
        end = read_instant(s.data["end"], s.at("end"), s.problems, whole_day=True)
    if start is not None and end is not None and end <= start:
        s.add(
            "end",
            f"must be after flight.start ({describe(s.data['start'])}), "
            f"got {describe(s.data['end'])}",
        )
    return Flight(start=start, end=end)


def _build_hours(s: Section) -> frozenset[int]:
    if not s.has("hours"):
        return frozenset()
    value = s.data["hours"]
    items = s.items("hours") if isinstance(value, list) else iter([(s.at("hours"), value)])
    hours: set[int] = set()
    for path, item in items:
        hours |= read_hours(item, path, s.problems)
    return frozenset(hours)


def _build_audience(s: Section | None) -> Audience:
    if s is None:
        return Audience()
    return Audience(
        any_of=frozenset(s.texts("any")),
        all_of=frozenset(s.texts("all")),
        none_of=frozenset(s.texts("none")),
    )
