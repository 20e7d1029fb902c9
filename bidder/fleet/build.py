"""Assembling a fleet node: Redis-backed ledger and stores, and the service that syncs them."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from bidder.config.load import parse_config
from bidder.config.model import Config
from bidder.fleet.plan import DocKind, parse_plan
from bidder.fleet.service import FleetService
from bidder.ledger.redis import LeaseSettings, RedisLedger
from bidder.stores.redis_freqcap import RedisFrequencyStore
from bidder.stores.redis_tags import RedisTagStore

if TYPE_CHECKING:
    from bidder.runtime import Runtime

log = logging.getLogger(__name__)


def resolve_node_id(config: Config) -> str:
    return config.backend.node_id or f"{socket.gethostname()}-{config.server.port}"


def build_fleet_stores(
    config: Config, state_dir: Path | None
) -> tuple[RedisLedger, RedisFrequencyStore, RedisTagStore]:
    """The Redis-backed ledger (journal and outbox under ``state_dir``) and stores."""
    backend, server = config.backend, config.server
    node_id = resolve_node_id(config)
    settings = LeaseSettings(
        node_id=node_id,
        key_prefix=backend.key_prefix,
        lease_fraction=backend.lease_fraction,
        lease_ttl_s=float(backend.lease_ttl_s),
        dedupe_ttl_s=backend.dedupe_ttl_s,
    )
    ledger = RedisLedger(
        settings,
        state_dir / "ledger.journal" if state_dir is not None else None,
        state_dir / "fleet-outbox.journal" if state_dir is not None else None,
        timezone=server.timezone,
        reservation_ttl_s=server.reservation_ttl_s,
    )
    frequency = RedisFrequencyStore(node_id, backend.key_prefix, backend.cache_ttl_s)
    tags = RedisTagStore(node_id, backend.key_prefix, backend.cache_ttl_s)
    return ledger, frequency, tags


def build_fleet_service(runtime: Runtime) -> FleetService:
    """The service for a runtime built with the Redis backend; marks it not ready."""
    ledger, frequency, tags = runtime.ledger, runtime.frequency, runtime.tags
    assert isinstance(ledger, RedisLedger)
    assert isinstance(frequency, RedisFrequencyStore)
    assert isinstance(tags, RedisTagStore)

    def on_document(kind: DocKind, version: int, payload: bytes) -> None:
        if kind is DocKind.PLAN:
            runtime.set_plan(parse_plan(payload))
        else:
            apply_config_document(runtime, payload)
        log.info("applied fleet %s version %d", kind.value, version)

    def on_ready(ready: bool) -> None:
        runtime.ready = ready

    runtime.ready = False
    return FleetService(
        runtime.config.backend, ledger, frequency, tags, runtime.clock, on_document, on_ready
    )


def apply_config_document(runtime: Runtime, payload: bytes) -> None:
    """A published config: campaigns and money settings; this node keeps its own
    ``server`` and ``backend`` sections (ports, node id, state directory)."""
    config = parse_config(payload.decode("utf-8"), environ=os.environ, source="fleet config")
    local = runtime.config
    runtime.apply_config(dataclasses.replace(config, server=local.server, backend=local.backend))
