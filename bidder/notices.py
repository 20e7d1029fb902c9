"""Signed notice URLs: build nurl/burl/lurl with an HMAC, and verify what comes back.

A notice URL carries the facts needed to charge (auction, imp, bid key, campaign, bid
price in engine micros, response-currency rate, issue time, test flag, user hash) and a
signature over them. The exchange fills the OpenRTB macros (``${AUCTION_PRICE}``,
``${AUCTION_LOSS}``, ``${AUCTION_MIN_TO_WIN}``), which are not signed.

Keys rotate: URLs are signed with the current key id; any key in the keyring verifies,
so old URLs stay valid while both keys are configured.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from binascii import b2a_base64
from collections.abc import Mapping
from enum import Enum
from typing import Protocol
from urllib.parse import quote

from msgspec import Struct

from bidder.errors import NoticeError
from bidder.memo import remember


class NoticeKind(str, Enum):
    WIN = "win"
    BILL = "bill"
    LOSS = "loss"
    CLICK = "click"


# Signed fields, in signing order.
_FIELDS = ("a", "i", "b", "c", "cr", "p", "r", "t", "x", "u", "m", "q", "v")
_MACROS = {
    NoticeKind.WIN: "&price=${AUCTION_PRICE}",
    NoticeKind.BILL: "&price=${AUCTION_PRICE}",
    NoticeKind.LOSS: "&price=${AUCTION_PRICE}&loss=${AUCTION_LOSS}&mtw=${AUCTION_MIN_TO_WIN}",
    NoticeKind.CLICK: "",
}


class NoticeFacts(Struct, frozen=True, gc=False):
    """What a verified notice tells us."""

    kind: NoticeKind
    auction_id: str
    imp_id: str
    key: str
    campaign_id: str
    creative_id: str
    bid_micros: int
    rate: float  # engine currency units per response currency unit
    issued_s: int
    test: bool
    user_hash: str
    arm: str = ""  # optimiser arm of the bid (exchange|media|hour|creative)
    pctr: float | None = None  # the calibrated pCTR the bid was priced with
    model_version: str = ""


class NoticeSigner:
    """HMAC-SHA256 signer with a keyring ``{key_id: secret}`` and a current key id."""

    def __init__(self, keys: Mapping[str, str], current: str, base_url: str) -> None:
        if current not in keys:
            raise ValueError(f"current notice key {current!r} is not in the keyring")
        # keyed HMAC states, copied per signature (cheaper than re-keying every time); the
        # C object under ``hmac.HMAC`` when there is one (its ``copy`` skips Python code)
        self._macs: dict[str, _Mac] = {
            k: _c_mac(hmac.new(v.encode("utf-8"), digestmod=hashlib.sha256))
            for k, v in keys.items()
        }
        self._current = current
        self._base = base_url.rstrip("/")
        self._prefix = {kind: f"{self._base}/{kind.value}?" for kind in NoticeKind}
        self._suffix = {kind: f"&k={current}&s=" for kind in NoticeKind}
        # (signed prefix, URL start, URL middle, macros) for win, bill, loss, click
        self._bid_kinds = tuple(
            (f"{kind.value}?", self._prefix[kind], self._suffix[kind], _MACROS[kind])
            for kind in (NoticeKind.WIN, NoticeKind.BILL, NoticeKind.LOSS, NoticeKind.CLICK)
        )

    @staticmethod
    def body(facts: Mapping[str, str]) -> str:
        """The signed part of a notice URL; build it once per bid, sign it per kind."""
        return "&".join(f"{f}={escape_value(facts.get(f, ''))}" for f in _FIELDS)

    def url(self, kind: NoticeKind, facts: Mapping[str, str]) -> str:
        """Signed URL for ``kind`` with the macros the exchange fills appended."""
        return self.url_for(kind, self.body(facts))

    def url_for(self, kind: NoticeKind, body: str) -> str:
        """Signed URL for ``kind`` from a prebuilt ``body``."""
        sig = self._sign(self._current, kind.value, body)
        return f"{self._prefix[kind]}{body}{self._suffix[kind]}{sig}{_MACROS[kind]}"

    def bid_urls(self, body: str, click: bool) -> tuple[str, str, str, str | None]:
        """``url_for`` WIN, BILL, LOSS and (if ``click``) CLICK of one bid's ``body``."""
        mac = self._macs[self._current]
        urls: list[str] = []
        for signed, start, middle, macros in self._bid_kinds[: 4 if click else 3]:
            sig = _signature(mac, f"{signed}{body}")
            urls.append(f"{start}{body}{middle}{sig}{macros}")
        return urls[0], urls[1], urls[2], urls[3] if click else None

    def verify(
        self, kind: NoticeKind, query: Mapping[str, str], now_s: float, ttl_s: int
    ) -> NoticeFacts:
        """Check signature and expiry; raise ``NoticeError`` with a closed-set reason."""
        key_id = query.get("k")
        sig = query.get("s")
        if not key_id or not sig:
            raise NoticeError("unsigned", "notice has no signature", 403)
        if key_id not in self._macs:
            raise NoticeError("unknown_key", "notice signed with an unknown key", 403)
        body = self.body(query)
        if not hmac.compare_digest(self._sign(key_id, kind.value, body), sig):
            raise NoticeError("bad_signature", "notice signature does not match", 403)
        try:
            issued = int(query["t"])
            bid_micros = int(query["p"])
            rate = float(query["r"])
        except (KeyError, ValueError):
            raise NoticeError("malformed", "notice fields are malformed", 400) from None
        if now_s - issued > ttl_s:
            raise NoticeError("expired", "notice has expired", 410)
        return NoticeFacts(
            kind=kind,
            auction_id=query.get("a", ""),
            imp_id=query.get("i", ""),
            key=query.get("b", ""),
            campaign_id=query.get("c", ""),
            creative_id=query.get("cr", ""),
            bid_micros=bid_micros,
            rate=rate,
            issued_s=issued,
            test=query.get("x") == "1",
            user_hash=query.get("u", ""),
            arm=query.get("m", ""),
            pctr=_float_or_none(query.get("q")),
            model_version=query.get("v", ""),
        )

    def _sign(self, key_id: str, kind: str, body: str) -> str:
        return _signature(self._macs[key_id], f"{kind}?{body}")


class _Mac(Protocol):
    def copy(self) -> _Mac: ...

    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


_URLSAFE = bytes.maketrans(b"+/", b"-_")  # base64 -> base64url (18 bytes: no padding)


def _signature(keyed: _Mac, signed: str) -> str:
    """The URL signature of ``signed`` (``<kind>?<body>``): the first 18 bytes of its
    HMAC-SHA256 under the keyed state ``keyed`` (copied, never updated), base64url."""
    mac = keyed.copy()
    mac.update(signed.encode())
    return b2a_base64(mac.digest()[:18], newline=False).translate(_URLSAFE).decode()


def _c_mac(mac: hmac.HMAC) -> _Mac:
    inner = getattr(mac, "_hmac", None)  # CPython with OpenSSL: a _hashlib.HMAC
    return inner if inner is not None else mac


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_ESCAPED: dict[str, str] = {}  # campaign, creative, arm and model ids repeat: escape once
_ESCAPED_MAX = 20_000


def escape_value(value: str) -> str:
    """Percent-encode a query value; most of ours are unreserved already (fast path)."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def escape_repeated(value: str) -> str:
    """``escape_value`` for values that repeat across bids (campaign, creative, arm, model)."""
    done = _ESCAPED.get(value)
    if done is None:
        done = remember(_ESCAPED, _ESCAPED_MAX, value, escape_value(value))
    return done


def _float_or_none(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def decode_price_micros(raw: str | None, rate: float) -> int:
    """``${AUCTION_PRICE}`` (CPM in the response currency) -> engine micros per impression.

    Raises ``NoticeError`` when the macro is missing, unreplaced or not a finite,
    non-negative number.
    """
    if raw is None or raw == "" or raw.startswith("${"):
        raise NoticeError("price_missing", "notice has no clearing price", 400)
    try:
        cpm = float(raw)
    except ValueError:
        raise NoticeError("bad_price", "clearing price is not a number", 400) from None
    if not math.isfinite(cpm) or cpm < 0:
        raise NoticeError("bad_price", "clearing price must be a finite number >= 0", 400)
    micros = cpm * rate * 1000.0
    return math.floor(micros + 0.5)
