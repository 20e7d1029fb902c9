"""`rtb check-config`: OK line and exit 0, or every problem at once and exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtb.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[3]

BROKEN_LINES = [
    'server.wokers: unknown key; did you mean "workers"?',
    "server.port: must be between 1 and 65535, got 70000",
    "server.notice_base_url: must be a web address starting with http:// or https://, "
    'got "ftp://notices.example.com"',
    'server.timezone: unknown time zone "Europe/Pari"; did you mean "Europe/Paris"?',
    "currency_rates.JPY: must be > 0, got 0",
    "campaigns[0].budget.daily: must be <= budget.total (5000), got 6000",
    "campaigns[0].bid_strategy.value_per_click: is required when type is value_per_click",
    "campaigns[0].bid_strategy.prior_ctr: must be > 0 and < 1, got 1.5",
    "campaigns[0].frequency_cap.window: must be a duration like 90s, 30m, 24h, 7d or seconds, "
    'got "3 weeks"',
    "campaigns[0].flight.end: must be after flight.start (2026-06-01), got 2026-05-01",
    "campaigns[0].hours[1]: must be an hour between 0 and 23, got 25",
    "campaigns[0].targeting.countries[1]: must be text, got false (YAML reads unquoted "
    "yes/no/on/off as true/false: put the text in quotes)",
    "campaigns[0].targeting.device_types[1]: must be an OpenRTB device type 1-7 or one of "
    'phone, tablet, mobile, desktop, ctv, set_top_box, got "fridge"',
    "campaigns[0].targeting.sizes[1]: must be a size written WIDTHxHEIGHT like 300x250, "
    'got "300by250"',
    "campaigns[0].targeting.media[1]: must be one of banner, video, native, audio, "
    'got "vidoe"; did you mean "video"?',
    "campaigns[0].creatives[0].landing_url: must start with http:// or https://, "
    'got "ftp://example-motors.com"',
    'campaigns[0].creatives[1].id: duplicate creative id "c1", also used by '
    "campaigns[0].creatives[0]",
    "campaigns[0].creatives[1].size: is required for banner creatives (like size: 300x250)",
    "campaigns[0].creatives[2].markup: video creatives take their VAST XML in vast:, not markup:",
    "campaigns[0].creatives[2].vast: is required for video creatives (the VAST XML)",
    'campaigns[0].creatives[2].format: "video" is not in targeting.media (banner), '
    "so this creative could never serve",
    'campaigns[1].budjet: unknown key; did you mean "budget"?',
    "campaigns[1].advertiser_domain: must be a bare domain like example.com, "
    'got "https://example-motors.com/"',
    "campaigns[1].budget.daily: must be > 0, got -50",
    'campaigns[1].max_bid_cpm: must be a number, got "four"',
    "campaigns[1].bid_strategy.target_cpc: only used when type is target_cpc; "
    "remove it or change type",
    "campaigns[1].bid_strategy.target_cpa: is required when type is target_cpa",
    'campaigns[1].pacing: must be one of even, asap, got "fast"',
    "campaigns[1].creatives: must list at least one creative",
    'campaigns[1].id: duplicate campaign id "spring-display", also used by campaigns[0]',
    "campaigns[2].id: is required",
    'campaigns[2].creatives[0].format: "native" is not in targeting.media (banner), '
    "so this creative could never serve",
]


def test_check_config_broken_file_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-config", str(FIXTURES / "broken-many-mistakes.yaml")])

    assert code == 1
    assert capsys.readouterr().out.splitlines() == BROKEN_LINES


def test_check_config_example_file_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "config.yaml")

    code = main(["check-config", path])

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [f"{path}: OK (5 campaigns)"]


def test_check_config_valid_fixture_counts_one_campaign(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(FIXTURES / "minimal.yaml")

    assert main(["check-config", path]) == 0
    assert capsys.readouterr().out == f"{path}: OK (1 campaign)\n"


def test_check_config_missing_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "nope.yaml")

    assert main(["check-config", path]) == 1
    assert capsys.readouterr().out == f"{path}: cannot be read: No such file or directory\n"


def test_check_config_yaml_syntax_error_names_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("campaigns:\n  - id: a\n   budget: 1\n")

    assert main(["check-config", str(path)]) == 1
    assert capsys.readouterr().out == (
        f"{path}: line 3, column 4: not valid YAML: expected <block end>, but found "
        "'<block mapping start>' (check the indentation and quotes on this line and the one "
        "before)\n"
    )
