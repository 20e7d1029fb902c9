"""Typed OpenRTB 2.5/2.6 BidRequest: only the fields the bidder uses, spec field names.

Built by ``bidder.openrtb.request.parse_bid_request``; nothing else constructs these from
JSON. Prices stay as the request gives them (CPM, in ``bidfloorcur``); conversion to
micros happens in the auction with the configured currency rates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# imp media types, as strings that also name config values and metric labels
BANNER = "banner"
VIDEO = "video"
NATIVE = "native"
AUDIO = "audio"
MEDIA_TYPES = (BANNER, VIDEO, NATIVE, AUDIO)

# OpenRTB 2.6 BidResponse.bid.mtype
MTYPE = {BANNER: 1, VIDEO: 2, AUDIO: 3, NATIVE: 4}


@dataclass(frozen=True, slots=True)
class Format:
    w: int
    h: int


@dataclass(frozen=True, slots=True)
class Banner:
    w: int | None = None
    h: int | None = None
    format: tuple[Format, ...] = ()
    pos: int | None = None
    battr: frozenset[int] = frozenset()

    def sizes(self) -> tuple[Format, ...]:
        """Every acceptable size: ``format[]`` first, then ``w``x``h``."""
        if self.w is not None and self.h is not None:
            own = Format(self.w, self.h)
            return (*self.format, own) if own not in self.format else self.format
        return self.format


@dataclass(frozen=True, slots=True)
class Video:
    mimes: tuple[str, ...] = ()
    w: int | None = None
    h: int | None = None
    minduration: int | None = None
    maxduration: int | None = None
    protocols: frozenset[int] = frozenset()
    placement: int | None = None  # 2.5
    plcmt: int | None = None  # 2.6
    pos: int | None = None
    battr: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Native:
    request: str = ""
    ver: str | None = None
    battr: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Audio:
    mimes: tuple[str, ...] = ()
    minduration: int | None = None
    maxduration: int | None = None
    battr: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Deal:
    id: str
    bidfloor: float = 0.0
    bidfloorcur: str = "USD"
    at: int | None = None
    wseat: tuple[str, ...] = ()
    wadomain: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pmp:
    private_auction: bool = False
    deals: tuple[Deal, ...] = ()


@dataclass(frozen=True, slots=True)
class Imp:
    id: str
    banner: Banner | None = None
    video: Video | None = None
    native: Native | None = None
    audio: Audio | None = None
    bidfloor: float = 0.0
    bidfloorcur: str = "USD"
    pmp: Pmp | None = None
    tagid: str | None = None
    instl: bool = False
    secure: bool | None = None

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


@dataclass(frozen=True, slots=True)
class Publisher:
    id: str | None = None
    domain: str | None = None


@dataclass(frozen=True, slots=True)
class Site:
    id: str | None = None
    domain: str | None = None
    page: str | None = None
    cat: tuple[str, ...] = ()
    publisher: Publisher | None = None


@dataclass(frozen=True, slots=True)
class App:
    id: str | None = None
    bundle: str | None = None
    domain: str | None = None
    cat: tuple[str, ...] = ()
    publisher: Publisher | None = None


@dataclass(frozen=True, slots=True)
class Geo:
    country: str | None = None  # ISO-3166-1 alpha-3 per spec; alpha-2 seen in the wild
    region: str | None = None
    city: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Device:
    ua: str | None = None
    ip: str | None = None
    ipv6: str | None = None
    devicetype: int | None = None
    os: str | None = None
    osv: str | None = None
    make: str | None = None
    model: str | None = None
    ifa: str | None = None
    lmt: bool = False
    dnt: bool = False
    connectiontype: int | None = None
    language: str | None = None
    geo: Geo | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One ``user.data[].segment[]`` entry, keyed by its data provider id."""

    data_id: str
    id: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: str | None = None
    buyeruid: str | None = None
    yob: int | None = None
    gender: str | None = None
    consent: str | None = None  # user.consent (2.6) or user.ext.consent (2.5)
    geo: Geo | None = None
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True, slots=True)
class Regs:
    coppa: bool = False
    gdpr: bool | None = None  # regs.gdpr (2.6) or regs.ext.gdpr (2.5); None = unknown
    us_privacy: str | None = None


@dataclass(frozen=True, slots=True)
class BidRequest:
    id: str
    imp: tuple[Imp, ...]
    site: Site | None = None
    app: App | None = None
    device: Device | None = None
    user: User | None = None
    regs: Regs = field(default_factory=Regs)
    at: int = 2
    tmax: int | None = None  # milliseconds
    cur: tuple[str, ...] = ()
    bcat: frozenset[str] = frozenset()
    badv: frozenset[str] = frozenset()
    bapp: frozenset[str] = frozenset()
    wseat: frozenset[str] = frozenset()
    bseat: frozenset[str] = frozenset()
    test: bool = False
    version: str | None = None  # from the x-openrtb-version header, if any
    ext: Any = None  # raw request.ext, read lazily by whoever needs it

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
