"""Local calendar days for daily budgets: epoch seconds → day ordinal in one timezone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


class LocalDayClock:
    """Maps epoch seconds to the local date's ordinal (``date.toordinal()``) in ``timezone``.

    Caches the current day's ``[start, end)`` in epoch seconds, so the common call is two
    float comparisons; DST days (23 or 25 hours) come from zoneinfo.
    """

    __slots__ = ("_day_ordinal", "_end_s", "_start_s", "_tz")

    def __init__(self, timezone: str) -> None:
        self._tz = ZoneInfo(timezone)  # raises ZoneInfoNotFoundError for an unknown name
        self._start_s = 0.0
        self._end_s = -1.0  # empty range: the first call fills the cache
        self._day_ordinal = 0

    @property
    def timezone(self) -> str:
        return self._tz.key

    def day(self, now: float) -> int:
        """The local date of ``now`` as an ordinal."""
        if self._start_s <= now < self._end_s:
            return self._day_ordinal
        return self._roll(now)

    def day_start_s(self, day_ordinal: int) -> float:
        """Epoch seconds of local midnight starting ``day_ordinal``."""
        d = dt.date.fromordinal(day_ordinal)
        return dt.datetime(d.year, d.month, d.day, tzinfo=self._tz).timestamp()

    def _roll(self, now: float) -> int:
        day_ordinal = dt.datetime.fromtimestamp(now, self._tz).date().toordinal()
        start_s = self.day_start_s(day_ordinal)
        end_s = self.day_start_s(day_ordinal + 1)
        if start_s <= now < end_s:  # false only around odd transitions at midnight: no cache
            self._start_s, self._end_s, self._day_ordinal = start_s, end_s, day_ordinal
        return day_ordinal


def day_to_iso(day_ordinal: int) -> str:
    return dt.date.fromordinal(day_ordinal).isoformat()


def iso_to_day(text: str) -> int:
    return dt.date.fromisoformat(text).toordinal()
