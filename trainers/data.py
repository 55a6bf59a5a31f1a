"""Read labelled text from CSV, TSV, JSONL or CoLA's headerless TSV; split; map labels.

Pure Python (no torch, no TensorFlow): `bertmon train` checks the data with it before it creates
a run directory, so bad data fails in a second with one line instead of half a run.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

DEMO_DATA = Path(__file__).resolve().parent / "demo_data" / "reviews.csv"
TEXT_COLUMNS = ("text", "sentence", "review", "content", "sentence1", "question", "premise")
LABEL_COLUMNS = ("label", "labels", "target", "class", "y")
COLA_COLUMNS = ("source", "label", "original_label", "sentence")


class DataError(ValueError):
    """Unreadable or unusable data: reported as one line, exit 2."""


@dataclass
class Dataset:
    texts: list[str]
    labels: list[str]
    pairs: list[str] | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: list[int]) -> Dataset:
        return Dataset([self.texts[i] for i in idx], [self.labels[i] for i in idx],
                       None if self.pairs is None else [self.pairs[i] for i in idx], self.source)


@dataclass
class TaskData:
    train: Dataset
    dev: Dataset
    label_names: list[str] = field(default_factory=list)

    def label_ids(self, ds: Dataset) -> list[int]:
        index = {name: i for i, name in enumerate(self.label_names)}
        return [index[label] for label in ds.labels]


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.is_dir():
        raise DataError(f"data path is a directory, not a file: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path} is not UTF-8 text (bad byte at line {line}); "
                        "convert it, e.g. iconv -f latin1 -t utf-8") from None
    if not text.strip():
        raise DataError(f"data file is empty: {path}")
    return text


def _is_cola(first_row: list[str]) -> bool:
    return (len(first_row) == 4 and first_row[1].strip() in ("0", "1")
            and first_row[2].strip() in ("", "*", "?", "??"))


def read_rows(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows as dicts and the column names, whatever the format."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        rows: list[dict[str, str]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} line {n} is not JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path} line {n} is not a JSON object")
            rows.append({k: ("" if v is None else str(v)) for k, v in obj.items()})
        columns = list(dict.fromkeys(k for row in rows for k in row))
        return rows, columns
    delimiter = "\t" if suffix in (".tsv", ".tab") or "\t" in text.splitlines()[0] else ","
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    records = [r for r in csv.reader(text.splitlines(), delimiter=delimiter, quoting=quoting) if r]
    if not records:
        raise DataError(f"data file is empty: {path}")
    if delimiter == "\t" and _is_cola(records[0]):
        columns = list(COLA_COLUMNS)
        body = records
    else:
        columns = [c.strip() for c in records[0]]
        body = records[1:]
    rows = []
    for n, record in enumerate(body, 2):
        if len(record) != len(columns):
            raise DataError(f"{path} row {n} has {len(record)} fields, the header {len(columns)}")
        rows.append(dict(zip(columns, record)))
    return rows, columns


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
          path: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{path} has no {what} column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    for name in candidates:
        if name in columns:
            return name
    raise DataError(f"{path}: no {what} column found among {', '.join(columns)}; "
                    f"name it with --{what}-column")


def read_dataset(path: str | Path, text_column: str | None = None,
                 label_column: str | None = None, pair_column: str | None = None) -> Dataset:
    path = Path(path)
    rows, columns = read_rows(path)
    if not rows:
        raise DataError(f"data file has a header but no examples: {path}")
    text_col = _pick(columns, text_column, TEXT_COLUMNS, "text", path)
    label_col = _pick(columns, label_column, LABEL_COLUMNS, "label", path)
    pair_col = _pick(columns, pair_column, (), "text-pair", path) if pair_column else None
    texts, labels, pairs = [], [], []
    for n, row in enumerate(rows, 1):
        label = row.get(label_col, "").strip()
        if label == "":
            raise DataError(f"{path} example {n} has an empty label")
        texts.append(row.get(text_col, ""))
        labels.append(label)
        if pair_col:
            pairs.append(row.get(pair_col, ""))
    return Dataset(texts, labels, pairs if pair_col else None, str(path))


def _label_order(labels: set[str]) -> list[str]:
    """Integer labels sort numerically (0, 1, 2, 10), anything else alphabetically."""
    try:
        return sorted(labels, key=lambda s: int(s))
    except ValueError:
        return sorted(labels)


def split(ds: Dataset, dev_ratio: float, seed: int) -> tuple[Dataset, Dataset]:
    """A seeded, label-stratified split, so every dev label is seen in train."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(ds.labels):
        by_label.setdefault(label, []).append(i)
    train_idx, dev_idx = [], []
    for label in sorted(by_label):
        idx = by_label[label]
        rng.shuffle(idx)
        n_dev = round(len(idx) * dev_ratio) if len(idx) > 1 else 0
        dev_idx += idx[:n_dev]
        train_idx += idx[n_dev:]
    if not dev_idx:
        raise DataError(f"{ds.source}: too few examples ({len(ds)}) to split off a dev set")
    return ds.subset(sorted(train_idx)), ds.subset(sorted(dev_idx))


def load_task(data: str | None, dev_data: str | None, dev_ratio: float, seed: int,
              text_column: str | None = None, label_column: str | None = None,
              pair_column: str | None = None) -> TaskData:
    train = read_dataset(data or DEMO_DATA, text_column, label_column, pair_column)
    if dev_data:
        dev = read_dataset(dev_data, text_column, label_column, pair_column)
    else:
        train, dev = split(train, dev_ratio, seed)
    seen = set(train.labels)
    if len(seen) < 2:
        raise DataError(f"{train.source}: training data has a single label ({next(iter(seen))})")
    unseen = sorted(set(dev.labels) - seen)
    if unseen:
        raise DataError(f"dev data has labels never seen in train: {', '.join(unseen[:5])}")
    return TaskData(train, dev, _label_order(seen))
