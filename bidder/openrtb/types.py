"""Typed OpenRTB 2.5/2.6 BidRequest: only the fields the bidder uses, spec field names.

Built by ``bidder.openrtb.request.parse_bid_request``; nothing else constructs these from
JSON. Prices stay as the request gives them (CPM, in ``bidfloorcur``); conversion to
micros happens in the auction with the configured currency rates.

The records are frozen ``msgspec.Struct``s so that a clean request decodes straight into
them in C (``bidder.openrtb.fast``). The ``Meta`` constraints are the conditions under
which that fast decode is exact: anything outside them (a negative size, a lower-case
currency, a JSON boolean flag...) fails the fast decode and goes through the full parser,
which owns every warning and error message. Constructing a record in Python checks
nothing. OpenRTB 0/1 flags are ``int`` (the full parser stores ``bool``, a subclass).
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

# imp media types, as strings that also name config values and metric labels
BANNER = "banner"
VIDEO = "video"
NATIVE = "native"
AUDIO = "audio"
MEDIA_TYPES = (BANNER, VIDEO, NATIVE, AUDIO)

# OpenRTB 2.6 BidResponse.bid.mtype
MTYPE = {BANNER: 1, VIDEO: 2, AUDIO: 3, NATIVE: 4}

MAX_ARRAY_ITEMS = 1000  # the fast decode's array cap (the full parser's default limit)
_INT_CEILING = 2**31  # larger integers go through the full parser (orjson reads them as floats)
_FLOAT_CEILING = 1.7976931348623157e308  # finite only

Count = Annotated[int, Meta(ge=0, le=_INT_CEILING)]  # sizes, durations, enum codes
Flag = Annotated[int, Meta(ge=0, le=1)]
AnyInt = Annotated[int, Meta(ge=-_INT_CEILING, le=_INT_CEILING)]
Price = Annotated[float, Meta(ge=0.0, le=_FLOAT_CEILING)]
Coordinate = Annotated[float, Meta(ge=-_FLOAT_CEILING, le=_FLOAT_CEILING)]
CurrencyCode = Annotated[str, Meta(pattern="^[A-Z]{3}$")]
CountryCode = Annotated[str, Meta(pattern="^[A-Z]*$")]
Strings = Annotated[tuple[str, ...], Meta(max_length=MAX_ARRAY_ITEMS)]
StringSet = Annotated[frozenset[str], Meta(max_length=MAX_ARRAY_ITEMS)]
Codes = Annotated[frozenset[AnyInt], Meta(max_length=MAX_ARRAY_ITEMS)]
AuctionType = Annotated[int, Meta(ge=1, le=3)]


class Format(Struct, frozen=True, gc=False):
    w: Count
    h: Count


class Banner(Struct, frozen=True, gc=False):
    w: Count | None = None
    h: Count | None = None
    format: Annotated[tuple[Format, ...], Meta(max_length=MAX_ARRAY_ITEMS)] = ()
    pos: Count | None = None
    battr: Codes = frozenset()

    def sizes(self) -> tuple[Format, ...]:
        """Every acceptable size: ``format[]`` first, then ``w``x``h``."""
        if self.w is not None and self.h is not None:
            own = Format(self.w, self.h)
            return (*self.format, own) if own not in self.format else self.format
        return self.format


class Video(Struct, frozen=True, gc=False):
    mimes: Strings = ()
    w: Count | None = None
    h: Count | None = None
    minduration: Count | None = None
    maxduration: Count | None = None
    protocols: Codes = frozenset()
    placement: Count | None = None  # 2.5
    plcmt: Count | None = None  # 2.6
    pos: Count | None = None
    battr: Codes = frozenset()


class Native(Struct, frozen=True, gc=False):
    request: str = ""
    ver: str | None = None
    battr: Codes = frozenset()


class Audio(Struct, frozen=True, gc=False):
    mimes: Strings = ()
    minduration: Count | None = None
    maxduration: Count | None = None
    battr: Codes = frozenset()


class Deal(Struct, frozen=True, gc=False):
    id: str
    bidfloor: Price = 0.0
    bidfloorcur: CurrencyCode = "USD"
    at: AuctionType | None = None
    wseat: Strings = ()
    wadomain: Strings = ()


class Pmp(Struct, frozen=True, gc=False):
    private_auction: Flag = False
    deals: Annotated[tuple[Deal, ...], Meta(max_length=MAX_ARRAY_ITEMS)] = ()


class Imp(Struct, frozen=True, gc=False):
    id: str
    banner: Banner | None = None
    video: Video | None = None
    native: Native | None = None
    audio: Audio | None = None
    bidfloor: Price = 0.0
    bidfloorcur: CurrencyCode = "USD"
    pmp: Pmp | None = None
    tagid: str | None = None
    instl: Flag = False
    secure: Flag | None = None

    def media_types(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.banner is not None:
            out.append(BANNER)
        if self.video is not None:
            out.append(VIDEO)
        if self.native is not None:
            out.append(NATIVE)
        if self.audio is not None:
            out.append(AUDIO)
        return tuple(out)


class Publisher(Struct, frozen=True, gc=False):
    id: str | None = None
    domain: str | None = None


class Site(Struct, frozen=True, gc=False):
    id: str | None = None
    domain: str | None = None
    page: str | None = None
    cat: Strings = ()
    publisher: Publisher | None = None


class App(Struct, frozen=True, gc=False):
    id: str | None = None
    bundle: str | None = None
    domain: str | None = None
    cat: Strings = ()
    publisher: Publisher | None = None


class Geo(Struct, frozen=True, gc=False):
    country: CountryCode | None = None  # ISO-3166-1 alpha-3 per spec; alpha-2 seen in the wild
    region: str | None = None
    city: str | None = None
    lat: Coordinate | None = None
    lon: Coordinate | None = None


class Device(Struct, frozen=True, gc=False):
    ua: str | None = None
    ip: str | None = None
    ipv6: str | None = None
    devicetype: Count | None = None
    os: str | None = None
    osv: str | None = None
    make: str | None = None
    model: str | None = None
    ifa: str | None = None
    lmt: Flag = False
    dnt: Flag = False
    connectiontype: Count | None = None
    language: str | None = None
    geo: Geo | None = None


class Segment(Struct, frozen=True, gc=False):
    """One ``user.data[].segment[]`` entry, keyed by its data provider id."""

    data_id: str
    id: str
    value: str | None = None


class User(Struct, frozen=True, gc=False):
    id: str | None = None
    buyeruid: str | None = None
    yob: int | None = None
    gender: str | None = None
    consent: str | None = None  # user.consent (2.6) or user.ext.consent (2.5)
    geo: Geo | None = None
    segments: tuple[Segment, ...] = ()


class Regs(Struct, frozen=True, gc=False):
    coppa: Flag = False
    gdpr: Flag | None = None  # regs.gdpr (2.6) or regs.ext.gdpr (2.5); None = unknown
    us_privacy: str | None = None


NO_REGS = Regs()


class BidRequest(Struct, frozen=True, gc=False):
    id: str
    imp: tuple[Imp, ...]
    site: Site | None = None
    app: App | None = None
    device: Device | None = None
    user: User | None = None
    regs: Regs = NO_REGS
    at: AuctionType = 2
    tmax: int | None = None  # milliseconds
    cur: Strings = ()
    bcat: StringSet = frozenset()
    badv: StringSet = frozenset()
    bapp: StringSet = frozenset()
    wseat: StringSet = frozenset()
    bseat: StringSet = frozenset()
    test: Flag = False
    version: str | None = None  # from the x-openrtb-version header, if any

    def user_key(self) -> str | None:
        """The raw identity used for frequency caps and tags: user.id, buyeruid, device.ifa.

        Callers must hash it (``bidder.privacy``) before storing or logging it.
        """
        if self.user is not None:
            if self.user.id:
                return self.user.id
            if self.user.buyeruid:
                return self.user.buyeruid
        if self.device is not None and self.device.ifa:
            return self.device.ifa
        return None

    def geo(self) -> Geo | None:
        if self.device is not None and self.device.geo is not None:
            return self.device.geo
        if self.user is not None:
            return self.user.geo
        return None
