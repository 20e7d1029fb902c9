"""Fit the marginal tables of ``rtb synth`` from the shared iPinYou data (run once, commit).

Reads ``<data>/ipinyou/camp2259-raw/{train,test}.log.txt`` and
``<data>/ipinyou/rlb-dp/info/*.info.json`` and writes
``simulator/synth/data/marginals.json``: small frequency tables (top-K values plus the mass
of the rest) that the generator samples from, so it runs without the shared data.

Usage::

    .venv/bin/python scripts/fit_synth_marginals.py [--data ../shared/data] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "simulator" / "synth" / "data" / "marginals.json"
RAW_COLUMNS = 27  # train.log.txt lacks the trailing nclick/nconversation columns
TOP_DOMAINS = {"1": 150, "2": 200, "3": 40}  # per-exchange domain ranks kept
TOP_SLOTS = 60
TOP_IP_PREFIXES = 120


def read_rows(raw_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    header = (raw_dir / "log.header.tsv").read_text().split()
    rows: list[dict[str, str]] = []
    for name in ("train.log.txt", "test.log.txt"):
        for line in (raw_dir / name).read_text().splitlines():
            fields = line.split("\t")[:RAW_COLUMNS]
            rows.append(dict(zip(header, fields, strict=False)))
    return header, rows


def counts(values: list[Any], top: int | None = None) -> list[list[Any]]:
    """``[[value, count], ...]`` by descending count (ties by value), top-K only."""
    items = sorted(Counter(values).items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [[v, c] for v, c in (items if top is None else items[:top])]


def fit_exchange(rows: list[dict[str, str]], exchange: str) -> dict[str, Any]:
    sub = [r for r in rows if r["adexchange"] == exchange]
    domain_counts = [c for _, c in counts([r["domain"] for r in sub], TOP_DOMAINS[exchange])]
    slots = counts(
        [
            (int(r["slotwidth"]), int(r["slotheight"]), r["slotvisibility"], int(r["slotprice"]))
            for r in sub
        ],
        TOP_SLOTS,
    )
    styles = Counter(
        "mm" if r["slotid"].startswith("mm_") else "section" if "_F_" in r["slotid"] else "numeric"
        for r in sub
    )
    return {
        "rows": len(sub),
        "domain_rank_counts": domain_counts,
        "distinct_domains": len({r["domain"] for r in sub}),
        "slots": [[w, h, vis, floor, c] for (w, h, vis, floor), c in slots],
        "slotid_style": styles.most_common(1)[0][0],
    }


def fit_tags(rows: list[dict[str, str]]) -> dict[str, Any]:
    per_row = [[] if r["usertag"] in ("", "null") else r["usertag"].split(",") for r in rows]
    return {
        "tag_counts": counts([t for tags in per_row for t in tags]),
        "tags_per_row_counts": counts([len(tags) for tags in per_row]),
    }


def fit_market_prices(info_dir: Path) -> dict[str, Any]:
    histograms: dict[str, list[int]] = {}
    for path in sorted(info_dir.glob("*.info.json")):
        info = json.loads(path.read_text())
        histograms[path.name.split(".")[0]] = [int(c) for c in info["price_counter_train"]]
    return {"unit": "fen CPM, bin i = price i", "price_counter_train": histograms}


def fit(data: Path) -> dict[str, Any]:
    raw_dir = data / "ipinyou" / "camp2259-raw"
    header, rows = read_rows(raw_dir)
    section_slots = [r["slotid"] for r in rows if "_F_" in r["slotid"]]
    return {
        "source": "iPinYou camp2259 raw logs (train+test) and rlb-dp price histograms",
        "rows": len(rows),
        "log_header": header,
        "hour_counts": counts([int(r["hour"]) for r in rows]),
        "weekday_counts": counts([int(r["weekday"]) for r in rows]),
        "weekday_convention": "iPinYou: 0 = Sunday ... 6 = Saturday (checked on timestamps)",
        "exchange_counts": counts([r["adexchange"] for r in rows]),
        "exchanges": {e: fit_exchange(rows, e) for e in ("1", "2", "3")},
        "section_prefixes": counts([s.split("_F_")[0] for s in section_slots]),
        "section_suffixes": counts([s.split("_F_")[1] for s in section_slots]),
        "region_counts": counts([r["region"] for r in rows]),
        "city_counts": counts([r["city"] for r in rows]),
        "useragent_counts": counts([r["useragent"] for r in rows]),
        "ip_prefix_counts": counts(
            [".".join(r["IP"].split(".")[:2]) for r in rows], TOP_IP_PREFIXES
        ),
        "usertags": fit_tags(rows),
        "market_price": fit_market_prices(data / "ipinyou" / "rlb-dp" / "info"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    tables = fit(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(tables, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
