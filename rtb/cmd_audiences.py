"""`rtb audiences build|pixel-url`: build audience tags from first-party events and the bid log."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bidder.audiences import AudienceSpec, apply_build, build_audiences
from bidder.audiences.segments import read_bidlog
from bidder.config.load import load_config
from bidder.config.model import Config
from bidder.errors import ConfigError
from bidder.eventstore import read_events
from bidder.pixel import PixelSigner, events_path
from bidder.secrets import parse_keyring
from bidder.stores.persist import StoreFileError, read_document
from bidder.stores.tags import FILE_KIND, FILE_VERSION, EmbeddedTagStore

NAME = "audiences"
HELP = "build audience tags (retargeting, RFM, clusters, segments) into the tag store"
EPILOG = """\
examples:
  rtb audiences build --config config.yaml
      reads var/state/events.jsonl (pixel + conversions) and the bid log, writes
      var/state/tags.bin and prints every tag with its size and TTL
  rtb audiences build --now 2026-06-01T12:00:00Z --window-days 14 --clusters 5 --json
  rtb audiences build --reload-url http://127.0.0.1:8081
      then asks the running bidder to load the new tags (POST /admin/tags/reload,
      token from the env var named by server.admin_token_env)
  rtb audiences pixel-url --adv harbor-bank.com --ev visit --uid USER-42
      prints a signed pixel URL and the advertiser's signing key

Tags written: retarget:visitors, retarget:cart_abandoners, rfm:rXfYmZ and rfm:<segment>,
cluster:<k>, demo:gender:*, demo:age:*, interest:<provider>:<id>. See docs/campaign-manager.md.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="build tags and write state_dir/tags.bin")
    build.add_argument("--config", default="config.yaml", help="config file (default config.yaml)")
    build.add_argument("--events", type=Path, help="events file (default state_dir/events.jsonl)")
    build.add_argument("--bidlog", type=Path, help="bid log (default server.bidlog_path)")
    build.add_argument("--tags", type=Path, help="tag file to update (default state_dir/tags.bin)")
    build.add_argument(
        "--now", help="build as of this time: 2026-06-01T12:00:00Z, a date or epoch s"
    )
    build.add_argument("--advertiser", help="only this advertiser's events (advertiser_domain)")
    build.add_argument("--window-days", type=int, default=30, help="retargeting look-back (30)")
    build.add_argument("--clusters", type=int, default=4, help="K-means clusters (4)")
    build.add_argument("--rfm-bins", type=int, default=3, help="RFM score levels (3)")
    build.add_argument("--seed", type=int, default=0, help="K-means seed (0)")
    build.add_argument("--reload-url", help="admin base URL of a running bidder to reload tags")
    build.add_argument("--json", action="store_true", help="print the summary as JSON")
    url = sub.add_parser("pixel-url", help="print a signed pixel URL for an advertiser")
    url.add_argument("--config", default="config.yaml", help="config file (default config.yaml)")
    url.add_argument("--adv", required=True, help="advertiser_domain of a campaign")
    url.add_argument("--ev", default="visit", choices=["visit", "cart", "purchase"])
    url.add_argument("--uid", required=True, help="the user id the site knows")
    url.add_argument("--value", default="", help="order value in currency units (purchases)")
    url.add_argument("--base-url", help="bidder base URL (default server.notice_base_url)")


def parse_instant(text: str) -> float:
    """Epoch seconds from ``2026-06-01T12:00:00Z``, ``2026-06-01`` (UTC) or a number."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--now: expected 2026-06-01T12:00:00Z, 2026-06-01 or epoch seconds, got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(f"{args.config}: the config has problems:", file=sys.stderr)
        for line in err.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"cannot read config {args.config}: {err.strerror}", file=sys.stderr)
        return 1
    try:
        if args.action == "pixel-url":
            return _pixel_url(args, config)
        return _build(args, config)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _build(args: argparse.Namespace, config: Config) -> int:
    state_dir = Path(config.server.state_dir)
    now_s = parse_instant(args.now) if args.now else time.time()
    events_file = args.events or events_path(state_dir)
    if not events_file.exists():
        raise ValueError(f"no events file at {events_file} (pass --events PATH)")
    bidlog = args.bidlog or (Path(config.server.bidlog_path) if config.server.bidlog_path else None)
    spec = AudienceSpec(
        window_days=args.window_days, rfm_bins=args.rfm_bins, clusters=args.clusters,
        seed=args.seed, advertiser=args.advertiser,
    )  # fmt: skip
    print(f"reading events from {events_file}", file=sys.stderr)
    records: Iterable[dict[str, Any]] = ()
    if bidlog is not None and bidlog.exists():
        print(f"reading exchange segments from {bidlog}", file=sys.stderr)
        records = read_bidlog(bidlog)
    build = build_audiences(read_events(events_file), records, now_s, spec)
    tags_file = args.tags or state_dir / "tags.bin"
    store, known = _open_tags(tags_file)
    apply_build(store, build, now_s, known)
    store.save(tags_file)
    summary = {**build.summary(), "tags_file": str(tags_file), "now": now_s}
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _print_summary(summary)
    if args.reload_url:
        return _reload(args.reload_url, config)
    return 0


def _open_tags(path: Path) -> tuple[EmbeddedTagStore, list[str]]:
    store = EmbeddedTagStore()
    if not path.exists():
        return store, []
    try:
        users = list(read_document(path, FILE_KIND, FILE_VERSION)["users"])
        store.load(path)
    except (StoreFileError, KeyError, TypeError) as err:
        raise ValueError(
            f"tag file {path} is unreadable ({err}); move it away to rebuild"
        ) from None
    return store, users


def _print_summary(summary: dict[str, object]) -> None:
    print(f"events read: {summary['events_read']}, users: {summary['users_with_events']}, "
          f"users tagged: {summary['users_tagged']}")  # fmt: skip
    tags = summary["tags"]
    assert isinstance(tags, dict)
    print(f"{'tag':<36} {'users':>8} {'ttl':>8}")
    for tag, info in tags.items():
        print(f"{tag:<36} {info['size']:>8} {info['ttl_s'] / 86400:>7.1f}d")
    print(f"wrote {summary['tags_file']}")


def _reload(base_url: str, config: Config) -> int:
    token = os.environ.get(config.server.admin_token_env, "")
    request = urllib.request.Request(
        base_url.rstrip("/") + "/admin/tags/reload",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            print(f"bidder reloaded tags: {resp.read().decode().strip()}")
    except urllib.error.HTTPError as err:
        print(f"tag reload refused ({err.code}): {err.read().decode().strip()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print(f"cannot reach {base_url}: {err.reason}", file=sys.stderr)
        return 1
    return 0


def _pixel_url(args: argparse.Namespace, config: Config) -> int:
    ring = config.server.notice_secret
    if not ring:
        key_file = Path(config.server.state_dir) / "notice.key"
        if not key_file.exists():
            raise ValueError(
                f"no notice secret: set {config.server.notice_secret_env} "
                f"or start the bidder once to create {key_file}"
            )
        ring = key_file.read_text("utf-8").strip()
    keys, current = parse_keyring(ring)
    signer = PixelSigner(keys, current)
    params = {"adv": args.adv, "ev": args.ev, "uid": args.uid, "value": args.value}
    print(signer.url(args.base_url or config.server.notice_base_url, params))
    print(f"advertiser key for {args.adv}: {signer.key(args.adv)}", file=sys.stderr)
    return 0
