"""Evaluation of click predictions: AUC, log loss, normalised entropy, calibration; renderers.

Definitions (He et al. 2014, "Practical lessons from predicting clicks on ads at Facebook"):

* log loss ``L = -mean(y log p + (1 - y) log(1 - p))``, with ``p`` clipped to [1e-15, 1 - 1e-15];
* normalised entropy ``NE = L / H(c)``, ``H(c) = -(c log c + (1 - c) log(1 - c))`` with
  ``c`` the observed CTR of the evaluated set (lower is better, 1 = no better than the rate);
* calibration: deciles of rows sorted by ``p`` (decile 1 = lowest pCTR), each with mean
  predicted, observed CTR and ``ratio = predicted / observed``; ``ece`` is the row-weighted
  mean of ``|predicted - observed|`` over the deciles.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

N_BINS = 10


def evaluate(labels: npt.NDArray[np.int8], p: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Metrics of predictions ``p`` (shape ``(n,)``) against 0/1 ``labels``."""
    from sklearn.metrics import roc_auc_score

    y = labels.astype(np.float64)
    q = np.clip(p, 1e-15, 1 - 1e-15)
    logloss = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    ctr = float(y.mean())
    base_entropy = -(ctr * math.log(ctr) + (1 - ctr) * math.log(1 - ctr)) if 0 < ctr < 1 else 0.0
    auc = float(roc_auc_score(y, p)) if 0 < ctr < 1 else None
    return {
        "rows": len(y),
        "clicks": int(y.sum()),
        "auc": auc,
        "logloss": logloss,
        "ne": logloss / base_entropy if base_entropy > 0 else None,
        "calibration": calibration_table(y, p),
    }


def calibration_table(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Observed vs predicted overall and per pCTR decile, plus ECE (see module docstring)."""
    order = np.argsort(p, kind="stable")
    deciles = []
    ece = 0.0
    for i, idx in enumerate(np.array_split(order, N_BINS)):
        if len(idx) == 0:
            continue
        pred, obs = float(p[idx].mean()), float(y[idx].mean())
        ece += len(idx) * abs(pred - obs)
        deciles.append(
            {
                "decile": i + 1,
                "rows": len(idx),
                "predicted": pred,
                "observed": obs,
                "ratio": pred / obs if obs > 0 else None,
            }
        )
    pred_all, obs_all = float(p.mean()), float(y.mean())
    return {
        "predicted": pred_all,
        "observed": obs_all,
        "ratio": pred_all / obs_all if obs_all > 0 else None,
        "ece": ece / max(len(y), 1),
        "deciles": deciles,
    }


def render_reliability_png(report: Mapping[str, Any], path: Path) -> None:
    """Reliability diagram (predicted vs observed per decile) of every evaluated model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    top = 0.0
    for name in ("model", "baseline", "ground_truth"):
        test = report.get(name, {}).get("test")
        if not test:
            continue
        deciles = test["calibration"]["deciles"]
        xs = [d["predicted"] for d in deciles]
        ys = [d["observed"] for d in deciles]
        top = max(top, *xs, *ys)
        ax.plot(xs, ys, marker="o", label=name)
    ax.plot([0, top or 1], [0, top or 1], color="grey", linestyle="--", label="ideal")
    ax.set_xlabel("predicted CTR (decile mean)")
    ax.set_ylabel("observed CTR")
    ax.set_title("Reliability on the test split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_html(report: Mapping[str, Any]) -> str:
    """A short HTML page: headline test metrics, the reliability diagram, the data summary."""
    rows = []
    for name in ("model", "baseline", "ground_truth"):
        test = report.get(name, {}).get("test")
        if not test:
            continue
        cal = test["calibration"]
        cells = [name, _fmt(test["auc"]), _fmt(test["logloss"]), _fmt(test["ne"])]
        cells += [_fmt(cal["ratio"]), _fmt(cal["ece"])]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    importance = report.get("feature_importance", {})
    top = sorted(importance.items(), key=lambda kv: -kv[1])[:15]
    imp_rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.0f}</td></tr>" for k, v in top)
    data = html.escape(json.dumps(report.get("data", {}), indent=2))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>CTR model report</title></head><body>
<h1>CTR model report</h1>
<table border="1" cellpadding="4">
<tr><th>model</th><th>AUC</th><th>log loss</th><th>NE</th><th>pred/obs</th><th>ECE</th></tr>
{"".join(rows)}
</table>
<p><img src="reliability.png" alt="reliability diagram"></p>
<h2>Feature importance (gain)</h2><table border="1" cellpadding="4">{imp_rows}</table>
<h2>Data</h2><pre>{data}</pre>
</body></html>
"""


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
