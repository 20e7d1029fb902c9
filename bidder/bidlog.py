"""Bid log: JSON lines of decisions and notices, written off the hot path.

Each line is one record (schema in docs/bidlog.md). The handler only appends to a
bounded in-memory buffer; a background task serialises, scrubs identities (user ids,
IPs and device ids are replaced by salted hashes) and writes. When the buffer is full
new records are dropped and counted, never blocking a bid.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from bidder.decision import Decision
from bidder.events import NoticeOutcome
from bidder.notices import NoticeKind
from bidder.privacy import IdHasher

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class BidLog:
    def __init__(self, path: str | Path | None, hasher: IdHasher, max_buffer: int = 50_000) -> None:
        self.path = Path(path) if path else None
        self.hasher = hasher
        self._buffer: deque[tuple[str, Any, Any, float]] = deque()
        self._max = max_buffer
        self.dropped = 0
        self.written = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def add_decision(self, body: bytes, decision: Decision, now_s: float) -> None:
        self._add("decision", body, decision, now_s)

    def add_notice(self, kind: NoticeKind, outcome: NoticeOutcome, now_s: float) -> None:
        self._add("notice", kind, outcome, now_s)

    def _add(self, kind: str, a: Any, b: Any, now_s: float) -> None:
        if self.path is None:
            return
        if len(self._buffer) >= self._max:
            self.dropped += 1
            return
        self._buffer.append((kind, a, b, now_s))

    def flush(self) -> int:
        """Write everything buffered; returns the number of lines written."""
        written = 0
        while self._buffer:
            written += self.write(self.serialise(len(self._buffer)))
        return written

    def serialise(self, max_records: int) -> list[bytes]:
        """Up to ``max_records`` buffered records as JSON lines (oldest first).

        The server calls this on the event loop in small slices between requests
        (``bidder.app``), so the bid path never waits long for it.
        """
        lines: list[bytes] = []
        buffer = self._buffer
        for _ in range(min(max_records, len(buffer))):
            kind, a, b, now_s = buffer.popleft()
            try:
                record = (
                    self._decision_record(a, b, now_s)
                    if kind == "decision"
                    else _notice_record(a, b, now_s)
                )
                lines.append(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
            except Exception:
                log.exception("bid log record could not be serialised")
                self.dropped += 1
        return lines

    def write(self, lines: list[bytes]) -> int:
        """Append serialised lines to the file (a blocking write: run it off the loop)."""
        if self.path is None or not lines:
            return 0
        with self.path.open("ab") as fh:
            fh.write(b"\n".join(lines) + b"\n")
        self.written += len(lines)
        return len(lines)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _decision_record(self, body: bytes, d: Decision, now_s: float) -> dict[str, Any]:
        return {
            "type": "decision",
            "v": SCHEMA_VERSION,
            "ts": round(now_s, 3),
            "request_id": d.request.id,
            "exchange": d.exchange,
            "request": scrub_request(orjson.loads(body), self.hasher),
            "candidates": [
                {"campaign": c, "creative": cr, "pctr": p} for c, cr, p, _ in d.pctr_by_candidate
            ],
            "bids": [
                {
                    "id": b.id,
                    "imp": b.imp_id,
                    "campaign": b.campaign_id,
                    "creative": b.creative.id,
                    "price_micros": b.price_micros,
                    "floor_micros": b.floor_micros,
                    "pctr": b.pctr,
                    "arm": b.arm,
                    "deal": b.deal_id,
                }
                for b in d.bids
            ],
            "nbr": d.nbr.value if d.nbr is not None else None,
            "rejections": {r.value: n for r, n in sorted(d.rejections.items())},
            "currency": d.currency,
            "model_version": d.model_version,
            "plan_version": d.plan_version,
            "config_version": d.config_version,
        }


def _notice_record(kind: NoticeKind, outcome: NoticeOutcome, now_s: float) -> dict[str, Any]:
    facts = outcome.facts
    return {
        "type": "notice",
        "v": SCHEMA_VERSION,
        "ts": round(now_s, 3),
        "kind": kind.value,
        "status": outcome.status,
        "result": outcome.result,
        "bid": facts.key if facts else None,
        "request_id": facts.auction_id if facts else None,
        "imp": facts.imp_id if facts else None,
        "campaign": facts.campaign_id if facts else None,
        "creative": facts.creative_id if facts else None,
        "price_micros": outcome.price_micros,
        "min_to_win_micros": outcome.min_to_win_micros,
    }


_USER_FIELDS = ("id", "buyeruid")
_DEVICE_FIELDS = ("ifa", "ip", "ipv6", "dpidsha1", "dpidmd5", "didsha1", "didmd5", "macsha1")


def scrub_request(request: Any, hasher: IdHasher) -> Any:
    """The request with identities replaced by salted hashes (``h:<hex>``)."""
    if not isinstance(request, dict):
        return request
    user = request.get("user")
    if isinstance(user, dict):
        for name in _USER_FIELDS:
            if isinstance(user.get(name), str):
                user[name] = "h:" + hasher.hash(user[name])
        user.pop("ext", None)
    device = request.get("device")
    if isinstance(device, dict):
        for name in _DEVICE_FIELDS:
            if isinstance(device.get(name), str):
                device[name] = "h:" + hasher.hash(device[name])
    return request
