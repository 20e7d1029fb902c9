"""parse_bid_request: field mapping, errors and warnings on small hand-written requests."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bidder.errors import RequestError
from bidder.openrtb.request import ParseLimits, parse_bid_request
from bidder.openrtb.types import Format, Segment


def _request(**top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "r1", "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}]}
    body.update(top)
    return body


def _imp(**fields: Any) -> dict[str, Any]:
    return _request(imp=[{"id": "1", **fields}])


def _parse(body: dict[str, Any], **kwargs: Any) -> tuple[Any, list[str]]:
    request, warnings = parse_bid_request(orjson.dumps(body), **kwargs)
    return request, [str(w) for w in warnings]


def _errors(body: bytes | dict[str, Any], **kwargs: Any) -> tuple[str, list[str]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(RequestError) as caught:
        parse_bid_request(raw, **kwargs)
    return caught.value.reason, caught.value.lines()


def test_request_minimal_banner_parses_without_warnings() -> None:
    request, warnings = _parse(_request())
    assert warnings == []
    assert request.id == "r1"
    assert request.imp[0].banner.sizes() == (Format(300, 250),)
    assert request.at == 2
    assert request.imp[0].bidfloorcur == "USD"


def test_request_full_fields_are_mapped() -> None:
    body = _request(
        imp=[
            {
                "id": "a",
                "banner": {"format": [{"w": 300.0, "h": 250}], "pos": 1, "battr": [1, 2]},
                "video": {"mimes": ["video/mp4"], "minduration": 5, "maxduration": 30, "plcmt": 1},
                "native": {"request": {"ver": "1.2", "assets": []}, "ver": "1.2"},
                "bidfloor": 1,
                "bidfloorcur": "eur",
                "pmp": {"private_auction": 1, "deals": [{"id": "d1", "bidfloor": 2.5, "at": 1}]},
                "tagid": "slot",
                "instl": 1,
                "secure": 0,
            }
        ],
        site={"id": "s", "domain": "ex.com", "cat": ["IAB1"], "publisher": {"id": "p"}},
        device={
            "ua": "UA",
            "lmt": 1,
            "dnt": 0,
            "devicetype": 4,
            "geo": {"country": "fra", "lat": 1.5},
        },
        user={
            "id": "u",
            "yob": 1980,
            "data": [{"name": "dp", "segment": [{"id": "s1", "value": "v"}]}],
        },
        regs={"coppa": 1, "ext": {"gdpr": 1, "us_privacy": "1YNN"}},
        at=1,
        tmax=120,
        cur=["EUR"],
        bcat=["IAB25"],
        wseat=["seat1"],
        test=1,
        ext={"anything": [1, 2]},
    )
    request, warnings = _parse(body, version="2.5")
    assert warnings == []
    imp = request.imp[0]
    assert imp.media_types() == ("banner", "video", "native")
    assert imp.banner.format == (Format(300, 250),)
    assert imp.banner.battr == frozenset({1, 2})
    assert imp.native.request == '{"ver":"1.2","assets":[]}'
    assert (imp.bidfloor, imp.bidfloorcur, imp.instl, imp.secure) == (1.0, "EUR", True, False)
    assert imp.pmp.private_auction and imp.pmp.deals[0].id == "d1"
    assert request.device.lmt and not request.device.dnt
    assert request.device.geo.country == "FRA"
    assert request.user.segments == (Segment("dp", "s1", "v"),)
    assert (request.regs.coppa, request.regs.gdpr, request.regs.us_privacy) == (True, True, "1YNN")
    assert (request.at, request.tmax, request.test, request.version) == (1, 120, True, "2.5")
    assert request.bcat == frozenset({"IAB25"}) and request.wseat == frozenset({"seat1"})
    assert not hasattr(request, "ext")  # never read, so never kept


def test_request_openrtb26_fields_win_over_25_ext() -> None:
    body = _request(
        regs={"gdpr": 0, "us_privacy": "1---", "ext": {"gdpr": 1, "us_privacy": "1YYY"}},
        user={"consent": "new", "ext": {"consent": "old"}},
    )
    request, _ = _parse(body)
    assert (request.regs.gdpr, request.regs.us_privacy) == (False, "1---")
    assert request.user.consent == "new"


def test_request_user_ext_consent_used_when_26_field_absent() -> None:
    request, _ = _parse(_request(user={"ext": {"consent": "old"}}))
    assert request.user.consent == "old"


@pytest.mark.parametrize("version", [None, "", "2.5", "2.6", "2.5.1", " 2.0 "])
def test_request_version_header_accepted(version: str | None) -> None:
    request, _ = _parse(_request(), version=version)
    assert request.version == (version.strip() or None if version else None)


@pytest.mark.parametrize("version", ["3.0", "2.x", "abc", "2..5"])
def test_request_version_header_rejected(version: str) -> None:
    reason, lines = _errors(_request(), version=version)
    assert reason == "version"
    assert lines == [f"x-openrtb-version: must be 2.x, got {version!r}"]


@pytest.mark.parametrize(
    ("body", "reason", "lines"),
    [
        (b"", "json", ["body: is not valid JSON (line 1, column 1)"]),
        (b'{"id": "\xff"}', "json", ["body: is not valid JSON (line 1, column 1)"]),
        (b'{"id": NaN}', "json", ["body: is not valid JSON (line 1, column 8)"]),
        (b'{"tmax": 1e999}', "json", ["body: is not valid JSON (line 1, column 10)"]),
        (b"null", "json", ["body: must be a JSON object, got null"]),
        (b"[" * 2000, "depth", ["body: nests too deeply"]),
        (
            orjson.dumps(_request(ext={"a": [[[[[{"b": 1}]]]]]})),
            "depth",
            ["body: must not nest deeper than 5 levels"],
        ),
    ],
)
def test_request_envelope_problems_rejected(body: bytes, reason: str, lines: list[str]) -> None:
    limits = ParseLimits(max_depth=5) if reason == "depth" and not body.startswith(b"[") else None
    kwargs = {"limits": limits} if limits else {}
    assert _errors(body, **kwargs) == (reason, lines)


def test_request_too_many_imps_reason() -> None:
    body = _request(imp=[{"id": str(i), "banner": {"w": 1, "h": 1}} for i in range(3)])
    assert _errors(body, limits=ParseLimits(max_imps=2)) == (
        "too_many_imps",
        ["imp: must have at most 2 items, got 3"],
    )


def test_request_array_longer_than_limit_rejected() -> None:
    body = _request(bcat=["IAB1"] * 4)
    assert _errors(body, limits=ParseLimits(max_array_len=3)) == (
        "invalid",
        ["bcat: must have at most 3 items, got 4"],
    )


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (_imp(banner={"w": True, "h": 250}), ["imp[0].banner.w: must be an integer, got boolean"]),
        (_imp(banner={"w": 300.5, "h": 250}), ["imp[0].banner.w: must be an integer, got 300.5"]),
        (_imp(banner="300x250"), ["imp[0].banner: must be an object, got string"]),
        (_imp(banner={"format": {"w": 1}}), ["imp[0].banner.format: must be an array, got object"]),
        (
            _imp(video={"mimes": ["video/mp4"], "maxduration": -1}),
            ["imp[0].video.maxduration: must be >= 0, got -1"],
        ),
        (_imp(audio={"mimes": [1]}), ["imp[0].audio.mimes[0]: must be a string, got 1"]),
        (
            _imp(banner={"w": 1, "h": 1}, bidfloor=[1]),
            ["imp[0].bidfloor: must be a number, got array"],
        ),
        (
            _imp(banner={"w": 1, "h": 1}, pmp={"deals": [None]}),
            ["imp[0].pmp.deals[0]: must be an object, got null"],
        ),
        (
            _imp(banner={"w": 1, "h": 1}, pmp={"deals": [{"id": "d", "bidfloorcur": 9}]}),
            ["imp[0].pmp.deals[0].bidfloorcur: must be a string, got 9"],
        ),
        (_request(cur=[1]), ["cur[0]: must be a string, got 1"]),
        (_request(badv="a.com"), ["badv: must be an array, got string"]),
        (_request(tmax=-5), ["tmax: must be > 0, got -5"]),
    ],
)
def test_request_serving_field_problems_rejected(body: dict[str, Any], lines: list[str]) -> None:
    assert _errors(body) == ("invalid", lines)


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (
            {"imp": [{"id": "1", "banner": {"w": 1, "h": 1}}]},
            ["id: must be a non-empty string, got null"],
        ),
        (_imp(banner={"w": -1, "h": 50}), ["imp[0].banner.w: is -1 (fluid), ignored"]),
        (_request(imp=[{"banner": {"w": 1, "h": 1}}]), ["imp[0].id: must be a string, got null"]),
        (_imp(tagid="t"), ["imp[0]: has none of banner, video, native, audio"]),
        (
            _request(imp=[{"id": "1", "banner": {"w": 1, "h": 1}}, {"id": "1", "video": {}}]),
            ["imp[1].id: duplicates imp[0].id, imp ignored"],
        ),
        (_request(site={}, app={}), ["app: must not be present together with site"]),
        (_request(wseat=["a"], bseat=["b"]), ["bseat: must not be present together with wseat"]),
        (_request(at=5), ["at: must be 1, 2 or 3, got 5"]),
        (_request(test=2), ["test: must be 0 or 1, got 2"]),
        (_request(tmax="${json-unit.any-number}"), ["tmax: unexpanded macro, ignored"]),
        (_imp(banner={"w": 1, "h": 1}, bidfloor=-3), ["imp[0].bidfloor: must be >= 0, got -3"]),
        (
            _imp(banner={"w": 1, "h": 1}, bidfloorcur="EURO"),
            ["imp[0].bidfloorcur: must be a 3-letter currency code, got string"],
        ),
        (
            _imp(video={"minduration": 30, "maxduration": 15}),
            ["imp[0].video.minduration: must be <= maxduration (15), got 30"],
        ),
        (
            _imp(banner={"w": 1, "h": 1}, pmp={"deals": [{"bidfloor": 1}]}),
            ["imp[0].pmp.deals[0].id: must be a non-empty string, got null"],
        ),
        (
            _imp(native={"ver": "1.1"}),
            ["imp[0].native.request: must be a string or an object, got null"],
        ),
        (
            _imp(banner={"format": [{"w": 300}]}),
            ["imp[0].banner.format[0]: must define w and h, or wratio and hratio"],
        ),
        (
            _request(device={"geo": {"lat": "48.8"}, "lmt": "1"}),
            [
                "device.lmt: must be 0 or 1, got string",
                "device.geo.lat: must be a number, got string",
            ],
        ),
        (
            _request(user={"yob": "1980", "data": [{"id": "d", "segment": [{"id": 5}]}]}),
            [
                "user.yob: must be an integer, got string",
                "user.data[0].segment[0].id: must be a string, got 5",
            ],
        ),
        (
            _request(regs={"coppa": "yes", "gdpr": 2}),
            ["regs.gdpr: must be 0 or 1, got 2", "regs.coppa: must be 0 or 1, got string"],
        ),
        (_request(site="example.com"), ["site: must be an object, got string"]),
    ],
)
def test_request_lenient_problems_are_warnings(body: dict[str, Any], lines: list[str]) -> None:
    request, warnings = _parse(body)
    assert warnings == lines
    assert request.imp


def test_request_warned_fields_are_dropped_or_defaulted() -> None:
    body = _request(
        imp=[
            {"id": "1", "banner": {"w": -1, "h": 50}, "bidfloor": -3, "bidfloorcur": "xyz1"},
            {"id": "1", "video": {"mimes": []}},
        ],
        at="ab",
        test="a",
        id=2,
    )
    request, _ = _parse(body)
    imp = request.imp[0]
    assert len(request.imp) == 1
    assert (imp.banner.w, imp.banner.h, imp.bidfloor, imp.bidfloorcur) == (None, 50, 0.0, "XYZ1")
    assert (request.id, request.at, request.test) == ("2", 2, False)


def test_request_native_without_request_is_dropped() -> None:
    request, _ = _parse(_imp(native={}, banner={"w": 1, "h": 1}))
    assert request.imp[0].native is None
    assert request.imp[0].media_types() == ("banner",)


def test_request_null_means_absent() -> None:
    body = _request(
        imp=[{"id": "1", "banner": None, "video": {"mimes": ["v"], "w": None}}],
        site=None,
        tmax=None,
    )
    request, warnings = _parse(body)
    assert warnings == []
    assert request.imp[0].banner is None and request.imp[0].video.w is None
    assert request.site is None and request.tmax is None


def test_request_duplicate_json_keys_last_wins() -> None:
    raw = b'{"id":"r","imp":[{"id":"1","banner":{"w":1,"w":2,"h":3}}]}'
    request, _ = parse_bid_request(raw)
    assert request.imp[0].banner.w == 2


def test_request_huge_integer_is_kept_as_int() -> None:
    raw = b'{"id":"r","imp":[{"id":"1","banner":{"w":100000000000000000000000,"h":1}}]}'
    request, _ = parse_bid_request(raw)
    assert isinstance(request.imp[0].banner.w, int)


def test_request_version_and_body_problems_listed_together() -> None:
    assert _errors(b"nope", version="3.0") == (
        "json",
        ["x-openrtb-version: must be 2.x, got '3.0'", "body: is not valid JSON (line 1, column 1)"],
    )


def test_request_version_reason_wins_over_field_problems() -> None:
    reason, lines = _errors(_request(tmax=0), version="1.0")
    assert reason == "version"
    assert lines == ["x-openrtb-version: must be 2.x, got '1.0'", "tmax: must be > 0, got 0"]
