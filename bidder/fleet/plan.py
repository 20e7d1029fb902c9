"""Versioned documents (the optimiser's plan, the campaign config) distributed to a fleet.

A publisher writes a document with a higher version than the current one, atomically
with its version number, and announces ``v {kind} {version}`` on the events channel.
Nodes apply any version newer than theirs; a node that missed the message (down,
disconnected) catches up on its next sync by reading the version key. So every node
converges on the highest published version.
"""

from __future__ import annotations

from enum import Enum

import orjson
from redis.asyncio import Redis

from bidder.fleet import scripts
from optimizer.plan import Plan


class DocKind(str, Enum):
    PLAN = "plan"
    CONFIG = "config"


def events_channel(prefix: str) -> str:
    return f"{prefix}events"


def render_plan(plan: Plan) -> bytes:
    return orjson.dumps(
        {
            "version": plan.version,
            "bid_multipliers": dict(plan.bid_multipliers),
            "arm_shares": {k: dict(v) for k, v in plan.arm_shares.items()},
            "creative_weights": {k: dict(v) for k, v in plan.creative_weights.items()},
        }
    )


def parse_plan(data: bytes) -> Plan:
    """Bytes from ``render_plan`` → Plan; raises ValueError on anything else."""
    try:
        obj = orjson.loads(data)
        return Plan(
            version=int(obj["version"]),
            bid_multipliers={str(k): float(v) for k, v in obj["bid_multipliers"].items()},
            arm_shares={str(k): {str(a): float(s) for a, s in v.items()}
                        for k, v in obj["arm_shares"].items()},
            creative_weights={str(k): {str(c): float(w) for c, w in v.items()}
                              for k, v in obj["creative_weights"].items()},
        )  # fmt: skip
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a plan document: {exc!r}") from None


async def publish_document(
    client: Redis, prefix: str, kind: DocKind, version: int, payload: bytes
) -> int:
    """Make ``payload`` current if ``version`` is newer; returns the current version."""
    keys = [f"{prefix}v:{kind.value}", f"{prefix}doc:{kind.value}"]
    args: list[str | int | bytes] = [version, payload, events_channel(prefix), f"v {kind.value}"]
    return int(await client.eval(scripts.PUBLISH_VERSION, 2, *keys, *args))


async def next_version(client: Redis, prefix: str, kind: DocKind) -> int:
    """A version number above every one handed out before (for publishers)."""
    current = int(await client.get(f"{prefix}v:{kind.value}") or 0)
    seq = int(await client.incr(f"{prefix}vseq:{kind.value}"))
    return max(seq, current + 1)


async def read_version(client: Redis, prefix: str, kind: DocKind) -> int:
    return int(await client.get(f"{prefix}v:{kind.value}") or 0)


async def read_document(client: Redis, prefix: str, kind: DocKind) -> tuple[int, bytes] | None:
    """The current (version, document), read together; None when nothing was published."""
    version, payload = await client.mget(f"{prefix}v:{kind.value}", f"{prefix}doc:{kind.value}")
    if version is None or payload is None:
        return None
    return int(version), payload if isinstance(payload, bytes) else payload.encode()
