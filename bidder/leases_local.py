"""Budget leases between the worker processes of one machine (``server.workers > 1``).

The parent process is the lease server: it holds the authoritative ledger (the charge
journal) and hands each worker *slices* of a campaign's budget. A worker's ledger is
the fleet's ``RedisLedger`` (``bidder.ledger.redis``) with the Redis calls replaced by
calls to the parent over a Unix socket, so the hot path (``reserve``) touches local
state only and takes no lock, and the lease rules are the fleet's rules:

- a worker reserves only within the slice it holds (local budget = local spend +
  outstanding lease), and fences itself (no new reservations) when it could not renew
  its lease for ``backend.lease_ttl_s``;
- the parent grants a slice only if it fits ``spent + all outstanding slices`` under the
  total and the daily budget, so the sum over workers never passes a budget;
- charges are reported to the parent, which journals them and de-duplicates by key.

Overspend bound: none while workers live. A worker that dies loses the charges it had
not reported yet (at most one ``sync_interval_s`` of them, never more than its slice,
``lease_fraction`` x daily budget), and its slice is freed for the others: so the
bound is one slice per worker crash. Notices for a bid a worker does not hold (the
kernel spreads connections over workers) are relayed through the parent to the
worker that holds the reservation (``NoticeRelay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bidder.config.model import Budget
from bidder.ledger.day import LocalDayClock
from bidder.ledger.embedded import EmbeddedLedger
from bidder.ledger.redis import LeaseSettings, RedisLedger, _FleetView

log = logging.getLogger(__name__)

Message = dict[str, Any]
NoticeAnswer = Callable[[Message], Message]  # a worker's answer to a relayed notice


# -- the parent: lease server ------------------------------------------------------------


@dataclass(slots=True)
class _Slice:
    micros: int
    day: int


@dataclass(slots=True)
class _Peer:
    worker: str
    writer: asyncio.StreamWriter
    slices: dict[str, _Slice] = field(default_factory=dict)


class LeaseServer:
    """The budget authority of one machine; runs in the supervising parent process."""

    def __init__(self, ledger: EmbeddedLedger, timezone: str) -> None:
        self.ledger = ledger
        self._days = LocalDayClock(timezone)
        self._budgets: dict[str, Budget] = {}
        self._peers: dict[str, _Peer] = {}
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.granted_micros_total = 0
        self.charges_total = 0

    def set_budgets(self, budgets: Mapping[str, Budget]) -> None:
        self._budgets = dict(budgets)
        self.ledger.set_budgets(budgets)

    def outstanding(self, campaign_id: str, day: int) -> int:
        """Micros leased to live workers for ``campaign_id`` on ``day``, not yet charged."""
        return sum(
            s.micros
            for p in self._peers.values()
            if (s := p.slices.get(campaign_id)) is not None and s.day == day
        )

    def grant(self, worker: str, campaign_id: str, add: int, day: int, now: float) -> Message:
        """Grant up to ``add`` micros that fit both budgets (fleet ``LEASE`` script rules)."""
        peer = self._peers[worker]
        mine = peer.slices.get(campaign_id)
        if mine is None or mine.day != day:
            mine = peer.slices[campaign_id] = _Slice(0, day)
        spend = self.ledger.campaign_spend(campaign_id, now)
        budget = self._budgets.get(campaign_id)
        others = self.outstanding(campaign_id, day) - mine.micros
        granted = 0
        if budget is not None and add > 0:
            committed = others + mine.micros
            room_total = budget.total_micros - spend.total_micros - committed
            room_day = budget.daily_micros - spend.today_micros - committed
            granted = max(0, min(add, room_total, room_day))
        mine.micros += granted
        self.granted_micros_total += granted
        return {
            "granted": granted,
            "spent": spend.total_micros,
            "spent_day": spend.today_micros,
            "others": others,
        }

    def report(self, worker: str, charges: list[Message], now: float) -> Message:
        """Journal reported charges once each (by key); they leave the worker's slice."""
        peer = self._peers.get(worker)
        applied = 0
        for c in charges:
            key, campaign_id, micros = str(c["key"]), str(c["campaign"]), int(c["micros"])
            if self.ledger.is_charged(key):
                continue
            at = float(c["at"])
            # a reservation the size of the charge, charged at once: the parent's ledger
            # is the spend book (and journal); the budget check was done by the lease
            if micros > 0 and self.ledger.reserve(key, campaign_id, str(c["arm"]), micros, at):
                self.ledger.charge(key, micros, at)
            elif micros > 0:
                self._force_charge(key, campaign_id, str(c["arm"]), micros, at)
            applied += 1
            self.charges_total += 1
            if peer is not None:
                mine = peer.slices.get(campaign_id)
                if mine is not None:
                    mine.micros = max(0, mine.micros - micros)
        return {"applied": applied}

    def _force_charge(self, key: str, campaign_id: str, arm: str, micros: int, at: float) -> None:
        """Record a charge that no longer fits (a crashed worker's late report): spend is
        kept exact even when it passed the budget; bounded by that worker's slice."""
        budgets = dict(self._budgets)
        budget = budgets.get(campaign_id, Budget(0, 0))
        spend = self.ledger.campaign_spend(campaign_id, at)
        lifted = Budget(spend.total_micros + micros + 1, spend.today_micros + micros + 1)
        self.ledger.set_budgets({**budgets, campaign_id: lifted})
        try:
            if self.ledger.reserve(key, campaign_id, arm, micros, at):
                self.ledger.charge(key, micros, at)
        finally:
            self.ledger.set_budgets(
                budgets if campaign_id in budgets else {**budgets, campaign_id: budget}
            )

    def give_back(self, worker: str, campaign_id: str, micros: int) -> Message:
        peer = self._peers.get(worker)
        if peer is not None and (mine := peer.slices.get(campaign_id)) is not None:
            mine.micros = 0 if micros < 0 else max(0, mine.micros - micros)
        return {"ok": True}

    async def relay_notice(self, worker: str, msg: Message) -> Message:
        """Ask every other worker whether it holds the notice's bid; first owner answers."""
        asks = []
        for name, peer in self._peers.items():
            if name == worker:
                continue
            rid = next(self._ids)
            fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self._waiting[rid] = fut
            _write(peer.writer, {**msg, "op": "notice", "rid": rid})
            asks.append(fut)
        try:
            for fut in asyncio.as_completed(asks, timeout=1.0):
                with contextlib.suppress(Exception):
                    answer = await fut
                    if answer.get("owned"):
                        return answer
        except TimeoutError:
            pass
        return {"owned": False}

    async def start(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(path))

    async def close(self) -> None:
        for peer in list(self._peers.values()):
            peer.writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        worker = ""
        try:
            hello = json.loads(await reader.readline())
            worker = str(hello["worker"])
            self._peers[worker] = _Peer(worker, writer)
            _write(writer, {"ok": True})
            while line := await reader.readline():
                msg = json.loads(line)
                if "reply" in msg:  # an answer to a relayed notice
                    fut = self._waiting.pop(int(msg["reply"]), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    continue
                task = asyncio.create_task(self._answer(worker, writer, msg))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("lease connection of worker %s failed: %r", worker, exc)
        finally:
            if self._peers.get(worker) is not None and self._peers[worker].writer is writer:
                del self._peers[worker]  # its slices are free again
            writer.close()

    async def _answer(self, worker: str, writer: asyncio.StreamWriter, msg: Message) -> None:
        op = msg.get("op")
        now = float(msg.get("now", 0.0))
        try:
            if op == "lease":
                out = [
                    self.grant(worker, str(c), int(a), int(msg["day"]), now)
                    for c, a in msg["calls"]
                ]
                result: Message = {"results": out}
            elif op == "report":
                result = self.report(worker, list(msg["charges"]), now)
            elif op == "return":
                result = self.give_back(worker, str(msg["campaign"]), int(msg["micros"]))
            elif op == "spend":
                result = {"views": {c: _view(self.ledger, c, now) for c in msg["campaigns"]}}
            elif op == "notice":
                result = await self.relay_notice(worker, msg)
            else:
                result = {"error": f"unknown op {op!r}"}
        except Exception as exc:  # answered, never kills the connection
            log.exception("lease op %s failed", op)
            result = {"error": repr(exc)}
        _write(writer, {**result, "id": msg.get("id")})


def _view(ledger: EmbeddedLedger, campaign_id: str, now: float) -> list[int]:
    spend = ledger.campaign_spend(campaign_id, now)
    return [spend.total_micros, spend.today_micros]


def _write(writer: asyncio.StreamWriter, msg: Message) -> None:
    writer.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")


# -- the worker: client and ledger ---------------------------------------------------------


class LeaseClient:
    """A worker's connection to the parent: requests with ids, and relayed notices."""

    def __init__(self, path: Path, worker: str, on_notice: NoticeAnswer | None = None) -> None:
        self.path = path
        self.worker = worker
        self.on_notice = on_notice
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_unix_connection(str(self.path))
        _write(self._writer, {"worker": self.worker})
        json.loads(await self._reader.readline())
        self._pump = asyncio.create_task(self._read())

    async def call(self, msg: Message, timeout: float = 2.0) -> Message:
        if self._writer is None or self._writer.is_closing():
            await self.connect()
        assert self._writer is not None
        rid = next(self._ids)
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        _write(self._writer, {**msg, "id": rid})
        try:
            answer = await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(rid, None)
        if "error" in answer:
            raise OSError(f"lease server: {answer['error']}")
        return answer

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._writer is not None:
            self._writer.close()

    async def _read(self) -> None:
        assert self._reader is not None and self._writer is not None
        try:
            while line := await self._reader.readline():
                msg = json.loads(line)
                if msg.get("op") == "notice" and "rid" in msg:
                    answer = self.on_notice(msg) if self.on_notice else {"owned": False}
                    _write(self._writer, {**answer, "reply": msg["rid"]})
                    continue
                fut = self._waiting.pop(int(msg.get("id") or 0), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        finally:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(OSError("lease server connection closed"))


class LocalLeaseLedger(RedisLedger):
    """A worker's ledger: the fleet lease ledger, leasing from the parent process.

    Only the four calls that talk to Redis are replaced; ``sync_leases`` (report, top
    up, renew, give back surplus, fence on a stale lease) is the fleet's. Pass a
    ``LeaseClient`` where the fleet passes a Redis client.
    """

    async def report(self, client: Any) -> int:  # client: LeaseClient
        sent = 0
        while len(self._outbox):
            batch = self._outbox.batch(500)
            charges = [
                {
                    "key": r.key,
                    "campaign": r.campaign_id,
                    "arm": r.arm,
                    "micros": r.micros,
                    "day": r.day_ordinal,
                    "at": r.charged_s,
                }
                for r in batch
            ]
            answer = await client.call(
                {"op": "report", "charges": charges, "now": batch[-1].charged_s}
            )
            self._outbox.ack(r.key for r in batch)
            applied = int(answer.get("applied", 0))
            self._n_reported += applied
            self._n_dup += len(batch) - applied
            sent += len(batch)
        return sent

    async def _lease(self, client: Any, calls: list[tuple[str, Budget, int]], day: int) -> None:
        if not calls:
            return
        msg = {
            "op": "lease",
            "day": day,
            "now": self._last_now_s,
            "calls": [[c, add] for c, _, add in calls],
        }
        answer = await client.call(msg)
        for (campaign_id, _, add), result in zip(calls, answer["results"], strict=True):
            granted = int(result["granted"])
            self._outstanding[campaign_id] = self._outstanding.get(campaign_id, 0) + granted
            if add > 0 and granted == 0:
                self._exhausted.add(campaign_id)
            elif granted > 0 or add == 0:
                self._exhausted.discard(campaign_id)
            self._views[campaign_id] = _FleetView(
                int(result["spent"]), int(result["spent_day"]), int(result["others"])
            )
            self._n_granted += granted

    async def _refresh_views(self, client: Any, campaign_ids: list[str], day: int) -> None:
        if not campaign_ids:
            return
        answer = await client.call(
            {"op": "spend", "campaigns": campaign_ids, "now": self._last_now_s}
        )
        for campaign_id, (spent, spent_day) in answer["views"].items():
            view = self._views.setdefault(campaign_id, _FleetView())
            view.spent_micros, view.spent_today_micros = int(spent), int(spent_day)

    async def _give_back(self, client: Any, campaign_id: str, micros: int) -> None:
        await client.call({"op": "return", "campaign": campaign_id, "micros": micros})
        returned = self._outstanding.get(campaign_id, 0) if micros < 0 else micros
        self._outstanding[campaign_id] = self._outstanding.get(campaign_id, 0) - returned
        self._n_returned += max(0, returned)

    def knows(self, key: str) -> bool:
        """Whether a notice for ``key`` belongs here (held, charged or recently expired)."""
        return key in self._reservations or key in self._charged or key in self._expired


def local_lease_settings(worker: str, lease_fraction: float, lease_ttl_s: float) -> LeaseSettings:
    return LeaseSettings(
        node_id=worker, key_prefix="", lease_fraction=lease_fraction, lease_ttl_s=lease_ttl_s
    )


async def lease_loop(
    ledger: LocalLeaseLedger,
    client: LeaseClient,
    clock: Callable[[], float],
    interval_s: float,
    stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Sync leases every ``interval_s`` (and at once when a slice runs dry) until cancelled."""
    wake = asyncio.Event()
    ledger.on_starved = wake.set
    failing = False
    try:
        while True:
            try:
                await ledger.sync_leases(client, clock())
                failing = False
            except (OSError, TimeoutError, ValueError) as exc:
                if not failing:
                    log.warning("lease sync with the parent failed: %r", exc)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval_s)
            wake.clear()
    finally:
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            await ledger.release_all(client)
        if stop is not None:
            await stop()
