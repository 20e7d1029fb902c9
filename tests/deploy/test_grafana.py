"""The Grafana dashboard queries only metrics the bidder really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bidder.metrics import Metrics
from bidder.pixel import pixel_metrics
from tests.bidder.serving import EXAMPLE_CONFIG, FakeClock, make_app, make_runtime

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "bidder.json"
_METRIC = re.compile(r"(?<![A-Za-z0-9_:])((?:bidder|optimizer)_[A-Za-z0-9_:]*)")
# Sample names a family of each type exposes (prometheus text format).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "untyped": ("",),
}


def query_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label values in quotes are ignored)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_METRIC.findall(without_strings))


def exported_series(exposition: str) -> set[str]:
    """Every series name the exposition's families allow, by each family's type."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (outcome) (rate(bidder_requests_total{exchange="bidder_x"}[5m]))',
         {"bidder_requests_total"}),
        ("histogram_quantile(0.99, sum by (le) (rate(bidder_request_latency_seconds_bucket[5m])))",
         {"bidder_request_latency_seconds_bucket"}),
        ("bidder_a / bidder_b_total", {"bidder_a", "bidder_b_total"}),
        ("up", set()),
    ],
)  # fmt: skip
def test_grafana_query_metrics_extracts_names(expr: str, names: set[str]) -> None:
    assert query_metrics(expr) == names


def test_grafana_exported_series_follow_suffix_rules() -> None:
    exposition = (
        "# TYPE bidder_x_total counter\nbidder_x_total 1\n"
        "# TYPE bidder_h_seconds histogram\n"
        'bidder_h_seconds_bucket{le="+Inf"} 1\nbidder_h_seconds_sum 1\nbidder_h_seconds_count 1\n'
        "# TYPE bidder_g gauge\n"
    )

    names = exported_series(exposition)

    assert {
        "bidder_x_total",
        "bidder_h_seconds_bucket",
        "bidder_h_seconds_count",
        "bidder_g",
    } <= names
    assert "bidder_x" not in names
    assert "bidder_h_seconds" not in names


@pytest.fixture
async def exposition(aiohttp_client: Any, tmp_path: Path) -> str:
    """The /metrics of a served app after one bid request (label children populated)."""
    runtime = make_runtime(EXAMPLE_CONFIG, tmp_path / "state", FakeClock())
    client: TestClient = await aiohttp_client(make_app(runtime))  # type: ignore[type-arg]
    request = {"id": "g1", "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
               "site": {"domain": "news.example"}, "device": {"ua": "Mozilla/5.0"}}  # fmt: skip
    await client.post("/bid", json=request)
    resp = await client.get("/metrics")
    assert resp.status == 200
    return await resp.text()


def test_grafana_dashboard_has_the_required_panels() -> None:
    titles = " | ".join(title.lower() for title, _ in dashboard_exprs())
    for word in ("outcome", "no-bids", "p99", "tmax", "spend", "remaining", "pacing", "wins",
                 "notice errors", "reloads", "model"):  # fmt: skip
        assert word in titles, word


async def test_grafana_every_query_names_an_exported_metric(exposition: str) -> None:
    fresh = Metrics(CollectorRegistry())
    pixel_metrics(fresh.registry)
    exported = exported_series(exposition) | exported_series(
        generate_latest(fresh.registry).decode()
    )
    problems = []
    for title, expr in dashboard_exprs():
        names = query_metrics(expr)
        if not names:
            problems.append(f"{title}: no bidder metric in {expr!r}")
        problems.extend(f"{title}: {n} is not exported" for n in sorted(names - exported))
    assert problems == []
