"""Bid request parsing: request bytes -> typed ``BidRequest`` plus warnings, or ``RequestError``.

Rejected (``RequestError``, HTTP 400), every problem listed at once:

* the envelope: not JSON / not an object (``json``), nested too deeply (``depth``), a bad
  ``x-openrtb-version`` (``version``), ``imp`` missing, empty, not an array or longer than
  ``max_imps`` (``too_many_imps``), an imp that is not an object;
* a field we serve or price from, present with the wrong JSON type: imp id, media objects,
  sizes, durations, mimes, floors, currencies, deals, ``native.request``, ``cur`` and the
  block lists (dropping those would widen what we serve);
* a negative size or duration, ``tmax <= 0``.

Everything else is a warning: the value is dropped (or replaced by the spec default) and
parsing goes on. That covers descriptive fields, and the rules real traffic breaks (the
shared corpus has each of these, see ``tests/bidder/openrtb/invalid_accepted.json``): a
missing request or imp id (``""``; never bid on it), an imp without banner/video/native/audio,
duplicate imp ids (later imps dropped), site and app together, wseat and bseat together,
``at``/``test`` out of range, min > max duration, a deal without id (dropped), a native
object without ``request`` (dropped), an unknown currency code (kept: the auction no-bids),
a negative floor (treated as none), ``banner.w = -1`` (fluid). A ``${...}`` string where a
number is expected is an unexpanded macro: a warning, whatever the field. JSON ``null`` is
absence. Unknown fields and ``ext`` objects are never read, except ``regs.ext.gdpr``,
``regs.ext.us_privacy`` and ``user.ext.consent`` (OpenRTB 2.5 homes of 2.6 fields).

A clean request (no warning, no error) is decoded by ``bidder.openrtb.fast`` in C; this
module's walk runs only when that fast path declines, and gives the same request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from bidder.errors import Problem, RequestError
from bidder.openrtb.fast import decode_clean
from bidder.openrtb.types import (
    App,
    Audio,
    Banner,
    BidRequest,
    Deal,
    Device,
    Format,
    Geo,
    Imp,
    Native,
    Pmp,
    Publisher,
    Regs,
    Segment,
    Site,
    User,
    Video,
)

__all__ = ["DEFAULT_LIMITS", "ParseLimits", "parse_bid_request", "parse_bid_request_walk"]

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Caps on request size, checked before any per-item work."""

    max_imps: int = 20
    max_depth: int = 32  # JSON nesting depth
    max_array_len: int = 1000  # any array we read (format, deals, segments, cat...)


DEFAULT_LIMITS = ParseLimits()

_AUCTION_TYPES = (1, 2, 3)  # first price, second price, deal price (3 = exchange-specific)
_VALUE_CHARS = 40  # longest value quoted back in a message


class _Walk:
    """Problems found so far; ``fatal`` ones reject the request, the others are warnings."""

    __slots__ = ("errors", "limits", "reason", "warnings")

    def __init__(self, limits: ParseLimits) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.limits = limits
        self.reason = "invalid"  # RequestError.reason if errors are found

    def bad(self, fatal: bool, path: str, message: str, value: Any = ...) -> None:
        if value is not ...:
            message = f"{message}, got {_describe(value)}"
        if fatal:
            self.errors.append(Problem(path, message))
        else:
            self.warnings.append(Problem(path, message))

    def wrong(self, fatal: bool, path: str, message: str, value: Any) -> None:
        """A value of the wrong type; an unexpanded ``${...}`` macro is only ever a warning."""
        if type(value) is str and value.startswith("${"):
            self.warnings.append(Problem(path, "unexpanded macro, ignored"))
        else:
            self.bad(fatal, path, message, value)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= _VALUE_CHARS else text[:_VALUE_CHARS] + "..."
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _int_value(value: Any) -> int | None:
    """``value`` as an int if it is a JSON integer (``300.0`` counts; booleans do not)."""
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is float and value.is_integer():
        return int(value)
    return None


def _int(w: _Walk, obj: Obj, key: str, path: str, fatal: bool, low: int | None = 0) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    number = _int_value(value)
    if number is None:
        w.wrong(fatal, _at(path, key), "must be an integer", value)
        return None
    if low is not None and number < low:
        w.bad(False, _at(path, key), f"must be >= {low}", value)
        return None
    return number


def _size(w: _Walk, obj: Obj, key: str, path: str, fluid: bool = False) -> int | None:
    """A pixel size or a duration: an integer >= 0 (``fluid``: -1 is dropped with a warning)."""
    number = _int(w, obj, key, path, True, low=None)
    if number is None or number >= 0:
        return number
    if fluid and number == -1:  # Meta Audience Network's "full width" banner
        w.bad(False, _at(path, key), "is -1 (fluid), ignored")
    else:
        w.bad(True, _at(path, key), "must be >= 0", number)
    return None


def _float(
    w: _Walk, obj: Obj, key: str, path: str, fatal: bool, low: float | None = 0.0
) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    kind = type(value)
    if (kind is not float and kind is not int) or not math.isfinite(value):
        w.wrong(fatal, _at(path, key), "must be a number", value)
        return None
    if low is not None and value < low:
        w.bad(False, _at(path, key), f"must be >= {low:g}", value)
        return None
    return float(value)


def _flag(w: _Walk, obj: Obj, key: str, path: str, fatal: bool = False) -> bool | None:
    """An OpenRTB 0/1 integer flag (JSON booleans accepted)."""
    value = obj.get(key)
    if value is None:
        return None
    if value in (0, 1):  # == on a tuple, so unhashable values are fine; also True/1.0
        return bool(value)
    w.wrong(fatal, _at(path, key), "must be 0 or 1", value)
    return None


def _str(w: _Walk, obj: Obj, key: str, path: str, fatal: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    w.bad(fatal, _at(path, key), "must be a string", value)
    return None


def _currency(w: _Walk, obj: Obj, key: str, path: str) -> str | None:
    """A currency code, upper-cased; an unknown code is kept (the auction no-bids on it)."""
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not str:
        w.wrong(True, _at(path, key), "must be a string", value)
        return None
    if not (len(value) == 3 and value.isascii() and value.isalpha()):
        w.bad(False, _at(path, key), "must be a 3-letter currency code", value)
    return value.upper()


def _obj(w: _Walk, obj: Obj, key: str, path: str, fatal: bool = False) -> Obj | None:
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    w.bad(fatal, _at(path, key), "must be an object", value)
    return None


def _array(w: _Walk, obj: Obj, key: str, path: str, fatal: bool) -> list[Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if type(value) is not list:
        w.wrong(fatal, _at(path, key), "must be an array", value)
        return None
    if len(value) > w.limits.max_array_len:
        w.bad(
            fatal, _at(path, key), f"must have at most {w.limits.max_array_len} items", len(value)
        )
        return None
    return value


def _strs(w: _Walk, obj: Obj, key: str, path: str, fatal: bool) -> tuple[str, ...]:
    items = _array(w, obj, key, path, fatal)
    if not items:
        return ()
    for index, item in enumerate(items):
        if type(item) is not str:
            w.bad(fatal, f"{_at(path, key)}[{index}]", "must be a string", item)
            return ()
    return tuple(items)


def _ints(w: _Walk, obj: Obj, key: str, path: str) -> frozenset[int]:
    """An array of enum codes (battr, protocols); any bad item drops the array (a warning)."""
    items = _array(w, obj, key, path, False)
    if not items:
        return frozenset()
    numbers: list[int] = []
    for index, item in enumerate(items):
        number = _int_value(item)
        if number is None:
            w.bad(False, f"{_at(path, key)}[{index}]", "must be an integer", item)
            return frozenset()
        numbers.append(number)
    return frozenset(numbers)


def _objects(w: _Walk, obj: Obj, key: str, path: str, fatal: bool) -> list[tuple[str, Obj]]:
    """(path, item) for each object in an array; items of other types are problems."""
    items = _array(w, obj, key, path, fatal)
    if not items:
        return []
    here = _at(path, key)
    out: list[tuple[str, Obj]] = []
    for index, item in enumerate(items):
        if type(item) is dict:
            out.append((f"{here}[{index}]", item))
        elif item is not None or fatal:
            w.bad(fatal, f"{here}[{index}]", "must be an object", item)
    return out


# --- imp and its media objects ---------------------------------------------------------------


def _format(w: _Walk, path: str, item: Obj) -> Format | None:
    width = _size(w, item, "w", path)
    height = _size(w, item, "h", path)
    if width is not None and height is not None:
        return Format(width, height)
    has_w, has_h = item.get("w") is not None, item.get("h") is not None
    if (has_w and width is None) or (has_h and height is None):
        return None  # already reported
    if has_w or has_h or item.get("wratio") is None or item.get("hratio") is None:
        w.bad(False, path, "must define w and h, or wratio and hratio")
    return None  # a flexible (ratio) size: we only serve fixed sizes


def _banner(w: _Walk, obj: Obj, path: str) -> Banner:
    width = _size(w, obj, "w", path, fluid=True)
    height = _size(w, obj, "h", path)
    formats = [_format(w, p, item) for p, item in _objects(w, obj, "format", path, True)]
    return Banner(
        w=width,
        h=height,
        format=tuple(f for f in formats if f is not None),
        pos=_int(w, obj, "pos", path, False),
        battr=_ints(w, obj, "battr", path),
    )


def _durations(w: _Walk, obj: Obj, path: str) -> tuple[int | None, int | None]:
    low = _size(w, obj, "minduration", path)
    high = _size(w, obj, "maxduration", path)
    if low is not None and high is not None and low > high:
        w.bad(False, _at(path, "minduration"), f"must be <= maxduration ({high})", low)
        return None, None
    return low, high


def _video(w: _Walk, obj: Obj, path: str) -> Video:
    low, high = _durations(w, obj, path)
    return Video(
        mimes=_strs(w, obj, "mimes", path, True),
        w=_size(w, obj, "w", path),
        h=_size(w, obj, "h", path),
        minduration=low,
        maxduration=high,
        protocols=_ints(w, obj, "protocols", path),
        placement=_int(w, obj, "placement", path, False),
        plcmt=_int(w, obj, "plcmt", path, False),
        pos=_int(w, obj, "pos", path, False),
        battr=_ints(w, obj, "battr", path),
    )


def _audio(w: _Walk, obj: Obj, path: str) -> Audio:
    low, high = _durations(w, obj, path)
    return Audio(
        mimes=_strs(w, obj, "mimes", path, True),
        minduration=low,
        maxduration=high,
        battr=_ints(w, obj, "battr", path),
    )


def _native(w: _Walk, obj: Obj, path: str) -> Native | None:
    request = obj.get("request")
    if type(request) is dict:
        request = orjson.dumps(request).decode()
    elif type(request) is not str:
        w.bad(request is not None, _at(path, "request"), "must be a string or an object", request)
        return None
    return Native(
        request=request, ver=_str(w, obj, "ver", path), battr=_ints(w, obj, "battr", path)
    )


def _deal(w: _Walk, path: str, obj: Obj) -> Deal | None:
    deal_id = obj.get("id")
    if type(deal_id) is not str or not deal_id:
        fatal = deal_id is not None and deal_id != ""
        w.bad(fatal, _at(path, "id"), "must be a non-empty string", deal_id)
    floor = _float(w, obj, "bidfloor", path, True)
    at = _int(w, obj, "at", path, False, low=None)
    if at is not None and at not in _AUCTION_TYPES:
        w.bad(False, _at(path, "at"), "must be 1, 2 or 3", at)
        at = None
    deal = Deal(
        id=deal_id if type(deal_id) is str else "",
        bidfloor=floor or 0.0,
        bidfloorcur=_currency(w, obj, "bidfloorcur", path) or "USD",
        at=at,
        wseat=_strs(w, obj, "wseat", path, True),
        wadomain=_strs(w, obj, "wadomain", path, True),
    )
    return deal if deal.id else None


def _pmp(w: _Walk, obj: Obj, path: str) -> Pmp:
    deals = [_deal(w, p, item) for p, item in _objects(w, obj, "deals", path, True)]
    return Pmp(
        private_auction=bool(_flag(w, obj, "private_auction", path)),
        deals=tuple(d for d in deals if d is not None),
    )


def _imp(w: _Walk, obj: Obj, path: str) -> Imp:
    imp_id = obj.get("id")
    if type(imp_id) is not str:
        w.bad(imp_id is not None, _at(path, "id"), "must be a string", imp_id)
    media = [_obj(w, obj, key, path, True) for key in ("banner", "video", "native", "audio")]
    banner, video, native, audio = media
    if banner is None and video is None and native is None and audio is None:
        w.bad(False, path, "has none of banner, video, native, audio")
    pmp = _obj(w, obj, "pmp", path, True)
    return Imp(
        id=imp_id if type(imp_id) is str else "",
        banner=None if banner is None else _banner(w, banner, _at(path, "banner")),
        video=None if video is None else _video(w, video, _at(path, "video")),
        native=None if native is None else _native(w, native, _at(path, "native")),
        audio=None if audio is None else _audio(w, audio, _at(path, "audio")),
        bidfloor=_float(w, obj, "bidfloor", path, True) or 0.0,
        bidfloorcur=_currency(w, obj, "bidfloorcur", path) or "USD",
        pmp=None if pmp is None else _pmp(w, pmp, _at(path, "pmp")),
        tagid=_str(w, obj, "tagid", path),
        instl=bool(_flag(w, obj, "instl", path)),
        secure=_flag(w, obj, "secure", path),
    )


def _imps(w: _Walk, request: Obj) -> tuple[Imp, ...]:
    value = request.get("imp")
    if type(value) is not list or not value:
        if value is None:
            w.bad(True, "imp", "is required")
        elif type(value) is list:
            w.bad(True, "imp", "must not be empty")
        else:
            w.bad(True, "imp", "must be an array", value)
        return ()
    if len(value) > w.limits.max_imps:
        w.bad(True, "imp", f"must have at most {w.limits.max_imps} items", len(value))
        w.reason = "too_many_imps"
        return ()
    imps: list[Imp] = []
    index_by_id: dict[str, int] = {}
    for index, item in enumerate(value):
        path = f"imp[{index}]"
        if type(item) is not dict:
            w.bad(True, path, "must be an object", item)
            continue
        imp = _imp(w, item, path)
        if imp.id and imp.id in index_by_id:
            w.bad(False, f"{path}.id", f"duplicates imp[{index_by_id[imp.id]}].id, imp ignored")
            continue
        index_by_id[imp.id] = index
        imps.append(imp)
    return tuple(imps)


# --- context objects: all descriptive, so every problem is a warning --------------------------


def _publisher(w: _Walk, parent: Obj, path: str) -> Publisher | None:
    obj = _obj(w, parent, "publisher", path)
    if obj is None:
        return None
    path = _at(path, "publisher")
    return Publisher(id=_str(w, obj, "id", path), domain=_str(w, obj, "domain", path))


def _site(w: _Walk, obj: Obj) -> Site:
    return Site(
        id=_str(w, obj, "id", "site"),
        domain=_str(w, obj, "domain", "site"),
        page=_str(w, obj, "page", "site"),
        cat=_strs(w, obj, "cat", "site", False),
        publisher=_publisher(w, obj, "site"),
    )


def _app(w: _Walk, obj: Obj) -> App:
    return App(
        id=_str(w, obj, "id", "app"),
        bundle=_str(w, obj, "bundle", "app"),
        domain=_str(w, obj, "domain", "app"),
        cat=_strs(w, obj, "cat", "app", False),
        publisher=_publisher(w, obj, "app"),
    )


def _geo(w: _Walk, parent: Obj, path: str) -> Geo | None:
    obj = _obj(w, parent, "geo", path)
    if obj is None:
        return None
    path = _at(path, "geo")
    country = _str(w, obj, "country", path)
    return Geo(
        country=None if country is None else country.upper(),
        region=_str(w, obj, "region", path),
        city=_str(w, obj, "city", path),
        lat=_float(w, obj, "lat", path, False, low=None),
        lon=_float(w, obj, "lon", path, False, low=None),
    )


def _device(w: _Walk, obj: Obj) -> Device:
    p = "device"
    return Device(
        ua=_str(w, obj, "ua", p),
        ip=_str(w, obj, "ip", p),
        ipv6=_str(w, obj, "ipv6", p),
        devicetype=_int(w, obj, "devicetype", p, False),
        os=_str(w, obj, "os", p),
        osv=_str(w, obj, "osv", p),
        make=_str(w, obj, "make", p),
        model=_str(w, obj, "model", p),
        ifa=_str(w, obj, "ifa", p),
        lmt=bool(_flag(w, obj, "lmt", p)),
        dnt=bool(_flag(w, obj, "dnt", p)),
        connectiontype=_int(w, obj, "connectiontype", p, False),
        language=_str(w, obj, "language", p),
        geo=_geo(w, obj, p),
    )


def _segments(w: _Walk, obj: Obj) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for path, data in _objects(w, obj, "data", "user", False):
        data_id = _str(w, data, "id", path) or _str(w, data, "name", path) or ""
        for seg_path, segment in _objects(w, data, "segment", path, False):
            segment_id = _str(w, segment, "id", seg_path)
            if segment_id is not None:
                out.append(Segment(data_id, segment_id, _str(w, segment, "value", seg_path)))
    return tuple(out)


def _user(w: _Walk, obj: Obj) -> User:
    consent = _str(w, obj, "consent", "user")
    if consent is None:
        ext = obj.get("ext")
        if type(ext) is dict:
            consent = _str(w, ext, "consent", "user.ext")
    return User(
        id=_str(w, obj, "id", "user"),
        buyeruid=_str(w, obj, "buyeruid", "user"),
        yob=_int(w, obj, "yob", "user", False),
        gender=_str(w, obj, "gender", "user"),
        consent=consent,
        geo=_geo(w, obj, "user"),
        segments=_segments(w, obj),
    )


def _regs(w: _Walk, obj: Obj) -> Regs:
    ext = obj.get("ext")
    ext = ext if type(ext) is dict else {}
    gdpr = _flag(w, obj, "gdpr", "regs")
    if gdpr is None:
        gdpr = _flag(w, ext, "gdpr", "regs.ext")
    us_privacy = _str(w, obj, "us_privacy", "regs")
    if us_privacy is None:
        us_privacy = _str(w, ext, "us_privacy", "regs.ext")
    return Regs(coppa=bool(_flag(w, obj, "coppa", "regs")), gdpr=gdpr, us_privacy=us_privacy)


# --- the request ------------------------------------------------------------------------------


def _auction_type(w: _Walk, request: Obj) -> int:
    """``at``, defaulting to 2 (second price) as the spec does, also when unusable."""
    at = _int(w, request, "at", "", False, low=None)
    if at is None:
        return 2
    if at not in _AUCTION_TYPES:
        w.bad(False, "at", "must be 1, 2 or 3", at)
        return 2
    return at


def _tmax(w: _Walk, request: Obj) -> int | None:
    tmax = _int(w, request, "tmax", "", False, low=None)
    if tmax is not None and tmax <= 0:
        w.bad(True, "tmax", "must be > 0", tmax)
        return None
    return tmax


def _request_id(w: _Walk, request: Obj) -> str:
    """The id we echo; a number is stringified, anything else unusable becomes ``""``."""
    value = request.get("id")
    if type(value) is str and value:
        return value
    w.bad(False, "id", "must be a non-empty string", value)
    number = _int_value(value)
    return "" if number is None else str(number)


def _bseat(w: _Walk, request: Obj) -> tuple[str, ...]:
    bseat = _strs(w, request, "bseat", "", True)
    if request.get("wseat") is not None and request.get("bseat") is not None:
        w.bad(False, "bseat", "must not be present together with wseat")
    return bseat


def _context(w: _Walk, request: Obj) -> tuple[Site | None, App | None]:
    site = _obj(w, request, "site", "")
    app = _obj(w, request, "app", "")
    if site is not None and app is not None:
        w.bad(False, "app", "must not be present together with site")
    return (
        None if site is None else _site(w, site),
        None if app is None else _app(w, app),
    )


def _bid_request(w: _Walk, request: Obj, version: str | None) -> BidRequest:
    request_id = _request_id(w, request)
    imps = _imps(w, request)
    site, app = _context(w, request)
    device = _obj(w, request, "device", "")
    user = _obj(w, request, "user", "")
    regs = _obj(w, request, "regs", "")
    return BidRequest(
        id=request_id,
        imp=imps,
        site=site,
        app=app,
        device=None if device is None else _device(w, device),
        user=None if user is None else _user(w, user),
        regs=Regs() if regs is None else _regs(w, regs),
        at=_auction_type(w, request),
        tmax=_tmax(w, request),
        cur=_strs(w, request, "cur", "", True),
        bcat=frozenset(_strs(w, request, "bcat", "", True)),
        badv=frozenset(_strs(w, request, "badv", "", True)),
        bapp=frozenset(_strs(w, request, "bapp", "", True)),
        wseat=frozenset(_strs(w, request, "wseat", "", False)),
        bseat=frozenset(_bseat(w, request)),
        test=bool(_flag(w, request, "test", "")),
        version=version,
    )


def _check_version(w: _Walk, version: str | None) -> str | None:
    """The ``x-openrtb-version`` header: 2.x (e.g. ``2.5``, ``2.5.1``), absent or empty."""
    if version is None or not version.strip():
        return None
    version = version.strip()
    parts = version.split(".")
    if parts[0] != "2" or not all(part.isascii() and part.isdigit() for part in parts[1:]):
        shown = version if len(version) <= _VALUE_CHARS else version[:_VALUE_CHARS] + "..."
        w.bad(True, "x-openrtb-version", f"must be 2.x, got {shown!r}")
        w.reason = "version"
    return version


def _too_deep(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests more than ``max_depth`` arrays/objects (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        children = node.values() if type(node) is dict else node
        stack.extend((child, depth + 1) for child in children if type(child) in (dict, list))
    return False


def _decode(body: bytes, limits: ParseLimits) -> Obj:
    """JSON bytes -> the top-level object; raises ``RequestError`` (json or depth)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise RequestError([Problem("body", "nests too deeply")], "depth") from None
        problem = Problem("body", f"is not valid JSON (line {exc.lineno}, column {exc.colno})")
        raise RequestError([problem], "json") from None
    if type(value) is not dict:
        raise RequestError(
            [Problem("body", f"must be a JSON object, got {_describe(value)}")], "json"
        )
    # the number of brackets bounds the depth: most requests skip the walk
    if body.count(b"{") + body.count(b"[") > limits.max_depth and _too_deep(
        value, limits.max_depth
    ):
        problem = Problem("body", f"must not nest deeper than {limits.max_depth} levels")
        raise RequestError([problem], "depth")
    return value


def parse_bid_request(
    body: bytes, *, version: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> tuple[BidRequest, list[Problem]]:
    """Bytes (already decompressed) -> typed ``BidRequest`` plus warnings.

    Callers guarantee nothing about ``body``. Raises ``RequestError`` listing every
    problem at once, one ``Problem(path, message)`` per problem, with ``reason`` one of
    ``json``, ``depth``, ``version``, ``too_many_imps``, ``invalid``; never raises anything
    else. A returned request has at least one imp and string ids everywhere.
    """
    if version is None or _VERSION_OK.fullmatch(version):
        clean = decode_clean(
            body,
            version.strip() or None if version else None,
            limits.max_imps,
            limits.max_depth,
            limits.max_array_len,
        )
        if clean is not None:
            return clean, []
    return parse_bid_request_walk(body, version=version, limits=limits)


_VERSION_OK = re.compile(r"\s*2(\.[0-9]+)*\s*")  # what _check_version accepts, or blank


def parse_bid_request_walk(
    body: bytes, *, version: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> tuple[BidRequest, list[Problem]]:
    """``parse_bid_request`` without the fast path: the walk that owns every message."""
    walk = _Walk(limits)
    try:
        checked_version = _check_version(walk, version)
        request = _bid_request(walk, _decode(body, limits), checked_version)
    except RequestError as exc:  # the body itself: keep a version problem found before it
        raise RequestError(walk.errors + exc.problems, exc.reason) from None
    except Exception as exc:  # a bug must still answer 400, not crash the handler
        problem = Problem("body", f"could not be parsed ({type(exc).__name__})")
        raise RequestError([problem], "invalid") from exc
    if walk.errors:
        raise RequestError(walk.errors, walk.reason)
    return request, walk.warnings
