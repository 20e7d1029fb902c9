"""Render a computed report: ``report.json``, PNG charts (matplotlib), ``report.html``, ``report.pdf``.

The PDF is drawn with matplotlib's ``PdfPages`` (no system dependencies): a summary page
of text tables, then one page per chart.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

_MONEY_KEYS = ("spend_micros", "cpc_micros", "cost_per_unique_micros", "planned_spend_micros",
               "planned_cost_per_unique_micros", "revenue_micros", "cost_per_conversion_micros")  # fmt: skip
_RATE_KEYS = ("ctr", "win_rate", "conversion_rate", "spend_vs_plan", "mean_pctr")
SUMMARY_ROWS = (
    ("impressions", "Impressions"), ("unique_visitors", "Unique visitors"),
    ("clicks", "Clicks"), ("ctr", "CTR"), ("spend_micros", "Spend"), ("cpm", "CPM"),
    ("cpc_micros", "CPC"), ("cost_per_unique_micros", "Cost per unique visitor"),
    ("planned_spend_micros", "Planned spend"), ("spend_vs_plan", "Spend vs plan"),
    ("planned_cost_per_unique_micros", "Planned cost per unique visitor"),
    ("bids", "Bids"), ("win_rate", "Win rate"), ("mean_pctr", "Mean predicted CTR"),
    ("post_impression_visits", "On-site visits after an impression"),
    ("conversions", "On-site conversions (purchases)"), ("converters", "Converting visitors"),
    ("conversion_rate", "Conversion rate (converters / unique visitors)"),
    ("revenue_micros", "Revenue"), ("cost_per_conversion_micros", "Cost per conversion"),
)  # fmt: skip
BREAKDOWN_TITLES = {"age": "Age band", "gender": "Gender", "region": "Region", "media": "Media",
                    "hour": "Hour", "creative": "Creative"}  # fmt: skip


def format_value(key: str, value: Any) -> str:
    """How the HTML and PDF show a summary value (money in currency units, 4 decimals)."""
    if value is None:
        return "–"
    if key in _MONEY_KEYS:
        return f"{value / 1e6:.4f}"
    if key in _RATE_KEYS:
        return f"{100 * value:.3f}%"
    if key == "cpm":
        return f"{value:.4f}"
    return str(value)


def _chart(rows: list[dict[str, Any]], title: str) -> Figure:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    keys = [str(r["key"]) for r in rows]
    ax1.bar(keys, [r["impressions"] for r in rows], color="#4e79a7")
    ax1.set_title(f"Impressions by {title.lower()}")
    ax2.bar(keys, [r["spend_micros"] / 1e6 for r in rows], color="#f28e2b")
    ax2.set_title(f"Spend by {title.lower()}")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelrotation=45 if len(keys) > 6 else 0, labelsize=7)
    fig.tight_layout()
    return fig


def _charts(report: dict[str, Any], out: Path) -> list[tuple[str, str, Figure]]:
    charts = []
    for dim, rows in report["breakdowns"].items():
        shown = [r for r in rows if r["impressions"] or r["bids"]]
        if not shown or (
            dim in ("age", "gender", "region") and {r["key"] for r in shown} == {"unknown"}
        ):
            continue
        title = BREAKDOWN_TITLES[dim]
        fig = _chart(shown, title)
        name = f"charts/{dim}.png"
        fig.savefig(out / name, dpi=110)
        charts.append((name, title, fig))
    return charts


def _table(rows: list[dict[str, Any]]) -> str:
    head = "<tr><th>key</th><th>bids</th><th>impressions</th><th>unique</th><th>clicks</th><th>CTR</th><th>spend</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(str(r['key']))}</td><td>{r['bids']}</td><td>{r['impressions']}</td>"
        f"<td>{r['unique_visitors']}</td><td>{r['clicks']}</td><td>{format_value('ctr', r['ctr'])}</td>"
        f"<td>{format_value('spend_micros', r['spend_micros'])}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def render_html(report: dict[str, Any], charts: list[tuple[str, str, Figure]]) -> str:
    s = report["summary"]
    summary = "".join(
        f'<tr><th>{label}</th><td id="summary-{key}">{format_value(key, s.get(key))}</td></tr>'
        for key, label in SUMMARY_ROWS
    )
    sections = []
    for dim, title in BREAKDOWN_TITLES.items():
        rows = report["breakdowns"].get(dim, [])
        img = next((f'<img src="{n}" alt="{t}">' for n, t, _ in charts if t == title), "")
        sections.append(f"<h2>By {title.lower()}</h2>{img}{_table(rows)}")
    opt = report["optimiser"]
    versions = "".join(f"<li>plan v{v['version']}: first used at {v['first_s']:.0f}, last at {v['last_s']:.0f}</li>"
                       for v in opt["plan_versions"])  # fmt: skip
    ab = opt["ab_test"]
    ab_html = "<p>No A/B comparison: fewer than two creatives delivered.</p>" if ab is None else (
        f"<p>{html.escape(ab['test'])}: {html.escape(ab['control'])} CTR {format_value('ctr', ab['control_ctr'])}"
        f" vs {html.escape(ab['treatment'])} CTR {format_value('ctr', ab['treatment_ctr'])}, "
        f"p = {ab['p_value']:.4f} ({'significant' if ab['significant'] else 'not significant'} at 5%)</p>"
    )  # fmt: skip
    title = html.escape(f"{report['campaign_name']} ({report['campaign']})")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Campaign report: {title}</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;color:#1d2330}}table{{border-collapse:collapse;margin:8px 0}}
th,td{{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right}}th:first-child,td:first-child{{text-align:left}}
img{{max-width:900px;display:block}}</style></head><body>
<h1>Campaign report: {title}</h1>
<p>Period {report["from"]} to {report["to"]} (inclusive). Money in the engine currency.</p>
<h2>Summary</h2><table id="summary">{summary}</table>
{"".join(sections)}
<h2>What the optimiser changed</h2><p id="optimiser-note">{html.escape(opt["note"])}</p><ul>{versions}</ul>
{ab_html}
</body></html>
"""


def _summary_page(report: dict[str, Any]) -> Figure:
    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.08, 0.95, f"Campaign report: {report['campaign_name']}", fontsize=16, weight="bold")
    fig.text(0.08, 0.925, f"{report['campaign']} · {report['from']} to {report['to']}", fontsize=10)
    s = report["summary"]
    y = 0.88
    for key, label in SUMMARY_ROWS:
        fig.text(0.08, y, label, fontsize=10)
        fig.text(
            0.92, y, format_value(key, s.get(key)), fontsize=10, ha="right", family="monospace"
        )
        y -= 0.026
    y -= 0.02
    fig.text(0.08, y, "What the optimiser changed", fontsize=12, weight="bold")
    fig.text(0.08, y - 0.025, report["optimiser"]["note"], fontsize=9, wrap=True)
    ab = report["optimiser"]["ab_test"]
    if ab is not None:
        fig.text(0.08, y - 0.05, f"A/B {ab['control']} vs {ab['treatment']}: p = {ab['p_value']:.4f}"
                 f" ({'significant' if ab['significant'] else 'not significant'})", fontsize=9)  # fmt: skip
    return fig


def render_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write report.json, charts/*.png, report.html and report.pdf under ``out``."""
    (out / "charts").mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "html": out / "report.html", "pdf": out / "report.pdf"}
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    charts = _charts(report, out)
    paths["html"].write_text(render_html(report, charts))
    with PdfPages(paths["pdf"]) as pdf:
        summary = _summary_page(report)
        pdf.savefig(summary)
        plt.close(summary)
        for _, _, fig in charts:
            pdf.savefig(fig)
            plt.close(fig)
    return paths
