"""generate_market / rtb synth: determinism, file layout, log <-> OpenRTB mapping."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import orjson
import pytest

from rtb.cli import main
from simulator.synth.generate import MarketSummary, generate_market
from simulator.synth.market import World

IPINYOU_COLUMNS = [
    "click",
    "weekday",
    "hour",
    "bidid",
    "timestamp",
    "logtype",
    "ipinyouid",
    "useragent",
    "IP",
    "region",
    "city",
    "adexchange",
    "domain",
    "url",
    "urlid",
    "slotid",
    "slotwidth",
    "slotheight",
    "slotvisibility",
    "slotformat",
    "slotprice",
    "creative",
    "bidprice",
    "payprice",
    "keypage",
    "advertiser",
    "usertag",
    "nclick",
    "nconversation",
]
FILES = ("log.tsv", "requests.jsonl", "meta.json")
CHINA = dt.timezone(dt.timedelta(hours=8))


def _rows(out: Path) -> list[dict[str, str]]:
    lines = (out / "log.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def test_generate_market_same_seed_byte_identical(world: World, tmp_path: Path) -> None:
    for name in ("a", "b"):
        generate_market(1500, seed=11, out_dir=tmp_path / name, world=world)
    generate_market(1500, seed=12, out_dir=tmp_path / "c", world=world)
    for f in FILES:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
        assert (tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes(), f


def test_generate_market_world_rebuilt_byte_identical(tmp_path: Path) -> None:
    generate_market(300, seed=1, out_dir=tmp_path / "a", write_requests=False)
    generate_market(300, seed=1, out_dir=tmp_path / "b", write_requests=False)
    assert (tmp_path / "a" / "log.tsv").read_bytes() == (tmp_path / "b" / "log.tsv").read_bytes()
    assert not (tmp_path / "a" / "requests.jsonl").exists()


def test_log_header_ipinyou_columns_then_extras(small_market: MarketSummary) -> None:
    header = (small_market.out_dir / "log.tsv").read_text().splitlines()[0].split("\t")
    assert header == [*IPINYOU_COLUMNS, "true_ctr", "market_price"]


def test_log_header_matches_shared_ipinyou_header(shared_data: Path) -> None:
    raw = (shared_data / "ipinyou" / "camp2259-raw" / "log.header.tsv").read_text().split()
    assert raw == IPINYOU_COLUMNS


def test_log_rows_time_ordered_and_consistent(small_market: MarketSummary) -> None:
    rows = _rows(small_market.out_dir)
    assert len(rows) == small_market.rows
    stamps = [r["timestamp"] for r in rows]
    assert stamps == sorted(stamps)
    for r in rows:
        t = dt.datetime.strptime(r["timestamp"], "%Y%m%d%H%M%S%f")
        assert dt.date(2013, 6, 6) <= t.date() < dt.date(2013, 6, 13)
        assert r["hour"] == f"{t.hour:02d}"
        assert int(r["weekday"]) == t.isoweekday() % 7  # iPinYou: 0 = Sunday
        assert r["payprice"] == r["market_price"]
        assert r["nclick"] == r["click"] in ("0", "1")
        assert 0.0 < float(r["true_ctr"]) < 1.0
        assert r["creative"].startswith("cr-") and r["advertiser"].startswith("synth-")
        assert r["creative"].split("-")[1] == r["advertiser"].split("-")[1]


def test_log_every_creative_gets_exposure(small_market: MarketSummary) -> None:
    creatives = {r["creative"] for r in _rows(small_market.out_dir)}
    assert creatives == {f"cr-{k}-{m}" for k in (1, 2, 3) for m in (1, 2, 3)}


def _expected_request(r: dict[str, str]) -> dict[str, object]:
    pos = {"FirstView": 1, "SecondView": 3}.get(r["slotvisibility"], 0)
    user: dict[str, object] = {"id": r["ipinyouid"]}
    if r["usertag"] != "null":
        segments = [{"id": t} for t in r["usertag"].split(",")]
        user["data"] = [{"id": "ipinyou", "segment": segments}]
    return {
        "id": r["bidid"],
        "at": 2,
        "tmax": 100,
        "cur": ["CNY"],
        "imp": [
            {
                "id": "1",
                "tagid": r["slotid"],
                "banner": {"w": int(r["slotwidth"]), "h": int(r["slotheight"]), "pos": pos},
                "bidfloor": int(r["slotprice"]) / 100,
                "bidfloorcur": "CNY",
            }
        ],
        "site": {"domain": r["domain"], "page": r["url"]},
        "device": {
            "ua": r["useragent"],
            "ip": r["IP"],
            "geo": {"country": "CHN", "region": r["region"], "city": r["city"]},
        },
        "user": user,
    }


def test_requests_lines_carry_log_row(small_market: MarketSummary) -> None:
    rows = _rows(small_market.out_dir)
    lines = (small_market.out_dir / "requests.jsonl").read_text().splitlines()
    assert len(lines) == len(rows)
    for line, r in zip(lines, rows, strict=True):
        obj = json.loads(line)
        local = dt.datetime.fromtimestamp(obj["timestamp_ms"] / 1000, tz=CHINA)
        assert local.strftime("%Y%m%d%H%M%S%f")[:17] == r["timestamp"]
        assert obj["exchange"] == "adx" + r["adexchange"]
        assert obj["bidid"] == r["bidid"]
        assert obj["request"] == _expected_request(r)


def test_meta_json_summary_and_truth(small_market: MarketSummary) -> None:
    meta = orjson.loads((small_market.out_dir / "meta.json").read_bytes())
    assert meta["seed"] == 7 and meta["rows"] == 3000
    assert len(meta["summary"]["ctr_by_hour"]) == 24
    assert set(meta["summary"]["exchange_mix"]) == {"adx1", "adx2", "adx3"}
    assert meta["oracle"]["mean_true_ctr"] == pytest.approx(small_market.mean_true_ctr)
    for key in ("tag_x_size_group", "creative_x_position", "category_x_hour_block"):
        assert meta["truth"][key]


def test_generate_market_zero_rows(world: World, tmp_path: Path) -> None:
    s = generate_market(0, seed=1, out_dir=tmp_path, world=world)
    assert (tmp_path / "log.tsv").read_text().count("\n") == 1
    assert s.clicks == 0


def test_cmd_synth_writes_market(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "synth",
            "--rows",
            "200",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            "--campaigns",
            "2",
            "--creatives-per-campaign",
            "4",
            "--no-requests",
        ]
    )
    assert code == 0
    assert "200 rows" in capsys.readouterr().out
    rows = _rows(tmp_path)
    assert {r["advertiser"] for r in rows} == {"synth-1", "synth-2"}
    assert max(int(r["creative"].split("-")[2]) for r in rows) == 4
    assert not (tmp_path / "requests.jsonl").exists()


def test_cmd_synth_rejects_bad_campaigns(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["synth", "--rows", "10", "--seed", "1", "--out", str(tmp_path), "--campaigns", "0"])


def test_features_from_log_reproduces_true_ctr(world: World, small_market: MarketSummary) -> None:
    from simulator.synth.encode import features_from_log

    rows = _rows(small_market.out_dir)
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    ctr = world.truth.ctr(features_from_log(world, columns))
    logged = [float(r["true_ctr"]) for r in rows]
    assert ctr == pytest.approx(logged, abs=1e-9)


def test_features_from_log_rejects_unknown_domain(
    world: World, small_market: MarketSummary
) -> None:
    from simulator.synth.encode import features_from_log

    rows = _rows(small_market.out_dir)[:3]
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    columns["domain"] = ["nope"] * 3
    with pytest.raises(ValueError, match="domain: value 'nope'"):
        features_from_log(world, columns)
