"""CTR model scoring speed: µs per row by batch size for each predictor, one JSON result.

    .venv/bin/python -m benchmarks.bench_model [--model models/NAME] [--rows 50000]

Without ``--model`` a synthetic market is drawn (``simulator.synth``) and a model trained
on it in a temporary folder. Measures, for batch sizes 1, 8, 64, 512:

* ``booster_per_row``: ``Booster.predict`` called once per row (the naive baseline);
* ``booster_batch``: one ``Booster.predict`` call per batch (one thread);
* ``compiled_batch``: the treelite/tl2cgen library, one ctypes call per batch;
* ``compiled_o2_batch``: the same C built at ``-O2`` instead of ``-Os`` (the baseline of
  the compiler-flag choice, measured in the same run);
* ``encode``: ``FeatureEncoder.encode_into`` of RawFeatures into the reused buffer.

Each figure is the median over ``--repeat`` timing runs. Writes
``benchmarks/results/model-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bidder.features import RawFeatures, raw_from_ipinyou
from bidder.model.compiled import CompiledPredictor, build_compiled
from bidder.model.dataset import iter_ipinyou_rows
from bidder.model.load import load_scorer
from bidder.model.scorer import BoosterPredictor, LightGBMScorer

BATCHES = (1, 8, 64, 512)
RESULTS = Path(__file__).resolve().parent / "results"


def _per_row_us(fn: Callable[[], object], rows: int, repeat: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    runs = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return statistics.median(runs) * 1e6 / rows


def _model(args: argparse.Namespace, tmp: Path) -> Path:
    if args.model:
        return Path(args.model)
    from bidder.model.train import TrainConfig, train_model
    from simulator.synth.generate import generate_market

    market = tmp / "market"
    generate_market(args.rows, 1, market, write_requests=False)
    config = TrainConfig(seed=0, num_threads=1, baseline=False)
    return train_model(market, "synthetic", tmp / "bench-model", config, None).model_dir


def _raws(model_dir: Path, n: int) -> list[RawFeatures]:
    """RawFeatures from the model's own data when it is a synthetic/iPinYou log."""
    meta = json.loads((model_dir / "metadata.json").read_text())
    source = Path(str(meta["data"]["source"]).split(":", 1)[-1])
    log = source / "log.tsv" if source.is_dir() else source
    out: list[RawFeatures] = []
    if log.is_file():
        for row in iter_ipinyou_rows(log):
            out.append(raw_from_ipinyou(row))
            if len(out) == n:
                break
    return out


def _bench(
    scorer: LightGBMScorer,
    compiled: Any,
    compiled_o2: Any,
    raws: list[RawFeatures],
    repeat: int,
) -> dict[str, Any]:
    booster = BoosterPredictor(scorer.predictor.booster)  # type: ignore[attr-defined]
    width = scorer.encoder.n_columns
    x_all = scorer.encoder.encode(raws) if raws else np.zeros((512, width), np.float32)
    return {
        str(b): _bench_batch(scorer, booster, compiled, compiled_o2, x_all, raws, b, repeat)
        for b in BATCHES
    }


def _bench_batch(
    scorer: LightGBMScorer,
    booster: BoosterPredictor,
    compiled: Any,
    compiled_o2: Any,
    x_all: np.ndarray,
    raws: list[RawFeatures],
    batch: int,
    repeat: int,
) -> dict[str, float]:
    x = np.ascontiguousarray(x_all[:batch])
    rows = [x[i : i + 1] for i in range(batch)]
    entry = {
        "booster_per_row": _per_row_us(
            lambda: [booster.predict_raw(r) for r in rows], batch, repeat
        ),
        "booster_batch": _per_row_us(lambda: booster.predict_raw(x), batch, repeat),
    }
    if compiled is not None:
        entry["compiled_batch"] = _per_row_us(lambda: compiled.predict_raw(x), batch, repeat)
        np.testing.assert_allclose(compiled.predict_raw(x), booster.predict_raw(x), atol=1e-6)
    if compiled_o2 is not None:
        entry["compiled_o2_batch"] = _per_row_us(lambda: compiled_o2.predict_raw(x), batch, repeat)
        np.testing.assert_array_equal(compiled_o2.predict_raw(x), compiled.predict_raw(x))
    if raws:
        buf = np.zeros_like(x)
        part = raws[:batch]
        entry["encode"] = _per_row_us(lambda: scorer.encoder.encode_into(buf, part), batch, repeat)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="model directory (default: train one on a synthetic market)"
    )
    parser.add_argument("--rows", type=int, default=50_000, help="synthetic market rows")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-compiled", action="store_true")
    parser.add_argument("--out", help="result file (default benchmarks/results/model-<date>.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        model_dir = _model(args, Path(tmp))
        scorer = load_scorer(model_dir)
        compiled = None if args.no_compiled else load_scorer(model_dir, "compiled").predictor
        compiled_o2 = None
        if compiled is not None:
            o2 = build_compiled(model_dir, optimize="-O2", target=Path(tmp) / "predictor-o2.so")
            compiled_o2 = CompiledPredictor(o2, compiled.n_features)
        raws = _raws(model_dir, max(BATCHES))
        results = _bench(scorer, compiled, compiled_o2, raws, args.repeat)
        booster = scorer.predictor.booster  # type: ignore[attr-defined]
        model_info = {
            "dir": str(model_dir),
            "version": scorer.version,
            "trees": booster.num_trees(),
            "features": scorer.encoder.n_columns,
        }
    doc = _document(results, model_info)
    out = Path(args.out) if args.out else RESULTS / f"model-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc["results"], indent=1))
    print(json.dumps(doc["targets"], indent=1))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _document(results: dict[str, Any], model_info: dict[str, Any]) -> dict[str, Any]:
    import lightgbm

    b8 = results["8"]
    compiled8 = b8.get("compiled_batch")
    best8 = min(v for k, v in b8.items() if k in ("booster_batch", "compiled_batch"))
    return {
        "benchmark": "bench_model",
        "unit": "microseconds per row (median of repeats)",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor(),
            "lightgbm": lightgbm.__version__,
        },
        "model": model_info,
        "results": results,
        "targets": {
            "batch8_us_per_row_best": best8,
            "batch8_compiled_us_per_row": compiled8,
            "batch8_le_5us": best8 <= 5.0,
            "speedup_vs_per_row_booster": b8["booster_per_row"] / best8,
            "compiled_os_speedup_vs_o2_by_batch": {
                b: r["compiled_o2_batch"] / r["compiled_batch"]
                for b, r in results.items()
                if "compiled_o2_batch" in r
            },
            "speedup_ge_5x": b8["booster_per_row"] / best8 >= 5.0,
        },
    }


if __name__ == "__main__":
    raise SystemExit(main())
