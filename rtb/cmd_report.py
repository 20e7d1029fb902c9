"""`rtb report`: a campaign's report (JSON, HTML, PDF) from the bid log and first-party events."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bidder.config.load import load_config
from bidder.config.model import Campaign
from bidder.errors import ConfigError
from bidder.eventstore import Event, read_events
from simulator.progress import Progress

NAME = "report"
HELP = "campaign report (HTML + PDF) from the bid log and events"
EPILOG = """\
examples:
  rtb report --campaign harbor-retarget-app --from 2026-06-01 --to 2026-06-07 \\
      --bidlog var/bidlog.jsonl --events var/state/events.jsonl --config config.yaml --out reports/harbor
      writes reports/harbor/report.{json,html,pdf} and reports/harbor/charts/*.png
  rtb report --campaign synth-1 --from 2013-06-06 --to 2013-06-06 --bidlog replay/bidlog.jsonl --out out/

Impressions are accepted win notices, spend is what notices charged, clicks are click
notices; conversions are purchase events (pixel or POST /conversion) by users after their
first impression. --config adds the planned spend (budget) and the campaign's name.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--campaign", required=True, help="campaign id")
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="last day (inclusive), YYYY-MM-DD")
    parser.add_argument("--bidlog", type=Path, required=True, help="bid log (JSON lines)")
    parser.add_argument("--events", type=Path, help="first-party events (events.jsonl)")
    parser.add_argument("--config", help="config file: budget plan, name, advertiser")
    parser.add_argument("--tz", default="UTC", help="time zone of the dates and hours (UTC)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def _date(text: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag}: expected a date like 2026-06-01, got {text!r}") from None


def _records(path: Path) -> Iterator[dict[str, Any]]:
    size = max(path.stat().st_size, 1)
    progress = Progress(100, f"reading {path.name} (%)")
    done = 0
    read = 0
    with path.open("rb") as fh:
        for line in fh:
            read += len(line)
            step = read * 100 // size - done
            if step:
                progress.advance(step)
                done += step
            if line.strip():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    yield record
    progress.close()


def _campaign(args: argparse.Namespace) -> Campaign | None:
    if not args.config:
        return None
    campaign = load_config(args.config).campaign(args.campaign)
    if campaign is None:
        raise ValueError(f"campaign {args.campaign!r} is not in {args.config}")
    return campaign


def run(args: argparse.Namespace) -> int:
    from bidder.report import ReportWindow, compute_report, render_report

    try:
        tz = zoneinfo.ZoneInfo(args.tz)
        window = ReportWindow(_date(args.start, "--from"), _date(args.end, "--to"), tz)
        campaign = _campaign(args)
        if not args.bidlog.exists():
            raise ValueError(f"no bid log at {args.bidlog}")
        if args.events is not None and not args.events.exists():
            raise ValueError(f"no events file at {args.events}")
        events: list[Event] = list(read_events(args.events)) if args.events else []
        report = compute_report(_records(args.bidlog), events, args.campaign, window, campaign)
        paths = render_report(report, args.out)
    except ConfigError as err:
        print(f"{args.config}: the config has problems:", file=sys.stderr)
        for line in err.lines():
            print(f"  {line}", file=sys.stderr)
        return 1
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    s = report["summary"]
    print(f"{args.campaign} {window.start}..{window.end}: {s['impressions']} impressions, "
          f"{s['unique_visitors']} unique visitors, {s['clicks']} clicks, "
          f"spend {s['spend_micros'] / 1e6:.4f}, {s['conversions']} conversions")  # fmt: skip
    for kind, path in paths.items():
        print(f"  {kind}: {path}")
    if not s["impressions"]:
        print("note: no impressions in the period (check --campaign, --from/--to and --tz)")
    return 0
