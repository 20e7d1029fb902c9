"""Campaign report: a synthetic market replayed through the bidder, reported, checked against the logs."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from aiohttp.test_utils import TestClient

from bidder.config.load import load_config
from bidder.eventstore import EventKind, read_events
from bidder.metrics import Metrics
from bidder.pixel import PIXEL
from bidder.report import ReportWindow
from bidder.report.render import format_value
from bidder.runtime import build_runtime
from bidder.scoring import PriorScorer
from rtb import cmd_report
from simulator.ipinyou import market_rows
from simulator.synth import generate_market
from tests.bidder.serving import FakeClock, make_app

CONFIG = Path(__file__).resolve().parent / "report_config.yaml"
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
CAMPAIGN = "synth-1"
ADV = "synth-1.example"
USERS = 60  # synthetic rows are remapped onto this many users, so visitors repeat
_CLICK_HREF = re.compile(r'href="([^"]*/click\?[^"]*)"')


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url.replace("&amp;", "&"))


async def drive_market(client: TestClient, clock: FakeClock, log: Path) -> dict[str, Any]:  # type: ignore[type-arg]
    """Every market row as a bid request; win if our bid beats the market price, then clicks."""
    rng = np.random.default_rng(7)
    exposed: dict[str, float] = {}
    wins = 0
    for i, row in enumerate(market_rows(log)):
        clock.now_s = row.ts_s
        request = {**row.request, "user": {"id": f"user-{i % USERS}"}}
        resp = await client.post(f"/bid/{row.exchange}", json=request)
        if resp.status != 200:
            continue
        for seat in (await resp.json())["seatbid"]:
            for bid in seat["bid"]:
                won = bid["price"] * 1000 >= row.market_price_micros
                price = f"{row.market_price_micros / 1000:.6f}"
                url = bid["nurl"] if won else bid["lurl"]
                notice = await client.get(_path(url.replace("${AUCTION_PRICE}", price)))
                assert notice.status == 200, await notice.text()
                if not won:
                    continue
                wins += 1
                exposed.setdefault(request["user"]["id"], row.ts_s)
                if rng.random() < (row.true_ctr or 0.0) * 40:
                    href = _CLICK_HREF.search(bid["adm"])
                    assert href is not None
                    click = await client.get(_path(href.group(1)), allow_redirects=False)
                    assert click.status == 302
    return {"wins": wins, "exposed": exposed}


async def send_events(client: TestClient, clock: FakeClock, exposed: dict[str, float]) -> None:  # type: ignore[type-arg]
    """Visits and purchases after exposure, plus one purchase before it (not a conversion)."""
    signer = client.app[PIXEL].signer
    plan = []
    for k, (uid, first_s) in enumerate(sorted(exposed.items())):
        plan.append((first_s + 600, uid, "visit", ""))
        if k % 3 == 0:
            plan.append((first_s + 3600, uid, "purchase", f"{10 + k}.50"))
        if k == 1:
            plan.append((first_s - 600, uid, "purchase", "99"))
    for ts, uid, ev, value in sorted(plan):
        clock.now_s = ts
        params = {"adv": ADV, "ev": ev, "uid": uid, "value": value}
        resp = await client.get("/pixel", params={**params, "sig": signer.sign(params)})
        assert resp.status == 200


def expected_from_logs(bidlog: Path, events: Path, window: ReportWindow) -> dict[str, Any]:
    """The headline numbers, computed straight from the two logs."""
    records = [orjson.loads(line) for line in bidlog.read_bytes().splitlines() if line.strip()]
    bid_to_user = {
        b["id"]: r["request"]["user"]["id"][2:]
        for r in records
        if r["type"] == "decision"
        for b in r["bids"]
        if b["campaign"] == CAMPAIGN
    }
    notices = [
        r for r in records
        if r["type"] == "notice" and r["campaign"] == CAMPAIGN and window.contains(r["ts"])
    ]  # fmt: skip
    wins = [r for r in notices if r["kind"] == "win" and r["result"] == "charged"]
    first_seen: dict[str, float] = {}
    for r in wins:
        user = bid_to_user[r["bid"]]
        first_seen[user] = min(r["ts"], first_seen.get(user, r["ts"]))
    purchases = [
        e for e in read_events(events)
        if e.kind is EventKind.PURCHASE and e.user_hash in first_seen
        and e.ts >= first_seen[e.user_hash] and window.contains(e.ts)
    ]  # fmt: skip
    return {
        "impressions": len(wins),
        "spend_micros": sum(r["price_micros"] for r in wins),
        "clicks": sum(1 for r in notices if r["kind"] == "click" and r["result"] == "click"),
        "unique_visitors": len(first_seen),
        "conversions": len(purchases),
        "converters": len({e.user_hash for e in purchases}),
        "bids": sum(
            1 for r in records if r["type"] == "decision" and window.contains(r["ts"])
            for b in r["bids"] if b["campaign"] == CAMPAIGN
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("market")
    generate_market(300, seed=5, out_dir=out, campaigns=1, creatives_per_campaign=2)
    return out / "log.tsv"


async def test_report_numbers_match_the_logs(
    aiohttp_client: Any, tmp_path: Path, market: Path
) -> None:
    bidlog = tmp_path / "bidlog.jsonl"
    config = load_config(CONFIG)
    server = dataclasses.replace(config.server, state_dir=str(tmp_path / "state"),
                                 bidlog_path=str(bidlog))  # fmt: skip
    clock = FakeClock()
    runtime = build_runtime(dataclasses.replace(config, server=server), PriorScorer(),
                            clock=clock, metrics=Metrics())  # fmt: skip
    client = await aiohttp_client(make_app(runtime))
    driven = await drive_market(client, clock, market)
    await send_events(client, clock, driven["exposed"])
    runtime.bidlog.flush()
    assert driven["wins"] > 20
    first_day = dt.datetime.fromtimestamp(min(driven["exposed"].values()), dt.UTC).date()
    window = ReportWindow(first_day, first_day + dt.timedelta(days=3))
    out = tmp_path / "report"
    args = argparse.Namespace(
        campaign=CAMPAIGN, start=str(window.start), end=str(window.end), bidlog=bidlog,
        events=tmp_path / "state" / "events.jsonl", config=str(CONFIG), tz="UTC", out=out,
    )  # fmt: skip

    assert cmd_report.run(args) == 0

    report = json.loads((out / "report.json").read_text())
    expected = expected_from_logs(bidlog, tmp_path / "state" / "events.jsonl", window)
    summary = report["summary"]
    for key, value in expected.items():
        assert summary[key] == value, key
    assert 0 < expected["impressions"] < driven["wins"]  # the window cuts the replay
    assert 0 < expected["unique_visitors"] <= USERS
    assert expected["clicks"] > 0 and expected["conversions"] > 0
    assert summary["ctr"] == pytest.approx(expected["clicks"] / expected["impressions"])
    assert summary["cost_per_unique_micros"] == pytest.approx(
        expected["spend_micros"] / expected["unique_visitors"]
    )
    assert summary["conversion_rate"] == pytest.approx(
        expected["converters"] / expected["unique_visitors"]
    )
    assert summary["planned_spend_micros"] == 40_000_000  # 4 days x daily 10
    html = (out / "report.html").read_text()
    for key in ("impressions", "clicks", "spend_micros", "unique_visitors", "conversions"):
        shown = re.search(rf'id="summary-{key}">([^<]*)<', html)
        assert shown is not None and shown.group(1) == format_value(key, expected[key]), key
    by_creative = report["breakdowns"]["creative"]
    assert sum(r["impressions"] for r in by_creative) == expected["impressions"]
    assert sum(r["spend_micros"] for r in report["breakdowns"]["hour"]) == expected["spend_micros"]
    assert report["optimiser"]["changed"] is False
    assert report["optimiser"]["note"].startswith("none")
    assert report["optimiser"]["ab_test"] is not None
    _check_pdf(out / "report.pdf", tmp_path)


def _check_pdf(pdf: Path, tmp_path: Path) -> None:
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm") is None:
        pytest.skip(
            "pdftoppm is not installed (scripts/install-test-deps.sh installs poppler-utils)"
        )
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")],
        check=True, timeout=60, capture_output=True,
    )  # fmt: skip
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3  # summary + at least media, hour and creative charts
    assert all(p.stat().st_size > 5_000 for p in pages)
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pages[0], RESULTS / "campaign-report-page1.png")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [("2026-06-02", "2026-06-01", "before --from"), ("June 1", "2026-06-01", "--from: expected")],
)
def test_report_cli_refuses_bad_dates_readably(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, end: str, message: str
) -> None:
    bidlog = tmp_path / "bidlog.jsonl"
    bidlog.write_text("")
    args = argparse.Namespace(campaign=CAMPAIGN, start=start, end=end, bidlog=bidlog, events=None,
                              config=None, tz="UTC", out=tmp_path / "out")  # fmt: skip

    assert cmd_report.run(args) == 1
    assert message in capsys.readouterr().err


def test_report_cli_help_lists_every_command_with_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rtb.cli import COMMANDS, build_parser

    build_parser(None).print_help()

    text = capsys.readouterr().out
    for name in COMMANDS:
        assert f"\n    {name}" in text, name
        assert f"\n  rtb {name} " in text, f"no example for {name}"
