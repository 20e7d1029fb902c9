"""Compiled tree predictor: the LightGBM model as C (treelite + tl2cgen), built with gcc.

tl2cgen generates ``predict(union Entry*, int, double*)`` for one row; a small C shim
added here loops over a float32 batch so the whole request is one ctypes call. The
library is built next to the model (``predictor-<model_id>-os.so``) on the machine that
serves it, and must agree with ``Booster.predict`` within 1e-6 (the canary check).

It is compiled for size (``-Os``): the ~4,000 branches of a 572-tree model then run 4-9x
faster than at ``-O2`` (``benchmarks/bench_model.py`` measures both in one run:
2.1 instead of 19.1 µs a row in batches of 8, 4.8 instead of 20.4 for one row), and give
the same doubles (no fast-math: the leaf values
are added in the same order).
"""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from bidder.errors import ModelError

_SHIM: Final = r"""
#include "header.h"
/* x: n rows of ncol float32, row-major; out: n raw margins. NaN means missing. */
void predict_batch(const float* x, long n, long ncol, double* out) {
  union Entry row[ncol];
  for (long i = 0; i < n; ++i) {
    const float* xi = x + i * ncol;
    for (long j = 0; j < ncol; ++j) {
      if (isnan(xi[j])) { row[j].missing = -1; } else { row[j].fvalue = xi[j]; }
    }
    double result[1] = {0.0};
    predict(row, 1, result);
    out[i] = result[0];
  }
}
"""


OPTIMIZE_FLAG: Final = "-Os"  # see the module docstring
BUILD_TAG: Final = "os"  # in the library name: a library built with other flags is rebuilt


def library_path(model_dir: Path) -> Path:
    """Where the compiled library of ``model_dir`` lives (named after its model id)."""
    meta = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    return model_dir / f"predictor-{meta.get('model_id', 'unknown')}-{BUILD_TAG}.so"


def build_compiled(
    model_dir: Path, cc: str = "gcc", optimize: str = OPTIMIZE_FLAG, target: Path | None = None
) -> Path:
    """Generate C for ``model_dir/model.txt`` and compile it; returns the library path.

    ``optimize`` and ``target`` are for benchmarks comparing compiler flags (the library
    loaded by ``load_compiled`` is always the ``OPTIMIZE_FLAG`` one at ``library_path``).
    """
    try:
        import tl2cgen
        import treelite
    except ImportError as exc:
        raise ModelError("compiled predictor needs the tl2cgen and treelite packages") from exc
    if shutil.which(cc) is None:
        raise ModelError(f"compiled predictor needs a C compiler ({cc} not found)")
    target = target if target is not None else library_path(model_dir)
    model = treelite.frontend.load_lightgbm_model(str(model_dir / "model.txt"))
    with tempfile.TemporaryDirectory(prefix="ctr-c-") as tmp:
        src = Path(tmp)
        tl2cgen.generate_c_code(model, str(src), params={})
        (src / "shim.c").write_text(_SHIM, encoding="utf-8")
        out = src / "predictor.so"
        cmd = [
            cc,
            optimize,
            "-shared",
            "-fPIC",
            "-o",
            str(out),
            str(src / "main.c"),
            str(src / "shim.c"),
            "-lm",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ModelError(f"compiling the predictor failed: {proc.stderr.strip()[:500]}")
        shutil.copyfile(out, target)
    return target


class CompiledPredictor:
    """Raw scores from the compiled library: one ctypes call per batch."""

    name = "compiled"

    def __init__(self, library: Path, n_features: int) -> None:
        self.library = library
        self.n_features = n_features
        self._lib = ctypes.CDLL(str(library))
        self._fn = self._lib.predict_batch
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
        self._out = np.zeros(0, dtype=np.float64)
        self._out_address = 0

    def predict_raw(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Raw margins for a float32 batch of shape ``(n, n_features)``."""
        n = x.shape[0]
        if x.dtype != np.float32 or not x.flags.c_contiguous or x.shape[1] != self.n_features:
            x = np.ascontiguousarray(x, dtype=np.float32)
            if x.ndim != 2 or x.shape[1] != self.n_features:
                raise ValueError(f"expected {self.n_features} features, got shape {x.shape}")
        if n > len(self._out):  # the output buffer and its address are reused across calls
            self._out = np.zeros(max(n, 64), dtype=np.float64)
            self._out_address = self._out.__array_interface__["data"][0]
        self._fn(x.__array_interface__["data"][0], n, self.n_features, self._out_address)
        return self._out[:n].copy()


def load_compiled(model_dir: Path, build: bool = True) -> CompiledPredictor:
    """The compiled predictor of ``model_dir``, building the library first if missing."""
    target = library_path(model_dir)
    if not target.is_file():
        if not build:
            raise ModelError(f"model {model_dir}: no compiled predictor {target.name}")
        build_compiled(model_dir)
    meta = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    try:
        return CompiledPredictor(target, len(meta["feature_names"]))
    except OSError as exc:
        raise ModelError(f"model {model_dir}: cannot load {target.name}: {exc}") from exc
