"""Runs to the `analyze --format json` document (docs/json-format.md), written as a stream.

Series go out column-wise, straight from their `array` columns, a slice at a time: no
per-observation Python object lives longer than one slice, and a run is written as soon as
the parser hands it over, so memory does not grow with the number of observations or runs.
The document is strict JSON: NaN and infinities are the strings "NaN", "Infinity", "-Infinity".
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable
from typing import Literal, TextIO

import numpy as np

from bertmon import __version__

from .model import Coverage, Run, Series
from .numtext import floats_json, ints_json

SeriesMode = Literal["all", "epochs", "none"]
SERIES_MODES = ("all", "epochs", "none")
SLICE = 1 << 16  # observations converted at a time


def num(value: float | int | None) -> float | int | str | None:
    """Strict JSON: NaN and infinities as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, float)):
        return num(value)
    return str(value)


# --- columns -------------------------------------------------------------------------------
# A list of finite floats or ints prints as JSON: `str(list)` is the fastest way to write one.
# The `_list` converters write a column given as a list; the others test a numpy slice at C
# level and hand anything unusual (NaN, unknown, fractional) to them.
def _values_list(col: list[float]) -> str:
    if all(map(math.isfinite, col)):
        return str(col)[1:-1]
    return json.dumps([num(v) for v in col])[1:-1]


def _epochs_list(col: list[float]) -> str:
    if all(math.isfinite(e) and e.is_integer() for e in col):
        return str([int(e) for e in col])[1:-1]
    return json.dumps([None if e != e else (int(e) if e.is_integer() else num(e))
                       for e in col])[1:-1]


def _steps_list(col: list[int]) -> str:
    if -1 in col:
        return json.dumps([None if s == -1 else s for s in col])[1:-1]
    return str(col)[1:-1]


class _Reprs(dict):
    """The text of a float, by its bits (0.0 and -0.0 apart), remembered: a log prints a few
    thousand distinct values millions of times (`loss: 0.6931`), and a dict lookup costs a
    third of `repr`."""

    def __missing__(self, bits: int) -> str:
        text = self[bits] = repr(_AS_FLOAT(_AS_BITS(bits))[0])
        return text


_AS_BITS = struct.Struct("<q").pack
_AS_FLOAT = struct.Struct("<d").unpack
_REPRS = _Reprs()
MAX_REPRS = 1 << 14  # remembered texts (about 3 MB); past it the memory starts over
PROBE = 1024  # values tried through the memory before a slice is written through it


def _repeated_values(col: np.ndarray) -> str:
    """Finite values `numtext` leaves to `repr` (below 1e-4, many decimals), through the
    memory of texts when they repeat (a constant learning rate)."""
    if len(col) <= PROBE:
        return str(col.tolist())[1:-1]
    if len(_REPRS) > MAX_REPRS:
        _REPRS.clear()
    bits = np.ascontiguousarray(col).view(np.int64).tolist()
    known = len(_REPRS)
    head = ", ".join(map(_REPRS.__getitem__, bits[:PROBE]))
    if len(_REPRS) - known > PROBE // 4:  # mostly new values: `repr` them in C
        return str(col.tolist())[1:-1]
    return f"{head}, {', '.join(map(_REPRS.__getitem__, bits[PROBE:]))}"


def _values(col: np.ndarray) -> str:
    if not np.isfinite(col).all():
        return _values_list(col.tolist())
    return floats_json(col, _repeated_values)


def _epochs(col: np.ndarray) -> str:
    if np.isfinite(col).all() and (col == np.floor(col)).all():
        text = ints_json(col)
        return text if text is not None else str(col.astype(np.int64).tolist())[1:-1]
    return _epochs_list(col.tolist())


def _steps(col: np.ndarray) -> str:
    if (col == -1).any():
        return _steps_list(col.tolist())
    text = ints_json(col)
    return text if text is not None else str(col.tolist())[1:-1]


def _write_column(out: TextIO, col: np.ndarray, convert) -> None:
    out.write("[")
    for start in range(0, len(col), SLICE):
        if start:
            out.write(", ")
        out.write(convert(col[start : start + SLICE]))
    out.write("]")


SHORT = 1024  # a series this short is written from lists


def _write_columns(out: TextIO, series: Series) -> None:
    """The three columns of every observation, a slice of the series at a time (a series of
    ten million points is never expanded whole)."""
    n = len(series)
    if n <= SHORT:
        epochs, steps, values = series.column_lists()
        out.write(f'{{"epoch": [{_epochs_list(epochs)}], "step": [{_steps_list(steps)}], '
                  f'"value": [{_values_list(values)}]}}')
        return
    runs = series.epoch_runs()
    for key, k, convert in (("epoch", 0, _epochs), ("step", 1, _steps), ("value", 2, _values)):
        out.write(f'{", " if k else "{"}"{key}": [')
        if not k and all(math.isfinite(e) and e.is_integer() for e, _ in runs):
            # whole epochs, each repeated over its steps: written a run at a time
            for i, (e, count) in enumerate(runs):
                text = str(int(e))
                out.write(f"{', ' if i else ''}{(text + ', ') * (count - 1)}{text}")
            out.write("]")
            continue
        for start in range(0, n, SLICE):
            if start:
                out.write(", ")
            out.write(convert(series.column_between(k, start, start + SLICE)))
        out.write("]")
    out.write("}")


def epoch_final_indices(epochs: np.ndarray) -> np.ndarray:
    """Positions of each epoch's last observation (a fractional epoch counts toward the next
    whole one, as the Trainer's 0.25, 0.5, ... belong to epoch 1); unknown epochs are left out."""
    whole = np.ceil(epochs)
    known = ~np.isnan(whole)
    if not len(whole):
        return np.zeros(0, dtype=np.int64)
    last = np.ones(len(whole), dtype=bool)
    last[:-1] = whole[1:] != whole[:-1]
    return np.flatnonzero(last & known)


def write_series(out: TextIO, series: Series, mode: SeriesMode = "all") -> None:
    if mode == "all":
        _write_columns(out, series)
        return
    epochs, steps = series.epochs, series.steps
    values = np.frombuffer(series.values, dtype=np.float64) if len(series) else np.zeros(0)
    if mode == "epochs":
        keep = epoch_final_indices(epochs)
        epochs, steps, values = epochs[keep], steps[keep], values[keep]
    out.write('{"epoch": ')
    _write_column(out, epochs, _epochs)
    out.write(', "step": ')
    _write_column(out, steps, _steps)
    out.write(', "value": ')
    _write_column(out, values, _values)
    out.write("}")


# --- runs ----------------------------------------------------------------------------------
def _best(run: Run) -> dict | None:
    best = run.best_dev()
    if best is None:
        return None
    name, epoch, value = best
    return {"metric": name, "epoch": epoch, "value": num(value)}


def write_run(out: TextIO, run: Run, series: SeriesMode = "all") -> None:
    """One run as a JSON object, on one line."""
    head = {
        "index": run.index,
        "formats": list(run.formats),
        "status": run.status,
        "epochs_planned": run.epochs_planned,
        "roles": dict(run.roles),
        "epochs": [
            {"epoch": row.epoch, "seconds": num(row.seconds),
             "metrics": {k: num(v) for k, v in row.metrics.items()}}
            for row in run.epochs
        ],
    }
    tail = {
        "coverage": coverage_json(run.coverage),
        "findings": [
            {"rule": f.rule, "severity": f.severity, "epoch": f.epoch, "message": f.message,
             "evidence": jsonable(f.evidence), "remedy": f.remedy, "basis": f.basis}
            for f in run.findings
        ],
        "error": run.error,
        "best": _best(run),
        "hints": jsonable(run.hints),
    }
    out.write(json.dumps(head, allow_nan=False)[:-1])
    out.write(', "series": {')
    if series != "none":
        for i, (name, column) in enumerate(run.series.items()):
            if i:
                out.write(", ")
            out.write(json.dumps(name) + ": ")
            write_series(out, column, series)
    out.write("}, ")
    out.write(json.dumps(tail, allow_nan=False)[1:])


class JsonWriter:
    """`begin`, then `add(run)` for each run as it is finished, then `end()`: one document."""

    def __init__(self, out: TextIO, source: str, series: SeriesMode = "all") -> None:
        self.out = out
        self.source = source
        self.series = series
        self._count = 0
        self._begun = False

    def _begin(self) -> None:
        if not self._begun:
            self._begun = True
            self.out.write(json.dumps({"bertmon": __version__, "source": self.source})[:-1])
            self.out.write(', "runs": [')

    def add(self, run: Run) -> None:
        self._begin()
        self.out.write(",\n" if self._count else "\n")
        write_run(self.out, run, self.series)
        self._count += 1

    def end(self, coverage: Coverage | None = None) -> None:
        """Close the document; `coverage` (the whole log's) is added as a top-level key."""
        self._begin()
        self.out.write("\n]" if self._count else "]")
        if coverage is not None:
            self.out.write(', "coverage": ' + json.dumps(coverage_json(coverage)))
        self.out.write("}\n")


def coverage_json(cov: Coverage) -> dict:
    return {"records": cov.records, "with_metrics": cov.with_metrics,
            "unmatched_metric_like": cov.unmatched_metric_like,
            "unmatched_examples": list(cov.unmatched_examples)}


def write_json(out: TextIO, source: str, runs: Iterable[Run], series: SeriesMode = "all") -> None:
    writer = JsonWriter(out, source, series)
    for run in runs:
        writer.add(run)
    writer.end()



def series_columns(series: Series, mode: SeriesMode = "all") -> dict[str, list]:
    """One series as the document's three columns, as a dict (for an export that builds its
    own document)."""
    import io

    buf = io.StringIO()
    write_series(buf, series, mode)
    return json.loads(buf.getvalue())
