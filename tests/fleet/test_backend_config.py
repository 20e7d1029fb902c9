"""The ``backend:`` section: defaults, a valid Redis fleet section, and every problem named."""

from __future__ import annotations

import pytest

from bidder.config.load import parse_config
from bidder.config.model import BackendKind, BackendSettings
from bidder.errors import ConfigError
from tests.bidder.serving import GOLDEN_CONFIG

BASE = GOLDEN_CONFIG.read_text()


def with_backend(section: str) -> str:
    return BASE + "\nbackend:\n" + "".join(f"  {line}\n" for line in section.splitlines())


def test_backend_config_defaults_to_embedded() -> None:
    assert parse_config(BASE).backend == BackendSettings()


def test_backend_config_reads_every_field() -> None:
    config = parse_config(with_backend(
        "kind: redis\nredis_url: redis://10.0.0.5:6379/2\nkey_prefix: 'fleet1:'\n"
        "node_id: n7\nlease_fraction: 0.02\nlease_ttl_s: 20\nsync_interval_s: 0.25\n"
        "dedupe_ttl_s: 86400\ncache_ttl_s: 30"
    ))  # fmt: skip
    assert config.backend == BackendSettings(
        kind=BackendKind.REDIS, redis_url="redis://10.0.0.5:6379/2", key_prefix="fleet1:",
        node_id="n7", lease_fraction=0.02, lease_ttl_s=20, sync_interval_s=0.25,
        dedupe_ttl_s=86400, cache_ttl_s=30,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("kind: memcached", "backend.kind: must be one of embedded, redis"),
        ("lease_fraction: 0", "backend.lease_fraction: must be > 0"),
        ("lease_fraction: 1.5", "backend.lease_fraction: must be <= 1, got 1.5"),
        ("lease_ttl_s: 2\nsync_interval_s: 1.5", "backend.sync_interval_s: must be at most half"),
        ("redis_url: http://x", "backend.redis_url: must start with redis://"),
        ("leases: 3", "backend.leases: unknown key"),
    ],
)
def test_backend_config_invalid_rows(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(with_backend(section))
    assert any(line.startswith(message) for line in info.value.lines()), info.value.lines()
