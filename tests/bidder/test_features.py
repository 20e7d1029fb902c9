"""The one feature definition: adapters, user-agent parsing, floor buckets, the encoder."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bidder.candidate import AuctionContext, Candidate
from bidder.config.model import Budget, Campaign, Creative
from bidder.features import (
    RTB_CATEGORICAL,
    RTB_SPEC,
    Column,
    FeatureEncoder,
    RawFeatures,
    TagColumn,
    floor_bucket,
    parse_user_agent,
    raw_from_candidate,
    raw_from_candidates,
    raw_from_ipinyou,
    schema_hash,
)
from bidder.openrtb.types import (
    App,
    Banner,
    BidRequest,
    Device,
    Geo,
    Imp,
    Publisher,
    Site,
)

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPINYOU_ROW = {
    "click": "0",
    "weekday": "3",  # Wednesday (iPinYou Sunday = 0)
    "hour": "07",
    "timestamp": "20131022135101295",
    "useragent": "windows_chrome",
    "region": "216",
    "city": "220",
    "adexchange": "2",
    "domain": "ea12fe49",
    "slotwidth": "300",
    "slotheight": "250",
    "slotvisibility": "FirstView",
    "slotformat": "Na",
    "slotprice": "13",
    "creative": "7319",
    "advertiser": "2259",
    "usertag": "10063,11423",
}


def make_candidate(
    *,
    site: Site | None = None,
    app: App | None = None,
    device: Device | None = None,
    floor_micros: int = 1500,
    pos: int | None = 1,
) -> tuple[AuctionContext, Candidate]:
    imp = Imp(id="1", banner=Banner(w=300, h=250, pos=pos))
    request = BidRequest(id="r1", imp=(imp,), site=site, app=app, device=device)
    creative = Creative(id="cr9", format="banner", w=300, h=250)
    campaign = Campaign(
        id="camp1",
        advertiser_domain="a.example",
        budget=Budget(10, 10),
        max_bid_micros=5000,
        creatives=(creative,),
    )
    ctx = AuctionContext(
        request=request,
        now=dt.datetime(2026, 1, 5, 7, tzinfo=dt.UTC),
        exchange="adx2",
        user_hash=None,
        tags=frozenset({"seg:ipinyou:10063", "seg:7:42"}),
        user_data_allowed=True,
        hour=7,
        weekday=2,
    )
    cand = Candidate(0, imp, campaign, creative, "banner", floor_micros)
    return ctx, cand


def test_raw_from_ipinyou_maps_columns_by_convention() -> None:
    raw = raw_from_ipinyou(IPINYOU_ROW)
    assert raw.exchange == "adx2"
    assert raw.site == "ea12fe49"
    assert raw.publisher == "unknown"
    assert raw.size == "300x250"
    assert raw.position == "1"
    assert raw.format == "banner"
    assert (raw.device_type, raw.os, raw.browser) == ("pc", "windows", "chrome")
    assert (raw.country, raw.region, raw.city) == ("CHN", "216", "220")
    assert (raw.hour, raw.weekday) == ("7", "2")
    assert (raw.campaign, raw.creative) == ("2259", "7319")
    assert raw.floor_bucket == floor_bucket(0.13)
    assert raw.tags == ("seg:ipinyou:10063", "seg:ipinyou:11423")


@pytest.mark.parametrize(
    ("visibility", "position"),
    [
        ("FirstView", "1"),
        ("1", "1"),
        ("SecondView", "3"),
        ("2", "3"),
        ("OtherView", "0"),
        ("Na", "0"),
        ("", "0"),
    ],
)
def test_raw_from_ipinyou_maps_visibility_to_position(visibility: str, position: str) -> None:
    assert raw_from_ipinyou({**IPINYOU_ROW, "slotvisibility": visibility}).position == position


def test_raw_from_ipinyou_missing_columns_give_unknown() -> None:
    raw = raw_from_ipinyou({"adexchange": "null", "usertag": "null"})
    assert raw.exchange == "unknown"
    assert raw.tags == ()
    assert raw.size == "unknown"
    assert raw.floor_bucket == "none"


def test_raw_from_candidate_reads_openrtb_fields() -> None:
    ctx, cand = make_candidate(
        site=Site(domain="news.example", publisher=Publisher(id="pub7")),
        device=Device(
            ua=CHROME_WIN, connectiontype=2, geo=Geo(country="chn", region="216", city="220")
        ),
    )
    raw = raw_from_candidate(ctx, cand)
    assert raw.exchange == "adx2"
    assert (raw.site, raw.publisher) == ("news.example", "pub7")
    assert (raw.size, raw.position, raw.format) == ("300x250", "1", "banner")
    assert (raw.device_type, raw.os, raw.browser) == ("pc", "windows", "chrome")
    assert raw.connection == "2"
    assert (raw.country, raw.region, raw.city) == ("CHN", "216", "220")
    assert (raw.hour, raw.weekday) == ("7", "2")
    assert (raw.campaign, raw.creative) == ("camp1", "cr9")
    assert raw.floor_bucket == floor_bucket(1.5)
    assert raw.tags == ("seg:7:42", "seg:ipinyou:10063")


def test_raw_from_candidate_app_uses_bundle_and_device_overrides() -> None:
    ctx, cand = make_candidate(
        app=App(bundle="com.example.game", publisher=Publisher(id="p2")),
        device=Device(ua=SAFARI_IPHONE, devicetype=5, os="iOS"),
        pos=None,
    )
    raw = raw_from_candidate(ctx, cand)
    assert (raw.site, raw.publisher) == ("com.example.game", "p2")
    assert (raw.device_type, raw.os, raw.browser) == ("tablet", "ios", "safari")
    assert raw.position == "0"
    assert (raw.connection, raw.country) == ("unknown", "unknown")


def test_raw_features_agree_between_adapters() -> None:
    """The same impression through both adapters gives the same shared fields."""
    ctx, cand = make_candidate(
        site=Site(domain="ea12fe49"),
        device=Device(ua=CHROME_WIN, geo=Geo(region="216", city="220")),
        floor_micros=130,
    )
    serving = raw_from_candidate(ctx, cand)
    logged = raw_from_ipinyou(IPINYOU_ROW)
    for name in (
        "exchange",
        "site",
        "size",
        "position",
        "format",
        "device_type",
        "os",
        "browser",
        "region",
        "city",
        "hour",
        "weekday",
        "floor_bucket",
    ):
        assert getattr(serving, name) == getattr(logged, name), name


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_WIN, ("pc", "windows", "chrome")),
        (SAFARI_IPHONE, ("phone", "ios", "safari")),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Chrome/119.0 Safari/537.36",
            ("tablet", "android", "chrome"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; Pixel 7) Chrome/119.0 Mobile Safari/537.36",
            ("phone", "android", "chrome"),
        ),
        (
            "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
            ("pc", "windows", "ie"),
        ),
        ("windows_ie", ("pc", "windows", "ie")),
        ("mac_safari", ("pc", "mac", "safari")),
        ("windows_other", ("pc", "windows", "other")),
        ("", ("unknown", "unknown", "unknown")),
        (None, ("unknown", "unknown", "unknown")),
        ("\x00garbage\uffff", ("unknown", "unknown", "unknown")),
    ],
)
def test_parse_user_agent_labels(ua: str | None, expected: tuple[str, str, str]) -> None:
    assert parse_user_agent(ua) == expected


@pytest.mark.parametrize(
    ("cpm", "bucket"),
    [
        (0.0, "none"),
        (-1.0, "none"),
        (float("nan"), "none"),
        (1.0, "f0"),
        (1.5, "f1"),
        (2.0, "f2"),
        (0.5, "f-2"),
        (1e-9, "f-20"),
        (1e9, "f20"),
    ],
)
def test_floor_bucket_half_octaves(cpm: float, bucket: str) -> None:
    assert floor_bucket(cpm) == bucket


def _columns(raws: list[RawFeatures]) -> tuple[list[Column], TagColumn]:
    columns = []
    for values in zip(*(r.categorical() for r in raws), strict=True):
        uniq = tuple(dict.fromkeys(values))
        index = {v: i for i, v in enumerate(uniq)}
        columns.append(Column(uniq, np.array([index[v] for v in values], dtype=np.int32)))
    tag_values = tuple(dict.fromkeys(t for r in raws for t in r.tags))
    tag_index = {t: i for i, t in enumerate(tag_values)}
    ids = np.array([tag_index[t] for r in raws for t in r.tags], dtype=np.int32)
    indptr = np.cumsum([0, *(len(r.tags) for r in raws)]).astype(np.int64)
    return columns, TagColumn(tag_values, ids, indptr)


def _rows() -> list[RawFeatures]:
    base = raw_from_ipinyou(IPINYOU_ROW)
    rows = [base] * 6 + [raw_from_ipinyou({**IPINYOU_ROW, "domain": "rare", "usertag": "1"})]
    return rows


def test_encoder_batch_and_serving_paths_agree() -> None:
    raws = _rows()
    columns, tags = _columns(raws)
    encoder = FeatureEncoder.fit(RTB_SPEC, columns, tags, min_count=2)
    batch = encoder.encode_columns(columns, None, tags)
    out = np.full((10, encoder.n_columns), 99.0, dtype=np.float32)
    encoder.encode_into(out, raws)
    np.testing.assert_array_equal(out[: len(raws)], batch)
    assert batch.dtype == np.float32
    assert batch.shape == (7, len(RTB_CATEGORICAL) + 1 + 2)


def test_encoder_unseen_values_map_to_other_code() -> None:
    raws = _rows()
    columns, tags = _columns(raws)
    encoder = FeatureEncoder.fit(RTB_SPEC, columns, tags, min_count=2)
    site = RTB_CATEGORICAL.index("site")
    rare = encoder.encode([raws[-1]])[0]
    assert rare[site] == 0  # seen once, below min_count
    unseen = raw_from_ipinyou({**IPINYOU_ROW, "domain": "never-seen", "creative": "\x00"})
    row = encoder.encode([unseen])[0]
    assert row[site] == 0
    assert row[RTB_CATEGORICAL.index("creative")] == 0
    assert encoder.encode([raws[0]])[0][site] == 1


def test_encoder_json_round_trip_keeps_encoding() -> None:
    raws = _rows()
    columns, tags = _columns(raws)
    encoder = FeatureEncoder.fit(RTB_SPEC, columns, tags, min_count=1)
    again = FeatureEncoder.from_json(encoder.to_json())
    np.testing.assert_array_equal(again.encode(raws), encoder.encode(raws))
    assert again.feature_names == encoder.feature_names
    assert encoder.to_json()["schema_hash"] == schema_hash(RTB_SPEC)


def test_encoder_tags_become_indicator_columns() -> None:
    raws = _rows()
    columns, tags = _columns(raws)
    encoder = FeatureEncoder.fit(RTB_SPEC, columns, tags, min_count=1, max_tags=2)
    row = encoder.encode([raws[0]])[0]
    names = encoder.feature_names
    assert row[names.index("n_tags")] == 2
    assert row[len(RTB_CATEGORICAL) + 1 :].sum() == 2
    assert len(encoder.tag_vocabulary) == 2


def test_schema_hash_changes_with_feature_names() -> None:
    other = RTB_SPEC.__class__("rtb", RTB_SPEC.categorical[:-1], (), True)
    assert schema_hash(other) != schema_hash(RTB_SPEC)
    assert len(schema_hash(RTB_SPEC)) == 16


@pytest.mark.parametrize(
    ("ipinyou_weekday", "monday_first"),
    [("0", "6"), ("1", "0"), ("6", "5"), ("null", "unknown")],
)
def test_raw_from_ipinyou_weekday_becomes_monday_first(
    ipinyou_weekday: str, monday_first: str
) -> None:
    """iPinYou counts from Sunday = 0 (2013-10-19, a Saturday, is logged as 6)."""
    assert raw_from_ipinyou({"weekday": ipinyou_weekday}).weekday == monday_first


def test_encoder_encode_into_empty_batch_is_a_no_op() -> None:
    raws = _rows()
    columns, tags = _columns(raws)
    encoder = FeatureEncoder.fit(RTB_SPEC, columns, tags, min_count=1)
    out = np.full((2, encoder.n_columns), 5.0, dtype=np.float32)
    encoder.encode_into(out, [])
    assert np.all(out == 5.0)


def test_raw_from_candidates_equals_one_by_one() -> None:
    ctx, cand = make_candidate(site=Site(domain="a.example"), device=Device(ua=CHROME_WIN))
    other = Candidate(0, cand.imp, cand.campaign, cand.creative, "banner", 99_000)
    batch = raw_from_candidates(ctx, [cand, other])
    assert batch == [raw_from_candidate(ctx, cand), raw_from_candidate(ctx, other)]
    assert batch[0].floor_bucket != batch[1].floor_bucket


def _encoder_for(raws: list[RawFeatures]) -> FeatureEncoder:
    columns, tags = _columns(raws)
    return FeatureEncoder.fit(RTB_SPEC, columns, tags, min_count=1)


def test_encode_candidates_into_equals_raw_features_then_encode_into() -> None:
    """The scorer's path (no RawFeatures) gives the codes of the reference path, for
    several requests at once, seen and unseen values, with and without tags."""
    ctx, cand = make_candidate(site=Site(domain="a.example"), device=Device(ua=CHROME_WIN))
    other = Candidate(0, cand.imp, cand.campaign, cand.creative, "banner", 99_000)
    app_ctx, app_cand = make_candidate(
        app=App(bundle="com.x"), device=Device(ua=SAFARI_IPHONE, os="iOS"), pos=None
    )
    bare = AuctionContext(request=app_ctx.request, now=app_ctx.now, exchange="adx9", user_hash=None)
    jobs = [(ctx, [cand, other]), (app_ctx, [app_cand]), (bare, [app_cand])]
    raws = [raw for c, cands in jobs for raw in raw_from_candidates(c, cands)]
    encoder = _encoder_for(raws[:2])  # the app requests' values are unseen: code 0
    reference = np.full((6, encoder.n_columns), 7.0, dtype=np.float32)
    encoder.encode_into(reference, raws)
    out = np.full((6, encoder.n_columns), 9.0, dtype=np.float32)
    assert encoder.encode_candidates_into(out, jobs) == 4
    np.testing.assert_array_equal(out[:4], reference[:4])
    assert np.all(out[4:] == 9.0)
    assert out[0, encoder.feature_names.index("n_tags")] == 2
    assert out[3, encoder.feature_names.index("n_tags")] == 0


def test_encode_candidates_into_no_jobs_is_a_no_op() -> None:
    encoder = _encoder_for(_rows())
    out = np.full((2, encoder.n_columns), 5.0, dtype=np.float32)
    assert encoder.encode_candidates_into(out, []) == 0
    assert np.all(out == 5.0)


def test_encode_candidates_into_many_tag_cells_equals_encode_into() -> None:
    """Past ``_FEW_STORES`` tag cells the indicators are set in one indexed store."""
    ctx, cand = make_candidate(site=Site(domain="a.example"), device=Device(ua=CHROME_WIN))
    jobs = [(ctx, [cand, cand])] * 6  # 12 rows x 2 tags
    raws = [raw for c, cands in jobs for raw in raw_from_candidates(c, cands)]
    encoder = _encoder_for(raws)
    reference = np.zeros((12, encoder.n_columns), dtype=np.float32)
    encoder.encode_into(reference, raws)
    out = np.full((12, encoder.n_columns), 3.0, dtype=np.float32)
    assert encoder.encode_candidates_into(out, jobs) == 12
    np.testing.assert_array_equal(out, reference)
    assert out[:, len(RTB_CATEGORICAL) + 1 :].sum() == 24
