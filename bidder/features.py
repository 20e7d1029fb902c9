"""The one CTR feature definition, shared by serving, training and the simulator.

Two adapters produce the canonical :class:`RawFeatures` record: ``raw_from_candidate``
(OpenRTB auctions, used by the bidder and the simulator) and ``raw_from_ipinyou`` (the
iPinYou log columns, also written by ``rtb synth``). :class:`FeatureEncoder`, fitted at
training time and saved with the model as JSON, turns records into float32 rows for
LightGBM. Mapping conventions (the synthetic market generator follows them too):

=============  ===========================================  ==================================
field          iPinYou column                                OpenRTB
=============  ===========================================  ==================================
exchange       ``"adx" + adexchange`` (null -> unknown)      ``AuctionContext.exchange``
site           ``domain``                                    ``site.domain`` / ``app.bundle``
publisher      ``"unknown"`` (iPinYou has no publisher id)   ``site/app.publisher.id``
size           ``slotwidth x slotheight``                    creative w x h (else imp size)
position       FirstView/1 -> 1, SecondView/2 -> 3, else 0   ``banner.pos`` / ``video.pos``
format         ``banner``                                    ``Candidate.media_type``
device/os/br.  ``parse_user_agent(useragent)``               ``device.ua``; devicetype/os win
connection     ``unknown``                                   ``device.connectiontype``
country        ``CHN``                                       ``geo.country`` (upper-case)
region, city   numeric ids as strings                        ``geo.region`` / ``geo.city``
hour, weekday  ``hour``, ``(weekday - 1) mod 7`` (Mon=0)     ``ctx.hour`` / ``ctx.weekday``
tags           ``usertag`` ids -> ``seg:ipinyou:<id>``       ``ctx.tags``
campaign       ``advertiser``                                ``campaign.id``
creative       ``creative``                                  ``creative.id``
floor bucket   ``slotprice / 100`` (fen -> CNY CPM)          ``micros_to_cpm(floor_micros)``
=============  ===========================================  ==================================

iPinYou weekdays count from Sunday = 0 (2013-10-19, a Saturday, is logged as 6) and
``rtb synth`` writes the same; the adapter turns them into Monday = 0, the convention of
``AuctionContext.weekday``, so both adapters give the same label for the same day. Floors are
bucketed in the currency they arrive in (CNY for iPinYou, the engine currency in OpenRTB):
the model learns buckets, not prices, so only the order of magnitude matters.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from bidder.candidate import AuctionContext, Candidate
from bidder.memo import remember
from bidder.money import micros_to_cpm

FEATURE_VERSION: Final = 1  # bump when an adapter's mapping changes meaning
ENCODER_VERSION: Final = 1  # bump when the encoded row layout changes
UNKNOWN: Final = "unknown"
OTHER_CODE: Final = 0  # code of values unseen (or too rare) at training time

# the categorical fields of RawFeatures, in encoded-column order
RTB_CATEGORICAL: Final = (
    "exchange",
    "site",
    "publisher",
    "size",
    "position",
    "format",
    "device_type",
    "os",
    "browser",
    "connection",
    "country",
    "region",
    "city",
    "hour",
    "weekday",
    "campaign",
    "creative",
    "floor_bucket",
)


@dataclass(frozen=True, slots=True)
class RawFeatures:
    """One (auction, candidate) before encoding: strings plus multi-valued tags."""

    exchange: str
    site: str
    publisher: str
    size: str
    position: str
    format: str
    device_type: str
    os: str
    browser: str
    connection: str
    country: str
    region: str
    city: str
    hour: str
    weekday: str
    campaign: str
    creative: str
    floor_bucket: str
    tags: tuple[str, ...] = ()

    def categorical(self) -> tuple[str, ...]:
        """Values of ``RTB_CATEGORICAL`` in order."""
        return (
            self.exchange,
            self.site,
            self.publisher,
            self.size,
            self.position,
            self.format,
            self.device_type,
            self.os,
            self.browser,
            self.connection,
            self.country,
            self.region,
            self.city,
            self.hour,
            self.weekday,
            self.campaign,
            self.creative,
            self.floor_bucket,
        )


# --- shared parsing helpers -------------------------------------------------------------

# OpenRTB 2.x device.devicetype (List 5.21) as labels
DEVICE_TYPES: Final = {
    1: "mobile",
    2: "pc",
    3: "ctv",
    4: "phone",
    5: "tablet",
    6: "connected",
    7: "stb",
}
_OS_RULES: Final = (
    (re.compile(r"iphone|ipad|ipod|\bios\b"), "ios"),
    (re.compile(r"android"), "android"),
    (re.compile(r"windows phone"), "windows_phone"),
    (re.compile(r"windows|win32|win64"), "windows"),
    (re.compile(r"mac ?os|macintosh|\bmac\b|mac_"), "mac"),
    (re.compile(r"cros|chrome os"), "chromeos"),
    (re.compile(r"linux|ubuntu"), "linux"),
    (re.compile(r"tizen|webos|roku|smart-?tv"), "tv"),
)
_BROWSER_RULES: Final = (
    (re.compile(r"theworld"), "theworld"),
    (re.compile(r"maxthon"), "maxthon"),
    (re.compile(r"sogou|metasr"), "sogou"),
    (re.compile(r"qqbrowser|\bqq\b"), "qq"),
    (re.compile(r"\bedge?/|edg/|edge"), "edge"),
    (re.compile(r"opr/|opera"), "opera"),
    (re.compile(r"firefox|fxios"), "firefox"),
    (re.compile(r"msie|trident|_ie\b|\bie\b"), "ie"),
    (re.compile(r"chrome|crios|chromium"), "chrome"),
    (re.compile(r"safari"), "safari"),
)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/")
_PHONE = re.compile(r"mobile|iphone|ipod|android|phone")
_TV = re.compile(r"smart-?tv|tizen|webos|roku|appletv|crkey")


@functools.lru_cache(maxsize=8192)
def parse_user_agent(ua: str | None) -> tuple[str, str, str]:
    """``(device_type, os, browser)`` labels from a user agent string.

    Handles full browser user agents and iPinYou's pre-parsed ``os_browser`` form
    (``windows_chrome``). Unknown parts are ``"unknown"``; never raises. Cached: a
    request's candidates share one user agent and real traffic repeats a few thousand.
    """
    if not ua:
        return UNKNOWN, UNKNOWN, UNKNOWN
    s = ua.lower()
    os_name = next((label for rx, label in _OS_RULES if rx.search(s)), UNKNOWN)
    browser = next((label for rx, label in _BROWSER_RULES if rx.search(s)), UNKNOWN)
    if browser == UNKNOWN and s.endswith("_other"):
        browser = "other"
    if _TV.search(s):
        device = "ctv"
    elif _TABLET.search(s) or (os_name == "android" and "mobile" not in s):
        device = "tablet"
    elif _PHONE.search(s):
        device = "phone"
    elif os_name in ("windows", "mac", "linux", "chromeos"):
        device = "pc"
    else:
        device = UNKNOWN
    return device, os_name, browser


def floor_bucket(floor_cpm: float) -> str:
    """Half-octave bucket of a floor CPM: ``"f<k>"`` with ``k = floor(2 log2 cpm)``.

    ``"none"`` for a missing or non-positive floor; ``k`` is clipped to [-20, 20], so
    CPMs below 0.001 and above 1024 share the end buckets.
    """
    if not math.isfinite(floor_cpm) or floor_cpm <= 0:
        return "none"
    k = math.floor(2.0 * math.log2(floor_cpm))
    return f"f{min(max(k, -20), 20)}"


def _label(value: object) -> str:
    if value is None:
        return UNKNOWN
    if type(value) is str:  # sites, regions, cities repeat: clean each string once
        label = _LABELS.get(value)
        if label is None:
            label = remember(_LABELS, _LABELS_MAX, value, _clean_label(value))
        return label
    return _clean_label(str(value))


def _clean_label(raw: str) -> str:
    s = raw.strip()
    return s if s and s.lower() != "null" else UNKNOWN


_FEW_STORES = 16  # below this many cells, scalar stores beat one fancy-indexed store
_LABELS: dict[str, str] = {}
_LABELS_MAX = 65_536


# --- adapters -----------------------------------------------------------------------------


def raw_from_candidate(ctx: AuctionContext, cand: Candidate) -> RawFeatures:
    """Features of one OpenRTB candidate (serving and simulator)."""
    return raw_from_candidates(ctx, (cand,))[0]


def raw_from_candidates(ctx: AuctionContext, cands: Iterable[Candidate]) -> list[RawFeatures]:
    """Features of every candidate of one request; the request's part is derived once."""
    exchange, site, publisher, device_type, os_name, browser, connection = _inventory_device(ctx)
    country, region, city = _geo(ctx)
    hour, weekday = str(ctx.hour), str(ctx.weekday)
    tags = tuple(sorted(ctx.tags))
    out = []
    for cand in cands:
        size, position, media, campaign, creative, bucket = candidate_labels(cand)
        out.append(
            RawFeatures(
                exchange, site, publisher, size, position, media, device_type,
                os_name, browser, connection, country, region, city, hour, weekday,
                campaign, creative, bucket, tags,
            )
        )  # fmt: skip
    return out


def request_labels(ctx: AuctionContext) -> tuple[str, ...]:
    """The request's part of ``RawFeatures``: (exchange, site, publisher, device_type, os,
    browser, connection, country, region, city, hour, weekday)."""
    return (*_inventory_device(ctx), *_geo(ctx), str(ctx.hour), str(ctx.weekday))


def candidate_labels(cand: Candidate) -> tuple[str, str, str, str, str, str]:
    """The candidate's part of ``RawFeatures``: (size, position, format, campaign,
    creative, floor_bucket)."""
    size, position = _size_position(cand)
    return (
        size,
        position,
        cand.media_type,
        cand.campaign.id,
        cand.creative.id,
        _floor_bucket_of_micros(cand.floor_micros),
    )


_BUCKET_OF_MICROS: dict[int, str] = {}  # floors repeat: a few hundred distinct values


def _floor_bucket_of_micros(floor_micros: int) -> str:
    bucket = _BUCKET_OF_MICROS.get(floor_micros)
    if bucket is None:
        bucket = floor_bucket(micros_to_cpm(floor_micros))
        remember(_BUCKET_OF_MICROS, 65_536, floor_micros, bucket)
    return bucket


def _inventory_device(ctx: AuctionContext) -> tuple[str, str, str, str, str, str, str]:
    req = ctx.request
    inventory = req.site if req.site is not None else req.app
    site: str | None = None
    if req.site is not None:
        site = req.site.domain
    elif req.app is not None:
        site = req.app.bundle or req.app.domain
    publisher = inventory.publisher.id if inventory and inventory.publisher else None
    device = req.device
    device_type, os_name, browser = parse_user_agent(device.ua if device else None)
    connection: int | None = None
    if device is not None:
        if device.devicetype is not None:
            device_type = DEVICE_TYPES.get(device.devicetype, str(device.devicetype))
        if device.os:
            os_name = device.os.strip().lower() or os_name
        connection = device.connectiontype
    return (
        _label(ctx.exchange), _label(site), _label(publisher), device_type, os_name,
        browser, _label(connection),
    )  # fmt: skip


def _geo(ctx: AuctionContext) -> tuple[str, str, str]:
    geo = ctx.request.geo()
    if geo is None:
        return UNKNOWN, UNKNOWN, UNKNOWN
    country = _label(geo.country.upper() if geo.country else None)
    return country, _label(geo.region), _label(geo.city)


def _size_position(cand: Candidate) -> tuple[str, str]:
    imp = cand.imp
    w, h = cand.w, cand.h  # the size the imp accepted (a responsive creative has several)
    if w is None or h is None:
        w, h = cand.creative.w, cand.creative.h
    if (w is None or h is None) and imp.banner is not None:
        w, h = imp.banner.w, imp.banner.h
    if (w is None or h is None) and imp.video is not None:
        w, h = imp.video.w, imp.video.h
    pos = imp.banner.pos if imp.banner is not None else None
    if pos is None and imp.video is not None:
        pos = imp.video.pos
    size = f"{w}x{h}" if w is not None and h is not None else UNKNOWN
    return size, str(pos) if pos is not None else "0"


_VISIBILITY_TO_POS: Final = {"firstview": "1", "1": "1", "secondview": "3", "2": "3"}


def _int_label(value: str | None) -> str:
    """``"07"`` -> ``"7"``: iPinYou hours come zero-padded, OpenRTB ones do not."""
    s = _label(value)
    return str(int(s)) if s.isdigit() else s


def _monday_first(value: str | None) -> str:
    """iPinYou weekday (Sunday = 0) -> Monday = 0, as in ``AuctionContext.weekday``."""
    s = _label(value)
    return str((int(s) - 1) % 7) if s.isdigit() else s


def raw_from_ipinyou(row: Mapping[str, str]) -> RawFeatures:
    """Features of one iPinYou log row (columns named as in ``log.header.tsv``)."""
    device_type, os_name, browser = parse_user_agent(row.get("useragent"))
    exchange = _label(row.get("adexchange"))
    usertag = _label(row.get("usertag"))
    tags = (
        ()
        if usertag == UNKNOWN
        else tuple(sorted({f"seg:ipinyou:{t}" for t in usertag.split(",") if t}))
    )
    try:
        floor_cpm = float(row.get("slotprice") or 0) / 100.0
    except ValueError:
        floor_cpm = 0.0
    w, h = _label(row.get("slotwidth")), _label(row.get("slotheight"))
    return RawFeatures(
        exchange=UNKNOWN if exchange == UNKNOWN else f"adx{exchange}",
        site=_label(row.get("domain")),
        publisher=UNKNOWN,
        size=f"{w}x{h}" if UNKNOWN not in (w, h) else UNKNOWN,
        position=_VISIBILITY_TO_POS.get(_label(row.get("slotvisibility")).lower(), "0"),
        format="banner",
        device_type=device_type,
        os=os_name,
        browser=browser,
        connection=UNKNOWN,
        country="CHN",
        region=_label(row.get("region")),
        city=_label(row.get("city")),
        hour=_int_label(row.get("hour")),
        weekday=_monday_first(row.get("weekday")),
        campaign=_label(row.get("advertiser")),
        creative=_label(row.get("creative")),
        floor_bucket=floor_bucket(floor_cpm),
        tags=tags,
    )


# --- encoder ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Names of a feature set: categorical columns, numeric columns, multi-valued tags.

    ``rtb`` (``RTB_SPEC``) is the bidder's; the tabular benchmarks (criteo, obd) declare
    their own, which go through the same encoder.
    """

    name: str
    categorical: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    has_tags: bool = False


RTB_SPEC: Final = FeatureSpec("rtb", RTB_CATEGORICAL, (), has_tags=True)


@dataclass(frozen=True, slots=True)
class Column:
    """An interned categorical column: row ``i`` holds ``values[ids[i]]``."""

    values: tuple[str, ...]
    ids: npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class TagColumn:
    """Interned multi-valued tags (CSR): row ``i`` holds ``ids[indptr[i]:indptr[i + 1]]``."""

    values: tuple[str, ...]
    ids: npt.NDArray[np.int32]
    indptr: npt.NDArray[np.int64]


def schema_hash(spec: FeatureSpec) -> str:
    """Short hash of the feature code a model was trained with (names + versions)."""
    payload = {
        "spec": spec.name,
        "categorical": list(spec.categorical),
        "numeric": list(spec.numeric),
        "has_tags": spec.has_tags,
        "feature_version": FEATURE_VERSION,
        "encoder_version": ENCODER_VERSION,
    }
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class FeatureEncoder:
    """Vocabulary encoder: categoricals -> integer codes, top-K tags -> 0/1 columns.

    Row layout (float32): one column per categorical (code 0 = other/unseen, 1..n the
    training vocabulary, most frequent first), then the numeric columns (NaN = missing),
    then with tags ``n_tags`` and one indicator per kept tag. Codes are exact in float32
    below 2**24 and go to LightGBM as ``categorical_feature``.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        vocabularies: Sequence[Sequence[str]],
        tag_vocabulary: Sequence[str] = (),
    ) -> None:
        if len(vocabularies) != len(spec.categorical):
            raise ValueError(
                f"{len(vocabularies)} vocabularies for {len(spec.categorical)} categoricals"
            )
        self.spec = spec
        self.vocabularies = tuple(tuple(v) for v in vocabularies)
        self.tag_vocabulary = tuple(tag_vocabulary)
        self._value_to_code = tuple(
            {v: i + 1 for i, v in enumerate(voc)} for voc in self.vocabularies
        )
        n_cat, n_num = len(spec.categorical), len(spec.numeric)
        self._tag_offset = n_cat + n_num + 1
        self._tag_to_column = {t: self._tag_offset + i for i, t in enumerate(self.tag_vocabulary)}
        self.n_columns = n_cat + n_num + (1 + len(self.tag_vocabulary) if spec.has_tags else 0)

    @classmethod
    def fit(
        cls,
        spec: FeatureSpec,
        columns: Sequence[Column],
        tags: TagColumn | None = None,
        *,
        min_count: int = 5,
        max_categories: int = 5000,
        max_tags: int = 100,
    ) -> FeatureEncoder:
        """Keep values seen at least ``min_count`` times (at most ``max_categories`` per column)."""
        vocabularies = [
            _top_values(col.values, col.ids, min_count, max_categories) for col in columns
        ]
        tag_vocabulary: list[str] = []
        if spec.has_tags and tags is not None:
            tag_vocabulary = _top_values(tags.values, tags.ids, min_count, max_tags)
        return cls(spec, vocabularies, tag_vocabulary)

    @property
    def feature_names(self) -> list[str]:
        names = [*self.spec.categorical, *self.spec.numeric]
        if self.spec.has_tags:
            names.append("n_tags")
            names.extend(f"tag_{i}" for i in range(len(self.tag_vocabulary)))
        return names

    @property
    def categorical_indices(self) -> list[int]:
        return list(range(len(self.spec.categorical)))

    @property
    def vocab_sizes(self) -> dict[str, int]:
        sizes = {n: len(v) for n, v in zip(self.spec.categorical, self.vocabularies, strict=True)}
        if self.spec.has_tags:
            sizes["tags"] = len(self.tag_vocabulary)
        return sizes

    def encode_columns(
        self,
        columns: Sequence[Column],
        numeric: npt.NDArray[np.float64] | None = None,
        tags: TagColumn | None = None,
    ) -> npt.NDArray[np.float32]:
        """Encode interned columns (training, vectorised): ``(n_rows, n_columns)`` float32."""
        n = len(columns[0].ids) if columns else len(numeric) if numeric is not None else 0
        out = np.zeros((n, self.n_columns), dtype=np.float32)
        for j, (col, mapping) in enumerate(zip(columns, self._value_to_code, strict=True)):
            lut = np.array([mapping.get(v, OTHER_CODE) for v in col.values], dtype=np.float32)
            out[:, j] = lut[col.ids] if len(lut) else OTHER_CODE
        n_cat = len(self.spec.categorical)
        if self.spec.numeric:
            if numeric is None:
                raise ValueError("numeric columns required by the spec")
            out[:, n_cat : n_cat + len(self.spec.numeric)] = numeric
        if self.spec.has_tags and tags is not None:
            counts = np.diff(tags.indptr)
            out[:, self._tag_offset - 1] = counts
            lut_cols = np.array(
                [self._tag_to_column.get(v, -1) for v in tags.values], dtype=np.int64
            )
            if len(lut_cols) and len(tags.ids):
                rows = np.repeat(np.arange(n), counts)
                cols = lut_cols[tags.ids]
                keep = cols >= 0
                out[rows[keep], cols[keep]] = 1.0
        return out

    def encode_into(self, out: npt.NDArray[np.float32], raws: Sequence[RawFeatures]) -> None:
        """Fill ``out[:len(raws)]`` (preallocated, ``n_columns`` wide) from RTB records.

        Unseen values get the "other" code; never raises for any field value.
        """
        n = len(raws)
        if n == 0:
            return
        n_cat = len(self.spec.categorical)
        mappings = self._value_to_code
        # one slice assignment of Python lists beats per-element numpy scalar stores
        out[:n, :n_cat] = [
            [m.get(v, OTHER_CODE) for m, v in zip(mappings, raw.categorical(), strict=True)]
            for raw in raws
        ]
        out[:n, n_cat:] = 0.0
        get = self._tag_to_column.get
        tag_count = self._tag_offset - 1
        for i, raw in enumerate(raws):
            out[i, tag_count] = len(raw.tags)
            for tag in raw.tags:
                col = get(tag)
                if col is not None:
                    out[i, col] = 1.0

    def encode_candidates_into(
        self,
        out: npt.NDArray[np.float32],
        jobs: Sequence[tuple[AuctionContext, Sequence[Candidate]]],
    ) -> int:
        """``encode_into(out, raws)`` for the candidates of several requests, without
        building ``RawFeatures``: each request's labels are looked up once. The same codes
        as ``raw_from_candidates`` + ``encode_into`` (the labels come from the same
        functions). Returns the number of rows filled."""
        if self.spec != RTB_SPEC:
            raws = [raw for ctx, cands in jobs for raw in raw_from_candidates(ctx, cands)]
            self.encode_into(out, raws)
            return len(raws)
        m = self._value_to_code
        # column order of RTB_CATEGORICAL: the request's labels at 0-2 and 6-14
        m_ex, m_site, m_pub, m_size, m_pos, m_fmt, m_dev, m_os, m_br = m[:9]
        m_conn, m_country, m_region, m_city, m_hour, m_wd, m_camp, m_cr, m_floor = m[9:]
        other = OTHER_CODE
        rows: list[list[int]] = []
        counts: list[int] = []
        tag_rows: list[int] = []
        tag_cols: list[int] = []
        get_tag = self._tag_to_column.get
        for ctx, cands in jobs:
            ex, site, pub, dev, os_name, br, conn, country, region, city, hour, wd = request_labels(
                ctx
            )
            c_ex, c_site, c_pub = (
                m_ex.get(ex, other),
                m_site.get(site, other),
                m_pub.get(pub, other),
            )
            c_dev, c_os, c_br = m_dev.get(dev, other), m_os.get(os_name, other), m_br.get(br, other)
            c_conn, c_country = m_conn.get(conn, other), m_country.get(country, other)
            c_region, c_city = m_region.get(region, other), m_city.get(city, other)
            c_hour, c_wd = m_hour.get(hour, other), m_wd.get(wd, other)
            tags = ctx.tags
            tag_columns = [col for col in map(get_tag, tags) if col is not None]
            for cand in cands:
                size, pos, fmt, camp, cr, floor = candidate_labels(cand)
                row_index = len(rows)
                rows.append(
                    [
                        c_ex, c_site, c_pub, m_size.get(size, other), m_pos.get(pos, other),
                        m_fmt.get(fmt, other), c_dev, c_os, c_br, c_conn, c_country, c_region,
                        c_city, c_hour, c_wd, m_camp.get(camp, other), m_cr.get(cr, other),
                        m_floor.get(floor, other),
                    ]
                )  # fmt: skip
                counts.append(len(tags))
                tag_rows.extend([row_index] * len(tag_columns))
                tag_cols.extend(tag_columns)
        n = len(rows)
        if n == 0:
            return 0
        n_cat = len(self.spec.categorical)
        out[:n, :n_cat] = rows
        out[:n, n_cat:] = 0.0
        count_column = self._tag_offset - 1
        if n == 1:  # one store is cheaper than building an index array
            out[0, count_column] = counts[0]
        else:
            out[:n, count_column] = counts
        if len(tag_rows) > _FEW_STORES:
            out[tag_rows, tag_cols] = 1.0
        else:
            for row_index, column in zip(tag_rows, tag_cols, strict=True):
                out[row_index, column] = 1.0
        return n

    def encode(self, raws: Sequence[RawFeatures]) -> npt.NDArray[np.float32]:
        out = np.empty((len(raws), self.n_columns), dtype=np.float32)
        self.encode_into(out, raws)
        return out

    def _fill_tags(self, row: npt.NDArray[np.float32], tags: Iterable[str]) -> None:
        n_tags = 0
        get = self._tag_to_column.get
        for tag in tags:
            n_tags += 1
            col = get(tag)
            if col is not None:
                row[col] = 1.0
        row[self._tag_offset - 1] = n_tags

    def to_json(self) -> dict[str, Any]:
        return {
            "encoder_version": ENCODER_VERSION,
            "schema_hash": schema_hash(self.spec),
            "spec": {
                "name": self.spec.name,
                "categorical": list(self.spec.categorical),
                "numeric": list(self.spec.numeric),
                "has_tags": self.spec.has_tags,
            },
            "vocabularies": {
                n: list(v) for n, v in zip(self.spec.categorical, self.vocabularies, strict=True)
            },
            "tags": list(self.tag_vocabulary),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        """Inverse of :meth:`to_json`; raises ``KeyError``/``ValueError`` on a bad document."""
        s = data["spec"]
        spec = FeatureSpec(
            str(s["name"]), tuple(s["categorical"]), tuple(s["numeric"]), bool(s["has_tags"])
        )
        vocabularies = [data["vocabularies"][n] for n in spec.categorical]
        return cls(spec, vocabularies, data.get("tags", ()))


def _top_values(
    values: Sequence[str], ids: npt.NDArray[np.int32], min_count: int, limit: int
) -> list[str]:
    counts = np.bincount(ids, minlength=len(values))
    order = sorted(
        (i for i in range(len(values)) if counts[i] >= min_count),
        key=lambda i: (-int(counts[i]), values[i]),
    )
    return [values[i] for i in order[:limit]]
