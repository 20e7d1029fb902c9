"""Helpers to build a bidder app on a config file with temporary state and a fake clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from bidder.app import build_app
from bidder.config.load import load_config
from bidder.config.model import Config
from bidder.metrics import Metrics
from bidder.runtime import Runtime, build_runtime
from bidder.scoring import PriorScorer, Scorer

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_CONFIG = ROOT / "tests" / "golden" / "openrtb" / "config.yaml"
EXAMPLE_CONFIG = ROOT / "config.yaml"
START = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC).timestamp()


class FakeClock:
    def __init__(self, start_s: float = START) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def with_state(config: Config, state_dir: Path, **server: object) -> Config:
    settings = dataclasses.replace(
        config.server, state_dir=str(state_dir), bidlog_path=None, **server
    )
    return dataclasses.replace(config, server=settings)


def make_runtime(
    config_path: Path,
    state_dir: Path,
    clock: FakeClock,
    scorer: Scorer | None = None,
    **server: object,
) -> Runtime:
    config = with_state(load_config(config_path), state_dir, **server)
    return build_runtime(
        config,
        scorer or PriorScorer(),
        clock=clock,
        config_path=config_path,
        metrics=Metrics(CollectorRegistry()),
    )


def make_app(runtime: Runtime) -> web.Application:
    return build_app(runtime, with_admin=True)
