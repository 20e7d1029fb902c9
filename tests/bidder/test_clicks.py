"""A click counts once per bid: the repeat redirects too, but is not counted again."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import orjson

from tests.bidder.serving import GOLDEN_CONFIG, FakeClock, make_app, make_runtime
from tests.bidder.test_dashboard import golden_requests
from tests.bidder.test_server import metric, notice_path

_CLICK_HREF = re.compile(r'href="([^"]*/click\?[^"]*)"')


async def _clickable_bid(client: Any) -> tuple[str, str]:
    """(campaign id, click path) of the first non-test golden bid whose markup has one."""
    for request in golden_requests():
        if request.get("test"):
            continue
        resp = await client.post("/bid", data=orjson.dumps(request))
        if resp.status != 200:
            continue
        for seat in (await resp.json())["seatbid"]:
            for bid in seat["bid"]:
                match = _CLICK_HREF.search(bid.get("adm", ""))
                if match is not None:
                    return bid["cid"], notice_path(match.group(1).replace("&amp;", "&"))
    raise AssertionError("no golden bid carries a click URL")


async def test_a_repeated_click_redirects_but_counts_once(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(GOLDEN_CONFIG, config)
    runtime = make_runtime(config, tmp_path / "state", FakeClock())
    client = await aiohttp_client(make_app(runtime))
    campaign, click = await _clickable_bid(client)
    first = await client.get(click, allow_redirects=False)
    again = await client.get(click, allow_redirects=False)
    assert first.status == again.status == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert metric(runtime, "bidder_clicks_total", campaign=campaign) == 1.0
    assert metric(runtime, "bidder_notices_total", kind="click", result="click") == 1.0
    assert metric(runtime, "bidder_notices_total", kind="click", result="click_repeat") == 1.0
