"""Static HTML pages with PNG plots (matplotlib, Agg backend) for replays and sweeps."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    # fixed metadata keeps PNG bytes stable across runs
    fig.savefig(path, dpi=100, metadata={"Software": None})
    _pyplot().close(fig)


def plot_replay(report: Mapping[str, Any], out_dir: Path) -> list[str]:
    """Spend against plan (cumulative) and win rate per episode; returns PNG names."""
    plt = _pyplot()
    episodes = report["episodes"]
    x = [e["episode"] for e in episodes]
    spend, plan, total_spend, total_plan = [], [], 0, 0
    for e in episodes:
        total_spend += e["spend"]
        total_plan += e["budget"]
        spend.append(total_spend)
        plan.append(total_plan)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, plan, label="plan (budget)", linestyle="--")
    ax.plot(x, spend, label="spend")
    ax.set_xlabel("episode")
    ax.set_ylabel(f"cumulative {report['money_unit']}")
    ax.legend()
    _save(fig, out_dir / "spend-vs-plan.png")
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, [e["impressions"] / e["auctions"] for e in episodes])
    ax.set_xlabel("episode")
    ax.set_ylabel("win rate")
    _save(fig, out_dir / "win-rate.png")
    return ["spend-vs-plan.png", "win-rate.png"]


def plot_sweep(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> list[str]:
    """Clicks against budget fraction, one line per (campaign, strategy), seeds averaged."""
    plt = _pyplot()
    series: dict[tuple[str, str], dict[float, list[int]]] = {}
    for row in rows:
        key = (str(row["campaign"]), str(row["strategy"]))
        series.setdefault(key, {}).setdefault(float(row["budget_fraction"]), []).append(
            int(row["clicks"])
        )
    fig, ax = plt.subplots(figsize=(8, 4))
    for (campaign, strategy), by_fraction in sorted(series.items()):
        xs = sorted(by_fraction)
        ys = [sum(by_fraction[f]) / len(by_fraction[f]) for f in xs]
        ax.plot(xs, ys, marker="o", label=f"{campaign} {strategy}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("budget fraction c0")
    ax.set_ylabel("clicks")
    ax.legend()
    _save(fig, out_dir / "clicks-vs-budget.png")
    return ["clicks-vs-budget.png"]


def render_page(title: str, summary: str, images: Sequence[str]) -> str:
    """A minimal self-contained page: a title, a preformatted summary, the images."""
    body = "\n".join(f'<p><img src="{html.escape(name)}" alt="{name}"></p>' for name in images)
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
        f"<pre>{html.escape(summary)}</pre>\n{body}\n</body></html>\n"
    )


def write_replay_html(report: Mapping[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plot_replay(report, out_dir)
    keys = ("campaign", "auctions", "impressions", "clicks", "spend", "budget", "win_rate")
    summary = "\n".join(f"{k}: {report[k]}" for k in keys)
    strategy = report["strategy"]
    title = f"rlb replay: {strategy['name']} {strategy['params']}"
    page = out_dir / "index.html"
    page.write_text(render_page(title, summary, images))
    return page


def write_sweep_html(rows: Sequence[Mapping[str, Any]], table_md: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    images = plot_sweep(rows, out_dir)
    page = out_dir / "index.html"
    page.write_text(render_page("rlb replay sweep", table_md, images))
    return page
