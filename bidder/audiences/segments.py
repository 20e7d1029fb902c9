"""Demographic and interest tags from the ``user`` of bid requests in the bid log.

The bid log stores user ids as ``h:<salted hash>`` with the server's salt, which is the
key the tag store uses. ``user.gender`` and ``user.yob`` give ``demo:gender:<m|f|o>`` and
``demo:age:<band>``; ``user.data[].segment[]`` entries give ``interest:<provider>:<id>``,
or ``demo:...`` when the segment is named ``gender``/``age`` with a value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64))
_SAFE = re.compile(r"[^a-z0-9_.\-]+")
_GENDERS = {"m": "m", "male": "m", "f": "f", "female": "f", "o": "o", "other": "o"}


def age_band(age: int) -> str | None:
    if age < AGE_BANDS[0][0] or age > 120:
        return None
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}-{hi}"
    return f"{AGE_BANDS[-1][1] + 1}+"


def _slug(value: object) -> str:
    return _SAFE.sub("_", str(value).strip().lower()).strip("_")[:48]


def user_tags(user: Mapping[str, Any], year: int) -> set[str]:
    """Tags one request's ``user`` object carries."""
    tags: set[str] = set()
    gender = _GENDERS.get(str(user.get("gender", "")).lower())
    if gender:
        tags.add(f"demo:gender:{gender}")
    yob = user.get("yob")
    if isinstance(yob, int) and (band := age_band(year - yob)):
        tags.add(f"demo:age:{band}")
    for data in user.get("data") or ():
        if isinstance(data, dict):
            tags.update(_segment_tags(data))
    return tags


def _segment_tags(data: Mapping[str, Any]) -> Iterable[str]:
    provider = _slug(data.get("id") or data.get("name") or "data")
    for seg in data.get("segment") or ():
        if not isinstance(seg, dict):
            continue
        name = _slug(seg.get("name", ""))
        value = _slug(seg.get("value", ""))
        if name in ("gender", "age") and value:
            kind_value = _GENDERS.get(value, value) if name == "gender" else value
            yield f"demo:{name}:{kind_value}"
        elif seg.get("id") is not None or name:
            yield f"interest:{provider}:{_slug(seg.get('id') or name)}"


def bidlog_user_tags(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """``{user_hash: {tag: last_seen_s}}`` over decision records."""
    out: dict[str, dict[str, float]] = {}
    for record in records:
        if record.get("type") != "decision":
            continue
        user = (record.get("request") or {}).get("user")
        if not isinstance(user, dict):
            continue
        uid = user.get("id")
        if not isinstance(uid, str) or not uid.startswith("h:"):
            continue
        ts = float(record.get("ts", 0.0))
        year = dt.datetime.fromtimestamp(ts, dt.UTC).year
        seen = out.setdefault(uid[2:], {})
        for tag in user_tags(user, year):
            seen[tag] = max(seen.get(tag, ts), ts)
    return {u: tags for u, tags in out.items() if tags}


def read_bidlog(path: Path) -> Iterable[dict[str, Any]]:
    """Records of a bid log file, skipping torn or malformed lines."""
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record
