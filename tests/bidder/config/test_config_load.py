"""parse_config / load_config / redacted: values, defaults, units, and every problem at once."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bidder.config.load import load_config, parse_config, redacted
from bidder.config.model import (
    BidStrategyKind,
    ChargeOn,
    Config,
    PacingMode,
    ServerSettings,
    Size,
)
from bidder.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]

BASE: dict[str, Any] = {
    "campaigns": [
        {
            "id": "c0",
            "advertiser_domain": "example-shop.com",
            "budget": {"total": 1000, "daily": 100},
            "max_bid_cpm": 4.0,
            "bid_strategy": {"type": "value_per_click", "value_per_click": 1.5},
            "targeting": {"media": ["banner", "video"]},
            "creatives": [
                {
                    "id": "b1",
                    "format": "banner",
                    "size": "300x250",
                    "markup": "<img src='https://cdn.example-shop.com/a.png'>",
                    "landing_url": "https://example-shop.com/",
                },
                {
                    "id": "v1",
                    "format": "video",
                    "vast": "<VAST version='3.0'></VAST>",
                    "mimes": ["video/mp4"],
                    "duration_s": 15,
                    "landing_url": "https://example-shop.com/",
                },
            ],
        }
    ]
}


def with_value(path: str, value: Any) -> dict[str, Any]:
    """BASE with one value set (or deleted when value is DELETE) at a dotted path."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


DELETE = object()


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(yaml.safe_dump(data), environ={})
    return info.value.lines()


def test_parse_config_base_is_valid() -> None:
    config = parse_config(yaml.safe_dump(BASE), environ={})

    assert [c.id for c in config.campaigns] == ["c0"]


@pytest.mark.parametrize(
    ("path", "value", "line"),
    [
        ("server.port", 0, "server.port: must be between 1 and 65535, got 0"),
        ("server.port", "80", 'server.port: must be a whole number, got "80"'),
        ("server.workers", True, "server.workers: must be a whole number, got true"),
        ("server.timezone", "Mars/Base", 'server.timezone: unknown time zone "Mars/Base" '
         '(use a name like "Europe/Paris")'),
        ("server.admin_token_env", "MY TOKEN", "server.admin_token_env: must be an environment "
         "variable name like RTB_ADMIN_TOKEN, got 'MY TOKEN'"),
        ("server.tmax_margin_ms", 100, "server.tmax_margin_ms: must be < default_tmax_ms (100), "
         "got 100"),
        ("server", [1], "server: must be a section of key: value fields, got a list"),
        ("server.admin_port", 8080, "server.admin_port: must differ from port (use 0 to share "
         "the bid port), got 8080"),
        ("currency", "dollars", "currency: must be a 3-letter currency code like USD, "
         "got 'DOLLARS'"),
        ("currency_rates", {"EUR": -1}, "currency_rates.EUR: must be > 0, got -1"),
        ("currency_rates", {"USD": 2}, "currency_rates.USD: the rate of USD itself is 1, got 2.0"),
        ("currency_rates", {"euro": 1}, "currency_rates.euro: must be a 3-letter currency code "
         "like EUR"),
        ("model.build_if_missing", "yes please", "model.build_if_missing: must be true or false, "
         'got "yes please"'),
        ("campagins", [], 'campagins: unknown key; did you mean "campaigns"?'),
        ("campaigns", [], "campaigns: must list at least one campaign"),
        ("campaigns", {"id": "x"}, "campaigns: must be a list, got a section of key: value fields"),
        ("campaigns.0", "c0", 'campaigns[0]: must be a section of key: value fields, got "c0"'),
        ("campaigns.0.id", 7, "campaigns[0].id: must be text, got 7"),
        ("campaigns.0.budget", DELETE, "campaigns[0].budget: is required"),
        ("campaigns.0.budget.total", 0, "campaigns[0].budget.total: must be > 0, got 0"),
        ("campaigns.0.budget.daily", -50, "campaigns[0].budget.daily: must be > 0, got -50"),
        ("campaigns.0.budget.daily", 2000, "campaigns[0].budget.daily: must be <= budget.total "
         "(1000), got 2000"),
        ("campaigns.0.max_bid_cpm", 0, "campaigns[0].max_bid_cpm: must be > 0, got 0"),
        ("campaigns.0.max_bid_cpm", 0.0001, "campaigns[0].max_bid_cpm: must be >= 0.001 "
         "(one micro per impression), got 0.0001"),
        ("campaigns.0.max_bid_cpm", float("inf"), "campaigns[0].max_bid_cpm: must be a finite "
         "number, got inf"),
        ("campaigns.0.bid_strategy.type", "value_per_clik", "campaigns[0].bid_strategy.type: must "
         'be one of fixed_cpm, value_per_click, target_cpc, target_cpa, got "value_per_clik"; '
         'did you mean "value_per_click"?'),
        ("campaigns.0.bid_strategy", {"type": "fixed_cpm"}, "campaigns[0].bid_strategy.cpm: "
         "is required when type is fixed_cpm"),
        ("campaigns.0.bid_strategy.prior_ctr", 0, "campaigns[0].bid_strategy.prior_ctr: "
         "must be > 0 and < 1, got 0"),
        ("campaigns.0.bid_strategy.prior_cvr", 1, "campaigns[0].bid_strategy.prior_cvr: "
         "must be > 0 and < 1, got 1"),
        ("campaigns.0.charge_on", "click", 'campaigns[0].charge_on: must be one of win, bill, '
         'got "click"'),
        ("campaigns.0.frequency_cap", {"impressions": 0, "window": "1h"},
         "campaigns[0].frequency_cap.impressions: must be between 1 and 16, got 0"),
        ("campaigns.0.frequency_cap", {"impressions": 2}, "campaigns[0].frequency_cap.window: "
         "is required"),
        ("campaigns.0.frequency_cap.window", "0s", 'campaigns[0].frequency_cap.window: must be '
         '> 0, got "0s"'),
        ("campaigns.0.flight", {"start": "2026-03-01", "end": "2026-02-28"},
         'campaigns[0].flight.end: must be after flight.start ("2026-03-01"), got "2026-02-28"'),
        ("campaigns.0.flight.start", "next monday", 'campaigns[0].flight.start: must be a date '
         'like 2026-01-31 or a date and time like 2026-01-31T08:00:00Z, got "next monday"'),
        ("campaigns.0.hours", ["23-8"], "campaigns[0].hours[0]: range must go from early to late "
         'hour (for overnight write two ranges like 22-23 and 0-5), got "23-8"'),
        ("campaigns.0.hours", ["8-24"], 'campaigns[0].hours[0]: hours must be between 0 and 23, '
         'got "8-24"'),
        ("campaigns.0.targeting.sizes", ["300by250"], "campaigns[0].targeting.sizes[0]: must be a "
         'size written WIDTHxHEIGHT like 300x250, got "300by250"'),
        ("campaigns.0.targeting.sizes", ["0x250"], "campaigns[0].targeting.sizes[0]: width and "
         'height must be > 0, got "0x250"'),
        ("campaigns.0.targeting.media", ["banner", "video", "print"],
         "campaigns[0].targeting.media[2]: must be one of banner, video, native, audio, "
         'got "print"'),
        ("campaigns.0.targeting.inventory", ["web"], "campaigns[0].targeting.inventory[0]: must "
         'be one of site, app, got "web"'),
        ("campaigns.0.targeting.countries", ["United States"], "campaigns[0].targeting.countries[0]"
         ': must be a country code like USA or US, got "UNITED STATES"'),
        ("campaigns.0.targeting.device_types", [9], "campaigns[0].targeting.device_types[0]: "
         "must be an OpenRTB device type 1-7 or one of phone, tablet, mobile, desktop, ctv, "
         "set_top_box, got 9"),
        ("campaigns.0.targeting.deals_only", True, "campaigns[0].targeting.deals_only: is true "
         "but no deals are listed, so the campaign could never bid"),
        ("campaigns.0.targeting.apps", {"alow": ["x"]}, 'campaigns[0].targeting.apps.alow: '
         'unknown key; did you mean "allow"?'),
        ("campaigns.0.targeting.sizes", ["728x90"], "campaigns[0].creatives[0].size: 300x250 is "
         "not in targeting.sizes (728x90), so this creative could never serve"),
        ("campaigns.0.targeting.media", ["banner"], 'campaigns[0].creatives[1].format: "video" is '
         "not in targeting.media (banner), so this creative could never serve"),
        ("campaigns.0.creatives", DELETE, "campaigns[0].creatives: is required"),
        ("campaigns.0.creatives.1.id", "b1", 'campaigns[0].creatives[1].id: duplicate creative id '
         '"b1", also used by campaigns[0].creatives[0]'),
        ("campaigns.0.creatives.0.format", "banners", 'campaigns[0].creatives[0].format: must be '
         'one of banner, video, native, audio, got "banners"; did you mean "banner"?'),
        ("campaigns.0.creatives.0.markup", DELETE, "campaigns[0].creatives[0].markup: is required "
         "for banner creatives (the ad HTML)"),
        ("campaigns.0.creatives.0.size", DELETE, "campaigns[0].creatives[0].size: is required "
         "for banner creatives (like size: 300x250)"),
        ("campaigns.0.creatives.0.w", 300, "campaigns[0].creatives[0].size: give either size or "
         "w and h, not both"),
        ("campaigns.0.creatives.0.vast", "<VAST/>", "campaigns[0].creatives[0].vast: is only used "
         "by video and audio creatives; banner creatives use markup:"),
        ("campaigns.0.creatives.0.mimes", ["video/mp4"], "campaigns[0].creatives[0].mimes: is only "
         "used by video and audio creatives"),
        ("campaigns.0.creatives.0.landing_url", "example-shop.com", "campaigns[0].creatives[0]."
         'landing_url: must start with http:// or https://, got "example-shop.com"'),
        ("campaigns.0.creatives.0.attr", [18], "campaigns[0].creatives[0].attr[0]: must be "
         "between 1 and 17, got 18"),
        ("campaigns.0.creatives.1.vast", "<html></html>", 'campaigns[0].creatives[1].vast: must '
         'be VAST XML (<VAST version=...>...</VAST>), got "<html></html>"'),
        ("campaigns.0.creatives.1.mimes", ["mp4"], 'campaigns[0].creatives[1].mimes[0]: must be a '
         'MIME type like video/mp4, got "mp4"'),
        ("campaigns.0.creatives.1.duration_s", 0, "campaigns[0].creatives[1].duration_s: must be "
         ">= 1, got 0"),
    ],
)  # fmt: skip
def test_parse_config_invalid_value_names_path_rule_and_value(
    path: str, value: Any, line: str
) -> None:
    assert line in problems_of(with_value(path, value))


def test_parse_config_native_markup_must_be_json_object() -> None:
    data = with_value("campaigns.0.targeting.media", ["banner", "video", "native"])
    data["campaigns"][0]["creatives"].append(
        {"id": "n1", "format": "native", "markup": "<div>", "landing_url": "https://a.example"}
    )

    assert problems_of(data) == [
        'campaigns[0].creatives[2].markup: must be the native response as a JSON object, got "<div>"'
    ]


def test_parse_config_many_problems_all_reported_at_once() -> None:
    data = with_value("server.port", -1)
    data["campaigns"][0]["budget"]["daily"] = -5
    data["campaigns"].append(copy.deepcopy(data["campaigns"][0]))

    assert problems_of(data) == [
        "server.port: must be between 1 and 65535, got -1",
        "campaigns[0].budget.daily: must be > 0, got -5",
        "campaigns[1].budget.daily: must be > 0, got -5",
        'campaigns[1].id: duplicate campaign id "c0", also used by campaigns[0]',
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", "<string>: the file is empty; it needs at least campaigns:"),
        ("- a\n- b\n", "<string>: the file is a list, not sections of key: value fields; "
         "it needs at least campaigns:"),
        ("a: [1, 2\n", "<string>: line 2, column 1: not valid YAML: expected ',' or ']', but got "
         "'<stream end>' (check the indentation and quotes on this line and the one before)"),
        ("a: 1\n---\nb: 2\n", "<string>: line 2, column 1: not valid YAML: but found another "
         "document (check the indentation and quotes on this line and the one before)"),
        ("a: !!python/object:os.system x\n", "<string>: line 1, column 4: not valid YAML: could "
         "not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'"),
        ("a: 2026-02-30\n", "<string>: not valid YAML: day is out of range for month"),
        ("a: \x1f\n", "<string>: not valid YAML: unacceptable character #x001f: special "
         "characters are not allowed"),
        ("server: {port: 1}\nserver: {port: 2}\ncampaigns: []\n", '<string>: line 2: key '
         '"server" is written twice in the same section'),
    ],
)  # fmt: skip
def test_parse_config_unreadable_yaml_is_one_problem(text: str, line: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, environ={})

    assert info.value.lines() == [line]


def test_load_config_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"campaigns: [caf\xe9]\n")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert info.value.lines() == [f"{path}: is not UTF-8 text: invalid continuation byte"]


def test_parse_config_converts_money_to_micros() -> None:
    config = parse_config(yaml.safe_dump(BASE), environ={})
    campaign = config.campaigns[0]

    assert campaign.budget.total_micros == 1_000_000_000
    assert campaign.budget.daily_micros == 100_000_000
    assert campaign.max_bid_micros == 4000  # CPM 4.00 = 4000 micros per impression
    assert campaign.strategy.value_per_click_micros == 1_500_000


def test_parse_config_fills_defaults_from_the_model() -> None:
    config = parse_config(yaml.safe_dump(BASE), environ={})
    campaign = config.campaigns[0]

    assert config.server.port == 8080
    assert config.currency == "USD"
    assert config.currency_rates == {"USD": 1.0}
    assert campaign.pacing is PacingMode.EVEN
    assert campaign.charge_on is ChargeOn.WIN
    assert campaign.frequency_cap is None
    assert campaign.creatives[0].adomain == ("example-shop.com",)
    assert campaign.strategy.prior_ctr == 0.001


def test_parse_config_daily_budget_defaults_to_total() -> None:
    config = parse_config(yaml.safe_dump(with_value("campaigns.0.budget.daily", DELETE)))

    assert config.campaigns[0].budget.daily_micros == config.campaigns[0].budget.total_micros


def test_parse_config_reads_targeting_forms() -> None:
    data = with_value("campaigns.0.hours", ["8-10", 22, "0-1"])
    campaign = data["campaigns"][0]
    campaign["frequency_cap"] = {"impressions": 3, "window": "7d"}
    campaign["flight"] = {"start": dt.date(2026, 1, 1), "end": "2026-01-31"}
    campaign["targeting"].update(
        countries=["usa", "GB"], device_types=["phone", "ctv", 2], os=["iOS"], sizes=["300X250"]
    )

    parsed = parse_config(yaml.safe_dump(data), environ={}).campaigns[0]

    assert parsed.hours == frozenset({0, 1, 8, 9, 10, 22})
    assert parsed.frequency_cap is not None
    assert parsed.frequency_cap.window_s == 7 * 86400
    assert parsed.flight.start == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert parsed.flight.end == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)  # end date is inclusive
    assert parsed.targeting.countries == frozenset({"USA", "GB"})
    assert parsed.targeting.device_types == frozenset({4, 3, 2})
    assert parsed.targeting.os == frozenset({"ios"})
    assert parsed.targeting.sizes == frozenset({Size(300, 250)})


def test_parse_config_flight_datetime_with_offset_is_utc() -> None:
    data = with_value("campaigns.0.flight", {"start": "2026-01-01T09:00:00+01:00"})

    flight = parse_config(yaml.safe_dump(data), environ={}).campaigns[0].flight

    assert flight.start == dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)


def test_parse_config_resolves_secrets_from_environ() -> None:
    data = with_value("server.admin_token_env", "MY_ADMIN")
    environ = {"MY_ADMIN": "s3cret", "RTB_NOTICE_SECRET": "n", "RTB_USER_SALT": ""}

    server = parse_config(yaml.safe_dump(data), environ=environ).server

    assert server.admin_token == "s3cret"
    assert server.notice_secret == "n"
    assert server.user_id_salt is None  # empty counts as unset


def test_parse_config_reads_every_server_setting() -> None:
    defaults = dataclasses.asdict(ServerSettings())
    changed = {
        "host": "0.0.0.0", "port": 9090, "workers": 2, "tmax_margin_ms": 5,
        "default_tmax_ms": 80, "admin_host": "10.0.0.1", "admin_port": 0,
        "admin_token_env": "A_TOKEN", "notice_secret_env": "N_SECRET",
        "notice_base_url": "https://bid.example.com", "notice_ttl_s": 60,
        "reservation_ttl_s": 30, "timezone": "Europe/Paris", "state_dir": "/var/rtb",
        "bidlog_path": None, "max_body_bytes": 1024, "max_imps": 3, "user_id_salt_env": "SALT",
        "max_json_depth": 8, "max_decompressed_bytes": 4096, "body_read_timeout_ms": 50,
        "header_read_timeout_ms": 60, "max_connections": 10, "bidlog_retention_days": 2,
        "tag_retention_days": 3, "malloc_tuning": False,
    }  # fmt: skip
    keys = {f.name for f in dataclasses.fields(ServerSettings) if f.repr}
    assert set(changed) == keys, "a new ServerSettings field needs a line here and in load.py"

    server = parse_config(yaml.safe_dump({**BASE, "server": changed}), environ={}).server

    for key, value in changed.items():
        assert getattr(server, key) == value != defaults[key], key


def test_parse_config_version_is_content_hash() -> None:
    text = yaml.safe_dump(BASE)

    first = parse_config(text, environ={}).version
    second = parse_config(text + "# comment\n", environ={}).version

    assert len(first) == 12
    assert first == parse_config(text, environ={}).version
    assert first != second


def test_redacted_masks_secrets_and_is_plain_data() -> None:
    config = parse_config(yaml.safe_dump(BASE), environ={"RTB_ADMIN_TOKEN": "s3cret"})

    data = redacted(config)

    server = data["server"]
    assert isinstance(server, dict)
    assert server["admin_token"] == "***"
    assert server["notice_secret"] is None
    assert "s3cret" not in repr(data)
    assert yaml.safe_dump(data)  # only plain types


def test_load_config_example_file_loads() -> None:
    config = load_config(ROOT / "config.yaml", environ={})

    assert isinstance(config, Config)
    kinds = {c.strategy.kind for c in config.campaigns}
    assert kinds == set(BidStrategyKind)
    assert {cr.format for c in config.campaigns for cr in c.creatives} == {
        "banner", "video", "native", "audio"
    }  # fmt: skip


def _mutations() -> st.SearchStrategy[Any]:
    leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(
        leaf,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=6), children, max_size=3)
        ),
        max_leaves=6,
    )


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


EXAMPLE = yaml.safe_load((ROOT / "config.yaml").read_text())
EXAMPLE_PATHS = _paths(EXAMPLE)


@settings(max_examples=60)
@given(st.sampled_from(EXAMPLE_PATHS), _mutations())
def test_parse_config_raises_only_config_error(path: tuple[Any, ...], value: Any) -> None:
    data = copy.deepcopy(EXAMPLE)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        parse_config(yaml.safe_dump(data), environ={})
    except ConfigError as exc:
        assert exc.problems
