"""campaigns[].pacing_curve: 24 hourly plan weights, every problem named by its YAML path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from bidder.config.load import parse_config
from bidder.errors import ConfigError
from tests.bidder.config.test_config_load import BASE

CURVE = [1.0] * 8 + [3.0] * 12 + [0.5] * 4


def with_campaign(**fields: Any) -> str:
    data = copy.deepcopy(BASE)
    data["campaigns"][0].update(fields)
    return yaml.safe_dump(data)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, environ={})
    return info.value.lines()


def test_config_pacing_curve_loads_as_24_floats() -> None:
    config = parse_config(with_campaign(pacing_curve=CURVE), environ={})

    assert config.campaigns[0].pacing_curve == tuple(float(w) for w in CURVE)


def test_config_pacing_curve_defaults_to_even() -> None:
    config = parse_config(with_campaign(), environ={})

    assert config.campaigns[0].pacing_curve == ()


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        (
            {"pacing_curve": [1.0] * 23},
            "campaigns[0].pacing_curve: must list 24 hourly weights (hours 0-23), got 23",
        ),
        (
            {"pacing_curve": [0.0] * 24},
            "campaigns[0].pacing_curve: must give at least one hour a weight > 0",
        ),
        (
            {"pacing_curve": [1.0] * 5 + [-1.0] + [1.0] * 18},
            "campaigns[0].pacing_curve[5]: must be >= 0, got -1.0",
        ),
        (
            {"pacing_curve": ["x"] + [1.0] * 23},
            'campaigns[0].pacing_curve[0]: must be a number, got "x"',
        ),
        ({"pacing_curve": 3}, "campaigns[0].pacing_curve: must be a list, got 3"),
        (
            {"pacing": "asap", "pacing_curve": CURVE},
            "campaigns[0].pacing_curve: applies only to pacing: even, got pacing: asap",
        ),
    ],
)
def test_config_pacing_curve_problem_names_path_rule_and_value(
    fields: dict[str, Any], line: str
) -> None:
    assert line in problems_of(with_campaign(**fields))
