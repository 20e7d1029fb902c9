"""Live dashboard: stats aggregation, the JSON API, and the page in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bidder.handlers import RUNTIME
from tests.bidder.serving import GOLDEN_CONFIG, ROOT, FakeClock, make_app, make_runtime

GOLDEN_BID = ROOT / "tests" / "golden" / "openrtb" / "bid"
RESULTS = ROOT / "benchmarks" / "results"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]  # fmt: skip
_CLICK_HREF = re.compile(r'href="([^"]*/click\?[^"]*)"')


def golden_requests() -> list[dict[str, Any]]:
    """Golden ``bid/`` requests that run on the golden config as is (no overlay)."""
    out = []
    for path in sorted(GOLDEN_BID.glob("*.json")):
        case = json.loads(path.read_text())
        if "config" not in case:
            out.append(case["request"])
    return out


async def replay_traffic(session: ClientSession, base: str, rounds: int = 3) -> dict[str, int]:
    """POST every golden request ``rounds`` times, follow each win notice and some clicks."""
    counts = {"requests": 0, "bids": 0, "wins": 0, "clicks": 0}
    for r in range(rounds):
        for i, request in enumerate(golden_requests()):
            body = {**request, "id": f"{request['id']}-{r}"}
            if isinstance(body.get("user"), dict):
                body["user"] = {**body["user"], "id": f"user-{i}-{r % 2}"}
            async with session.post(f"{base}/bid", json=body) as resp:
                counts["requests"] += 1
                if resp.status != 200:
                    continue
                payload = await resp.json()
            for seat in payload["seatbid"]:
                for bid in seat["bid"]:
                    counts["bids"] += 1
                    counts["wins"] += await _follow(session, base, bid, counts["bids"])
                    counts["clicks"] += await _click(session, base, bid, counts["bids"])
    return counts


def _on(base: str, url: str) -> str:
    """The notice URL (signed for ``notice_base_url``) sent to the server under test."""
    return re.sub(r"^https?://[^/]+", base, url.replace("&amp;", "&"))


async def _follow(session: ClientSession, base: str, bid: dict[str, Any], n: int) -> int:
    if n % 5 == 0 or "nurl" not in bid:  # every fifth bid loses
        return 0
    url = bid["nurl"].replace("${AUCTION_PRICE}", f"{bid['price'] * 0.8:.4f}")
    async with session.get(_on(base, url)) as resp:
        return 1 if resp.status == 200 else 0


async def _click(session: ClientSession, base: str, bid: dict[str, Any], n: int) -> int:
    match = _CLICK_HREF.search(bid.get("adm", ""))
    if match is None or n % 2 or n % 5 == 0:
        return 0
    async with session.get(_on(base, match.group(1)), allow_redirects=False) as resp:
        return 1 if resp.status == 302 else 0


def metric_by_campaign(exposition: str, family_name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == family_name:
                out[sample.labels["campaign"]] = sample.value
    return out


async def run_chromium(args: list[str], timeout_s: float = 60.0) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium is not None
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = await asyncio.create_subprocess_exec(
            chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    return out.decode("utf-8", "replace")


def dom_cells(dom: str) -> dict[str, str]:
    """``{element id: data-raw or text}`` of the dashboard's table cells."""
    cells = {}
    for m in re.finditer(r'<td id="([^"]+)"(?: data-raw="([^"]*)")?[^>]*>([^<]*)</td>', dom):
        cells[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    return cells


@pytest.fixture
async def live_server(tmp_path: Path) -> Any:
    """The bidder app on a real TCP port (the page and the browser need one)."""
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path / "state", FakeClock())
    app = make_app(runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


async def test_dashboard_api_matches_metrics(aiohttp_client: Any, tmp_path: Path) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path / "state", FakeClock())
    client: TestClient = await aiohttp_client(make_app(runtime))  # type: ignore[type-arg]
    base = str(client.make_url("")).rstrip("/")
    async with ClientSession() as session:
        counts = await replay_traffic(session, base, rounds=2)

    snapshot = await (await client.get("/dashboard/api")).json()

    exposition = await (await client.get("/metrics")).text()
    bids = metric_by_campaign(exposition, "bidder_bids_total")
    charged = metric_by_campaign(exposition, "bidder_charged_micros_total")
    rows = {r["id"]: r for r in snapshot["campaigns"]}
    assert sum(r["bids"] for r in rows.values()) == counts["bids"] > 0
    clicks = metric_by_campaign(exposition, "bidder_clicks_total")
    assert 0 < sum(r["clicks"] for r in rows.values()) <= counts["clicks"]  # test bids: no click
    for cid, row in rows.items():
        assert row["bids"] == bids.get(cid, 0), cid
        assert row["clicks"] == clicks.get(cid, 0), cid
        assert row["spend_total_micros"] == charged.get(cid, 0), cid
    assert {r["key"] for r in snapshot["breakdowns"]["media"]} >= {"banner"}
    assert snapshot["calibration"]["impressions"] == sum(r["impressions"] for r in rows.values())
    assert sum(snapshot["hourly"]["bids"]) == counts["bids"]


async def test_dashboard_requires_token_when_configured(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    runtime = make_runtime(GOLDEN_CONFIG, tmp_path / "s", FakeClock(), admin_token="tok")
    client: TestClient = await aiohttp_client(make_app(runtime))  # type: ignore[type-arg]

    assert (await client.get("/dashboard/api")).status == 401
    assert (await client.get("/dashboard/api?token=tok")).status == 200
    page = await client.get("/dashboard?token=tok")
    assert page.status == 200
    assert "/dashboard/static/uplot.min.js" in await page.text()
    assert (await client.get("/dashboard/static/uplot.min.js")).status == 200
    assert client.app[RUNTIME] is runtime


@pytest.mark.slow
async def test_dashboard_page_in_chromium_shows_metrics_numbers(
    live_server: Any, tmp_path: Path
) -> None:
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium is not installed (scripts/install-test-deps.sh installs it)")
    base, _app = live_server
    async with ClientSession() as session:
        counts = await replay_traffic(session, base)
        async with session.get(f"{base}/metrics") as resp:
            exposition = await resp.text()
    assert counts["wins"] > 0

    page = f"{base}/dashboard"
    dom = await run_chromium(["--virtual-time-budget=5000", "--dump-dom", page])
    shot = tmp_path / "dashboard.png"
    await run_chromium(
        ["--virtual-time-budget=5000", "--window-size=1500,1100", f"--screenshot={shot}", page]
    )

    cells = dom_cells(dom)
    bids = metric_by_campaign(exposition, "bidder_bids_total")
    charged = metric_by_campaign(exposition, "bidder_charged_micros_total")
    assert bids, "no bids in /metrics"
    for cid, value in bids.items():
        assert int(cells[f"c-{cid}-bids"]) == value, cid
        assert int(cells[f"c-{cid}-spend"]) == charged.get(cid, 0), cid
        assert cells[f"c-{cid}-id"] == cid
    assert shot.exists() and shot.stat().st_size > 10_000
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, RESULTS / "dashboard.png")
