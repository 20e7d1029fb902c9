"""Labelled training tables read from iPinYou, synthetic, Criteo and Open Bandit files.

Every reader returns a :class:`Table` in time order (the order the split relies on):
interned categorical columns, numeric columns, optional tags, click labels and, for
synthetic markets, the ground-truth click probability.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from bidder.errors import ModelError
from bidder.features import RTB_SPEC, Column, FeatureSpec, TagColumn, raw_from_ipinyou

IPINYOU_COLUMNS: Final = (
    "click",
    "weekday",
    "hour",
    "bidid",
    "timestamp",
    "logtype",
    "ipinyouid",
    "useragent",
    "IP",
    "region",
    "city",
    "adexchange",
    "domain",
    "url",
    "urlid",
    "slotid",
    "slotwidth",
    "slotheight",
    "slotvisibility",
    "slotformat",
    "slotprice",
    "creative",
    "bidprice",
    "payprice",
    "keypage",
    "advertiser",
    "usertag",
    "nclick",
    "nconversation",
)
FORMATS: Final = ("ipinyou", "bidlog", "synthetic", "criteo", "obd")

CRITEO_SPEC: Final = FeatureSpec(
    "criteo",
    tuple(f"C{i}" for i in range(1, 27)),
    tuple(f"I{i}" for i in range(1, 14)),
)
OBD_SPEC: Final = FeatureSpec(
    "obd",
    ("item_id", "position", "user_feature_0", "user_feature_1", "user_feature_2", "user_feature_3"),
    ("affinity",),  # user-item_affinity_<item_id> of the shown item
)


@dataclass(frozen=True, slots=True)
class Table:
    """Rows in time order. ``numeric`` is ``(n, len(spec.numeric))`` float64, NaN = missing."""

    spec: FeatureSpec
    columns: tuple[Column, ...]
    numeric: npt.NDArray[np.float64]
    tags: TagColumn | None
    label: npt.NDArray[np.int8]
    true_ctr: npt.NDArray[np.float64] | None
    source: str

    def __len__(self) -> int:
        return len(self.label)

    def rows(self, start: int, stop: int) -> Table:
        """The contiguous row range ``[start, stop)``."""
        tags = None
        if self.tags is not None:
            lo, hi = int(self.tags.indptr[start]), int(self.tags.indptr[stop])
            tags = TagColumn(
                self.tags.values, self.tags.ids[lo:hi], self.tags.indptr[start : stop + 1] - lo
            )
        return Table(
            spec=self.spec,
            columns=tuple(Column(c.values, c.ids[start:stop]) for c in self.columns),
            numeric=self.numeric[start:stop],
            tags=tags,
            label=self.label[start:stop],
            true_ctr=None if self.true_ctr is None else self.true_ctr[start:stop],
            source=self.source,
        )


class TableBuilder:
    """Accumulates rows, interning strings, then builds a :class:`Table`."""

    def __init__(self, spec: FeatureSpec, source: str, with_truth: bool = False) -> None:
        self.spec = spec
        self.source = source
        self._value_to_id: list[dict[str, int]] = [{} for _ in spec.categorical]
        self._ids: list[list[int]] = [[] for _ in spec.categorical]
        self._numeric: list[Sequence[float]] = []
        self._tag_to_id: dict[str, int] = {}
        self._tag_ids: list[int] = []
        self._indptr: list[int] = [0]
        self._labels: list[int] = []
        self._truth: list[float] | None = [] if with_truth else None

    def add(
        self,
        categorical: Sequence[str],
        label: int,
        numeric: Sequence[float] = (),
        tags: Iterable[str] = (),
        true_ctr: float | None = None,
    ) -> None:
        for value, mapping, ids in zip(categorical, self._value_to_id, self._ids, strict=True):
            ids.append(mapping.setdefault(value, len(mapping)))
        if self.spec.numeric:
            self._numeric.append(numeric)
        if self.spec.has_tags:
            for tag in tags:
                self._tag_ids.append(self._tag_to_id.setdefault(tag, len(self._tag_to_id)))
            self._indptr.append(len(self._tag_ids))
        self._labels.append(1 if label > 0 else 0)
        if self._truth is not None:
            self._truth.append(float("nan") if true_ctr is None else true_ctr)

    def build(self) -> Table:
        n = len(self._labels)
        columns = tuple(
            Column(tuple(mapping), np.asarray(ids, dtype=np.int32))
            for mapping, ids in zip(self._value_to_id, self._ids, strict=True)
        )
        numeric = np.asarray(self._numeric, dtype=np.float64).reshape(n, len(self.spec.numeric))
        tags = None
        if self.spec.has_tags:
            tags = TagColumn(
                tuple(self._tag_to_id),
                np.asarray(self._tag_ids, dtype=np.int32),
                np.asarray(self._indptr, dtype=np.int64),
            )
        truth = None if self._truth is None else np.asarray(self._truth, dtype=np.float64)
        label = np.asarray(self._labels, dtype=np.int8)
        return Table(self.spec, columns, numeric, tags, label, truth, self.source)


def read_table(path: str | Path, fmt: str, rows: int | None = None) -> Table:
    """Read ``path`` in format ``fmt`` (one of ``FORMATS``), keeping the first ``rows`` rows."""
    path = Path(path)
    if fmt == "bidlog":
        raise ModelError(
            "format 'bidlog' is not available yet: the bidder's own bid log has no click "
            "join; train on 'synthetic' or 'ipinyou' data"
        )
    readers = {
        "ipinyou": read_ipinyou,
        "synthetic": read_synthetic,
        "criteo": read_criteo,
        "obd": read_obd,
    }
    if fmt not in readers:
        raise ModelError(f"unknown data format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not path.exists():
        raise ModelError(f"training data {path} does not exist")
    return readers[fmt](path, rows)


# --- iPinYou and synthetic (same columns) -------------------------------------------------


def iter_ipinyou_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of one iPinYou log file, with or without a header line."""
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        header: Sequence[str] | None = None
        for line in f:
            fields = line.rstrip("\r\n").split("\t")
            if header is None:
                if fields[0] == "click":
                    header = fields
                    continue
                header = IPINYOU_COLUMNS[: len(fields)]
            yield dict(zip(header, fields, strict=False))


def _ipinyou_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = [p for p in (path / "train.log.txt", path / "test.log.txt") if p.is_file()]
    if not files:
        raise ModelError(f"{path}: no train.log.txt or test.log.txt")
    return files


def read_ipinyou(path: Path, rows: int | None = None) -> Table:
    """iPinYou raw logs (a file, or a folder with train/test.log.txt), sorted by timestamp."""
    records = [r for f in _ipinyou_files(path) for r in iter_ipinyou_rows(f)]
    records.sort(key=lambda r: r.get("timestamp", ""))
    builder = TableBuilder(RTB_SPEC, f"ipinyou:{path}")
    for row in records[:rows]:
        raw = raw_from_ipinyou(row)
        builder.add(raw.categorical(), _int(row.get("click")), tags=raw.tags)
    return builder.build()


def read_synthetic(path: Path, rows: int | None = None) -> Table:
    """A market written by ``rtb synth``: ``DIR/log.tsv`` (iPinYou columns + true_ctr)."""
    log = path / "log.tsv" if path.is_dir() else path
    if not log.is_file():
        raise ModelError(f"{path}: no log.tsv (expected a folder written by `rtb synth`)")
    builder = TableBuilder(RTB_SPEC, f"synthetic:{path}", with_truth=True)
    for i, row in enumerate(iter_ipinyou_rows(log)):
        if rows is not None and i >= rows:
            break
        raw = raw_from_ipinyou(row)
        truth = row.get("true_ctr")
        builder.add(
            raw.categorical(),
            _int(row.get("click")),
            tags=raw.tags,
            true_ctr=float(truth) if truth else None,
        )
    return builder.build()


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _float(value: str | None) -> float:
    try:
        return float(value) if value else float("nan")
    except ValueError:
        return float("nan")


# --- tabular benchmarks -------------------------------------------------------------------


def read_criteo(path: Path, rows: int | None = None) -> Table:
    """Criteo CSV (``Label, I1-I13, C1-C26``; a folder means its ``train.tiny.csv``)."""
    csv_path = path / "train.tiny.csv" if path.is_dir() else path
    builder = TableBuilder(CRITEO_SPEC, f"criteo:{csv_path}")
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "Label" not in reader.fieldnames:
            raise ModelError(f"{csv_path}: no Label column (Criteo test files are unlabelled)")
        for i, row in enumerate(reader):
            if rows is not None and i >= rows:
                break
            builder.add(
                [row[c] or "missing" for c in CRITEO_SPEC.categorical],
                _int(row["Label"]),
                numeric=[_float(row[c]) for c in CRITEO_SPEC.numeric],
            )
    return builder.build()


def read_obd(path: Path, rows: int | None = None) -> Table:
    """Open Bandit Dataset CSV (a folder means its CSVs except ``item_context.csv``)."""
    files = [path] if path.is_file() else sorted(path.glob("*.csv"))
    files = [f for f in files if f.name != "item_context.csv"]
    if not files:
        raise ModelError(f"{path}: no Open Bandit Dataset CSV files")
    records: list[tuple[dt.datetime, dict[str, str]]] = []
    for f in files:
        with f.open(newline="") as fh:
            records.extend(
                (dt.datetime.fromisoformat(r["timestamp"]), r) for r in csv.DictReader(fh)
            )
    records.sort(key=lambda tr: tr[0])
    builder = TableBuilder(OBD_SPEC, f"obd:{path}")
    for _, row in records[:rows]:
        item = row["item_id"]
        builder.add(
            [row[c] for c in OBD_SPEC.categorical],
            _int(row["click"]),
            numeric=[_float(row.get(f"user-item_affinity_{item}"))],
        )
    return builder.build()
