"""Typed reads of parsed YAML that record a ``Problem`` instead of raising.

``Section`` wraps one YAML mapping and its path (``campaigns[2].budget``). Each read
checks the type and range of one key and returns a usable fallback when the value is
wrong, so the loader keeps going and reports every problem in the file at once. The
messages are written for campaign managers: they name the path, the rule and the value
found, e.g. ``campaigns[2].budget.daily: must be > 0, got -50``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Collection, Iterator, Mapping
from enum import Enum
from typing import TypeVar

from bidder.config.model import Creative, PacingMode, Size, Targeting
from bidder.errors import Problem
from bidder.openrtb.types import AUDIO, BANNER, MEDIA_TYPES, NATIVE, VIDEO

E = TypeVar("E", bound=Enum)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_HOUR_RANGE_RE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_DURATION_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def join_path(path: str, key: str | int) -> str:
    """``campaigns`` + 2 -> ``campaigns[2]``; ``campaigns[2]`` + ``budget`` -> ``...budget``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def describe(value: object) -> str:
    """A value as the campaign manager wrote it, for ``got ...`` in messages."""
    if value is None:
        return "nothing (empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return '"' + shown.replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a section of key: value fields"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return type(value).__name__


def suggest(word: str, choices: Collection[str]) -> str:
    """``; did you mean "budget"?`` for a near miss, else an empty string."""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _yes_no_hint(value: object) -> str:
    if isinstance(value, bool):
        return " (YAML reads unquoted yes/no/on/off as true/false: put the text in quotes)"
    return ""


class Section:
    """One YAML mapping being read; every read records problems into ``problems``."""

    def __init__(self, data: Mapping[str, object], path: str, problems: list[Problem]) -> None:
        self.data = data
        self.path = path
        self.problems = problems

    @classmethod
    def of(
        cls, value: object, path: str, keys: Collection[str], problems: list[Problem]
    ) -> Section | None:
        """The mapping at ``path``, with unknown keys reported; None if not a mapping."""
        if not isinstance(value, dict):
            problems.append(
                Problem(path, f"must be a section of key: value fields, got {describe(value)}")
            )
            return None
        for key in value:
            if not isinstance(key, str):
                problems.append(Problem(path, f"keys must be text, got {describe(key)}"))
            elif key not in keys:
                hint = suggest(key, keys) or "; allowed: " + ", ".join(keys)
                problems.append(Problem(join_path(path, key), f"unknown key{hint}"))
        return cls({k: v for k, v in value.items() if isinstance(k, str)}, path, problems)

    def at(self, key: str) -> str:
        return join_path(self.path, key)

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.at(key), message))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def require(self, key: str) -> bool:
        """True when ``key`` is set; records ``is required`` when it is missing or empty."""
        if self.has(key):
            return True
        self.add(key, "is required")
        return False

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if not self.has(key):
            if required:
                self.require(key)
            return default
        value = self.data[key]
        if not isinstance(value, str):
            self.add(key, f"must be text, got {describe(value)}{_yes_no_hint(value)}")
            return default
        if not value.strip():
            self.add(key, "must not be blank")
            return default
        return value.strip()

    def integer(
        self, key: str, default: int, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        if not self.has(key):
            return default
        value = read_integer(self.data[key], self.at(key), self.problems, lo=lo, hi=hi)
        return default if value is None else value

    def number(
        self,
        key: str,
        default: float,
        *,
        gt: float | None = None,
        lt: float | None = None,
        required: bool = False,
    ) -> float:
        if not self.has(key):
            if required:
                self.require(key)
            return default
        value = read_number(self.data[key], self.at(key), self.problems, gt=gt, lt=lt)
        return default if value is None else value

    def flag(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            self.add(key, f"must be true or false, got {describe(value)}")
            return default
        return value

    def choice(self, key: str, kind: type[E], default: E, *, required: bool = False) -> E:
        if not self.has(key):
            if required:
                self.require(key)
            return default
        value = self.data[key]
        options = [str(member.value) for member in kind]
        if isinstance(value, str):
            for member in kind:
                if member.value == value.strip().lower():
                    return member
        hint = suggest(value, options) if isinstance(value, str) else ""
        self.add(key, f"must be one of {', '.join(options)}, got {describe(value)}{hint}")
        return default

    def items(self, key: str) -> Iterator[tuple[str, object]]:
        """(path, value) of each item of the list at ``key``; nothing if absent or wrong."""
        if not self.has(key):
            return
        value = self.data[key]
        if not isinstance(value, list):
            self.add(key, f"must be a list, got {describe(value)}")
            return
        for i, item in enumerate(value):
            yield join_path(self.at(key), i), item

    def each_text(
        self, key: str, *, upper: bool = False, lower: bool = False
    ) -> Iterator[tuple[str, str]]:
        """(path, text) of each text item of a list, stripped (and case-folded if asked)."""
        for path, item in self.items(key):
            if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip():
                self.problems.append(
                    Problem(path, f"must be text, got {describe(item)}{_yes_no_hint(item)}")
                )
                continue
            text = str(item).strip()
            yield path, text.upper() if upper else text.lower() if lower else text

    def texts(self, key: str, *, upper: bool = False, lower: bool = False) -> tuple[str, ...]:
        return tuple(text for _, text in self.each_text(key, upper=upper, lower=lower))

    def section(self, key: str, keys: Collection[str]) -> Section | None:
        if not self.has(key):
            return None
        return Section.of(self.data[key], self.at(key), keys, self.problems)


def read_integer(
    value: object, path: str, problems: list[Problem], *, lo: int | None, hi: int | None
) -> int | None:
    """A whole number in [lo, hi]; None (and a problem) otherwise."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        problems.append(Problem(path, f"must be a whole number, got {describe(value)}"))
        return None
    if lo is not None and hi is not None and not lo <= value <= hi:
        problems.append(Problem(path, f"must be between {lo} and {hi}, got {value}"))
        return None
    if lo is not None and value < lo:
        problems.append(Problem(path, f"must be >= {lo}, got {value}"))
        return None
    if hi is not None and value > hi:
        problems.append(Problem(path, f"must be <= {hi}, got {value}"))
        return None
    return value


def read_number(
    value: object, path: str, problems: list[Problem], *, gt: float | None, lt: float | None
) -> float | None:
    """A finite number with ``gt < value < lt``; None (and a problem) otherwise."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        problems.append(Problem(path, f"must be a number, got {describe(value)}"))
        return None
    if not math.isfinite(value):
        problems.append(Problem(path, f"must be a finite number, got {describe(value)}"))
        return None
    if gt is not None and lt is not None and not gt < value < lt:
        problems.append(Problem(path, f"must be > {gt:g} and < {lt:g}, got {value!r}"))
        return None
    if gt is not None and value <= gt:
        problems.append(Problem(path, f"must be > {gt:g}, got {value!r}"))
        return None
    if lt is not None and value >= lt:
        problems.append(Problem(path, f"must be < {lt:g}, got {value!r}"))
        return None
    return float(value)


def read_size(value: object, path: str, problems: list[Problem]) -> Size | None:
    """``300x250`` -> Size(300, 250)."""
    match = _SIZE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(
            Problem(
                path, f"must be a size written WIDTHxHEIGHT like 300x250, got {describe(value)}"
            )
        )
        return None
    w, h = int(match[1]), int(match[2])
    if w <= 0 or h <= 0:
        problems.append(Problem(path, f"width and height must be > 0, got {describe(value)}"))
        return None
    return Size(w, h)


def read_duration_s(value: object, path: str, problems: list[Problem]) -> int | None:
    """``90s``, ``30m``, ``24h``, ``7d`` or a whole number of seconds; must be > 0."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION_RE.match(value.lower())):
        seconds = int(match[1]) * _DURATION_UNIT_S[match[2]]
    if seconds is None:
        problems.append(
            Problem(
                path, f"must be a duration like 90s, 30m, 24h, 7d or seconds, got {describe(value)}"
            )
        )
        return None
    if seconds <= 0:
        problems.append(Problem(path, f"must be > 0, got {describe(value)}"))
        return None
    return seconds


def read_hours(value: object, path: str, problems: list[Problem]) -> set[int]:
    """One hour (``8``) or an inclusive range (``8-23``), each 0-23."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 23:
            return {value}
        problems.append(Problem(path, f"must be an hour between 0 and 23, got {value}"))
        return set()
    match = _HOUR_RANGE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        problems.append(
            Problem(path, f"must be an hour 0-23 or a range like 8-23, got {describe(value)}")
        )
        return set()
    first, last = int(match[1]), int(match[2])
    if first > 23 or last > 23:
        problems.append(Problem(path, f"hours must be between 0 and 23, got {describe(value)}"))
        return set()
    if first > last:
        problems.append(
            Problem(
                path,
                f"range must go from early to late hour (for overnight write two ranges "
                f"like 22-23 and 0-5), got {describe(value)}",
            )
        )
        return set()
    return set(range(first, last + 1))


def read_pacing_curve(s: Section, pacing: PacingMode) -> tuple[float, ...]:
    """``pacing_curve``: 24 hourly plan weights (local hours 0-23, >= 0, not all 0)."""
    if not s.has("pacing_curve"):
        return ()
    weights: list[float] = []
    for path, item in s.items("pacing_curve"):
        if not isinstance(item, int | float) or isinstance(item, bool) or not math.isfinite(item):
            s.problems.append(Problem(path, f"must be a number, got {describe(item)}"))
        elif item < 0:
            s.problems.append(Problem(path, f"must be >= 0, got {item!r}"))
        else:
            weights.append(float(item))
            continue
        weights.append(0.0)
    value = s.data["pacing_curve"]
    if not isinstance(value, list):
        return ()
    if len(value) != 24:
        s.add("pacing_curve", f"must list 24 hourly weights (hours 0-23), got {len(value)}")
        return ()
    if sum(weights) <= 0:
        s.add("pacing_curve", "must give at least one hour a weight > 0")
        return ()
    if pacing is PacingMode.ASAP:
        s.add("pacing_curve", "applies only to pacing: even, got pacing: asap")
        return ()
    return tuple(weights)


def read_instant(
    value: object, path: str, problems: list[Problem], *, whole_day: bool = False
) -> dt.datetime | None:
    """A date or an ISO datetime, as an aware UTC datetime (naive times are UTC).

    A bare date means midnight UTC at its start, or with ``whole_day`` (flight ends,
    which are exclusive) midnight at its end, so ``end: 2026-12-31`` includes that day.
    """
    if isinstance(value, str):
        text = value.strip()
        with contextlib.suppress(ValueError):
            value = (
                dt.date.fromisoformat(text)
                if len(text) == 10
                else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        start = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return start + dt.timedelta(days=1) if whole_day else start
    problems.append(
        Problem(
            path,
            "must be a date like 2026-01-31 or a date and time like 2026-01-31T08:00:00Z, "
            f"got {describe(value)}",
        )
    )
    return None


# --- campaign targeting and creatives -------------------------------------------------

TARGETING_KEYS = (
    "countries", "regions", "cities", "device_types", "os", "inventory", "apps", "sites",
    "block_categories", "sizes", "media", "deals", "deals_only",
)  # fmt: skip
ALLOW_BLOCK_KEYS = ("allow", "block")
INVENTORY_TYPES = ("site", "app")
# OpenRTB 2.x device.devicetype (list 5.21 in 2.5, AdCOM 1.0 DeviceType in 2.6)
DEVICE_TYPE_BY_NAME = {
    "mobile": 1, "mobile_tablet": 1, "pc": 2, "desktop": 2, "ctv": 3, "connected_tv": 3,
    "tv": 3, "phone": 4, "tablet": 5, "connected_device": 6, "set_top_box": 7, "stb": 7,
}  # fmt: skip
DEVICE_TYPE_NAMES_SHOWN = ("phone", "tablet", "mobile", "desktop", "ctv", "set_top_box")
CREATIVE_KEYS = (
    "id", "format", "size", "sizes", "w", "h", "markup", "vast", "landing_url", "adomain", "cat",
    "attr", "mimes", "duration_s", "enabled",
)  # fmt: skip
CREATIVE_ATTR_MAX = 17  # OpenRTB creative attributes are 1-17
_COUNTRY_RE = re.compile(r"^[A-Z]{2,3}$")


def build_targeting(s: Section | None) -> Targeting:
    """``campaigns[i].targeting``; every list is optional and empty means "any"."""
    if s is None:
        return Targeting()
    apps = s.section("apps", ALLOW_BLOCK_KEYS)
    sites = s.section("sites", ALLOW_BLOCK_KEYS)
    targeting = Targeting(
        countries=frozenset(_countries(s)),
        regions=frozenset(s.texts("regions")),
        cities=frozenset(s.texts("cities")),
        device_types=frozenset(_device_types(s)),
        os=frozenset(s.texts("os", lower=True)),
        inventory=frozenset(_options(s, "inventory", INVENTORY_TYPES)),
        app_bundles_allow=frozenset(apps.texts("allow") if apps else ()),
        app_bundles_block=frozenset(apps.texts("block") if apps else ()),
        site_domains_allow=frozenset(sites.texts("allow", lower=True) if sites else ()),
        site_domains_block=frozenset(sites.texts("block", lower=True) if sites else ()),
        iab_categories_block=frozenset(s.texts("block_categories")),
        sizes=frozenset(
            size for path, item in s.items("sizes") if (size := read_size(item, path, s.problems))
        ),
        media_types=frozenset(_options(s, "media", MEDIA_TYPES)),
        deal_ids=frozenset(s.texts("deals")),
        deals_only=s.flag("deals_only", False),
    )
    if targeting.deals_only and not targeting.deal_ids:
        s.add("deals_only", "is true but no deals are listed, so the campaign could never bid")
    return targeting


def _countries(s: Section) -> list[str]:
    out = []
    for path, code in s.each_text("countries", upper=True):
        if _COUNTRY_RE.match(code):
            out.append(code)
        else:
            s.problems.append(
                Problem(path, f"must be a country code like USA or US, got {describe(code)}")
            )
    return out


def _options(s: Section, key: str, options: Collection[str]) -> list[str]:
    out = []
    for path, value in s.each_text(key, lower=True):
        if value in options:
            out.append(value)
        else:
            hint = suggest(value, options)
            s.problems.append(
                Problem(path, f"must be one of {', '.join(options)}, got {describe(value)}{hint}")
            )
    return out


def _device_types(s: Section) -> list[int]:
    out = []
    for path, item in s.items("device_types"):
        if isinstance(item, str) and item.strip().lower() in DEVICE_TYPE_BY_NAME:
            out.append(DEVICE_TYPE_BY_NAME[item.strip().lower()])
        elif isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 7:
            out.append(item)
        else:
            hint = suggest(item, DEVICE_TYPE_BY_NAME) if isinstance(item, str) else ""
            s.problems.append(
                Problem(
                    path,
                    "must be an OpenRTB device type 1-7 or one of "
                    f"{', '.join(DEVICE_TYPE_NAMES_SHOWN)}, got {describe(item)}{hint}",
                )
            )
    return out


def build_creatives(
    campaign: Section,
    targeting: Targeting,
    *,
    default_adomain: str,
    default_cat: tuple[str, ...],
) -> tuple[Creative, ...]:
    """``campaigns[i].creatives``: at least one, ids unique, each able to serve."""
    if not campaign.require("creatives"):
        return ()
    items = list(campaign.items("creatives"))
    if isinstance(campaign.data["creatives"], list) and not items:
        campaign.add("creatives", "must list at least one creative")
    creatives: list[Creative] = []
    id_to_path: dict[str, str] = {}
    for path, item in items:
        s = Section.of(item, path, CREATIVE_KEYS, campaign.problems)
        if s is None:
            continue
        creative = _build_creative(s, default_adomain, default_cat)
        if creative.id in id_to_path:
            s.add(
                "id",
                f'duplicate creative id "{creative.id}", also used by {id_to_path[creative.id]}',
            )
        elif creative.id:
            id_to_path[creative.id] = path
        _check_fits_targeting(s, creative, targeting)
        creatives.append(creative)
    return tuple(creatives)


def _build_creative(s: Section, default_adomain: str, default_cat: tuple[str, ...]) -> Creative:
    creative_id = s.text("id", "", required=True) or ""
    fmt = (s.text("format", "", required=True) or "").lower()
    if fmt and fmt not in MEDIA_TYPES:
        hint = suggest(fmt, MEDIA_TYPES)
        s.add("format", f"must be one of {', '.join(MEDIA_TYPES)}, got {describe(fmt)}{hint}")
    sizes = _creative_sizes(s)
    size = sizes[0] if sizes else None
    markup = _creative_markup(s, fmt)
    landing_url = _landing_url(s)
    adomain = s.texts("adomain", lower=True) or ((default_adomain,) if default_adomain else ())
    cat = s.texts("cat") or default_cat
    attr = frozenset(_creative_attrs(s))
    mimes, duration_s = _av_fields(s, fmt)
    return Creative(
        id=creative_id,
        format=fmt,
        w=size.w if size else None,
        h=size.h if size else None,
        markup=markup,
        landing_url=landing_url,
        adomain=adomain,
        cat=cat,
        attr=attr,
        mimes=mimes,
        duration_s=duration_s,
        enabled=s.flag("enabled", True),
        sizes=sizes if len(sizes) > 1 else (),
    )


def _av_fields(s: Section, fmt: str) -> tuple[tuple[str, ...], int | None]:
    """``mimes`` and ``duration_s``, which only video and audio creatives use."""
    if fmt in (VIDEO, AUDIO):
        mimes: list[str] = []
        for path, mime in s.each_text("mimes", lower=True):
            if "/" in mime:
                mimes.append(mime)
            else:
                s.problems.append(
                    Problem(path, f"must be a MIME type like video/mp4, got {describe(mime)}")
                )
        duration_s = s.integer("duration_s", 0, lo=1)
        return tuple(mimes), duration_s or None
    for key in ("mimes", "duration_s"):
        if s.has(key) and fmt in MEDIA_TYPES:
            s.add(key, "is only used by video and audio creatives")
    return (), None


def _creative_sizes(s: Section) -> tuple[Size, ...]:
    """``sizes: [300x250, 728x90]`` (a responsive creative) or the single ``size``/``w``/``h``."""
    if s.has("sizes"):
        if s.has("size") or s.has("w") or s.has("h"):
            s.add("sizes", "give either sizes, or size, or w and h")
        found = [
            size for path, item in s.items("sizes") if (size := read_size(item, path, s.problems))
        ]
        if s.has("sizes") and not found and not s.problems:
            s.add("sizes", "must list at least one size like 300x250")
        return tuple(dict.fromkeys(found))
    size = _creative_size(s)
    return (size,) if size is not None else ()


def _creative_size(s: Section) -> Size | None:
    if s.has("size"):
        if s.has("w") or s.has("h"):
            s.add("size", "give either size or w and h, not both")
        return read_size(s.data["size"], s.at("size"), s.problems)
    if not (s.has("w") or s.has("h")):
        return None
    if not (s.require("w") and s.require("h")):
        return None
    w = read_integer(s.data["w"], s.at("w"), s.problems, lo=1, hi=None)
    h = read_integer(s.data["h"], s.at("h"), s.problems, lo=1, hi=None)
    return Size(w, h) if w is not None and h is not None else None


def _creative_markup(s: Section, fmt: str) -> str | None:
    """Banner and native take ``markup``; video and audio take VAST XML in ``vast``."""
    if fmt in (VIDEO, AUDIO):
        if s.has("markup"):
            s.add("markup", f"{fmt} creatives take their VAST XML in vast:, not markup:")
        if not s.has("vast"):
            s.add("vast", f"is required for {fmt} creatives (the VAST XML)")
        vast = s.text("vast")
        if vast is not None and "<vast" not in vast.lower():
            s.add("vast", f"must be VAST XML (<VAST version=...>...</VAST>), got {describe(vast)}")
        return vast
    if fmt not in MEDIA_TYPES:
        return s.text("markup")
    if s.has("vast"):
        s.add("vast", f"is only used by video and audio creatives; {fmt} creatives use markup:")
    if not s.has("markup"):
        what = "the ad HTML" if fmt == BANNER else "the native response JSON"
        s.add("markup", f"is required for {fmt} creatives ({what})")
    markup = s.text("markup")
    if fmt == NATIVE and markup is not None and not _is_json_object(markup):
        s.add("markup", f"must be the native response as a JSON object, got {describe(markup)}")
    return markup


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _landing_url(s: Section) -> str:
    url = s.text("landing_url", "", required=True) or ""
    scheme, sep, rest = url.partition("://")
    if url and (scheme.lower() not in ("http", "https") or not sep or not rest):
        s.add("landing_url", f"must start with http:// or https://, got {describe(url)}")
    return url


def _creative_attrs(s: Section) -> list[int]:
    out = []
    for path, item in s.items("attr"):
        attr = read_integer(item, path, s.problems, lo=1, hi=CREATIVE_ATTR_MAX)
        if attr is not None:
            out.append(attr)
    return out


def _check_fits_targeting(s: Section, creative: Creative, targeting: Targeting) -> None:
    """A creative the campaign's own targeting excludes could never serve: say so."""
    media = targeting.media_types
    if media and creative.format in MEDIA_TYPES and creative.format not in media:
        s.add(
            "format",
            f'"{creative.format}" is not in targeting.media ({", ".join(sorted(media))}), '
            "so this creative could never serve",
        )
    if creative.format == BANNER and (creative.w is None or creative.h is None):
        if not any(s.has(key) for key in ("size", "sizes", "w", "h")):
            s.add("size", "is required for banner creatives (like size: 300x250)")
        return
    if creative.format == BANNER and targeting.sizes:
        outside = [z for z in creative.banner_sizes() if z not in targeting.sizes]
        size = outside[0] if outside else None
        if size is not None:
            sizes = ", ".join(sorted(f"{z.w}x{z.h}" for z in targeting.sizes))
            s.add(
                "sizes" if s.has("sizes") else "size" if s.has("size") else "w",
                f"{size.w}x{size.h} is not in targeting.sizes ({sizes}), "
                "so this creative could never serve",
            )
