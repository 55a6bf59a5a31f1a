"""Results tables printed or pasted as text: a header line of column names, one row per epoch.

- the Hugging Face `Trainer` notebook table (`NotebookProgressCallback`'s HTML as a browser
  copies it: tab-separated cells, `No log` where no training loss was logged yet, the progress
  label `[96/96 00:03, Epoch 3/3]` above it; `Epoch` or `Step` first),
- the model-card "Training results" table (`| Training Loss | Epoch | Step | Validation Loss |
  Accuracy |`, Markdown pipes and a `|:---:|` rule, fractional epochs when evaluating by steps),
  also with tabs or runs of spaces in place of the pipes,
- Keras model-card tables (`Train Loss  Validation Loss  Train Accuracy ... Epoch`, from 0),
- fastai tables (`epoch     train_loss  valid_loss  accuracy  time`, from 0, `00:05` times,
  fastprogress bars drawn between the rows; v1's `train loss` with a space),
- Keras `CSVLogger` output printed as text (`epoch,accuracy,loss,val_accuracy,val_loss`),
- a pandas DataFrame printed (`print(pd.DataFrame(history.history))`: a header indented over the
  row labels 0, 1, ..., which are the epochs; `pd.DataFrame(trainer.state.log_history)` has its
  own epoch column and `NaN` where a row logged no such value, read as an empty cell), and
  any tab-separated rows under a header printed once (spaCy 2's `LOSS  P  R  F`, one row an
  iteration, is read with each row an epoch).

Cells are split by pipes, tabs, commas or runs of two spaces, as the header is. A header whose
names are separated by single spaces (a paste that lost its tabs) is only a candidate until the
first row: its words are grouped into as many names as the row has cells (`Training Loss`,
`Validation Loss`), and when they cannot be, nothing is read. Column names keep their printed
name. Epochs counted from 0 (fastai, Keras) are shown from 1, as the console's `Epoch 1/N` does;
fractional epochs make rows only at whole epochs, as the Trainer's dicts do; a table with only a
`Step` column takes its epochs from the progress label when there is one, else numbers its
evaluations in order. A `...` line where a paste left rows out does not end the table.
"""

from __future__ import annotations

import math
import re

from typing import TYPE_CHECKING

from .base import Context, Reader

if TYPE_CHECKING:
    from ..model import EpochRow

_EPOCH = {"epoch", "epochs", "ep"}
_STEP = {"step", "steps", "global step", "global_step", "iteration", "iter", "iterations"}
_TIME = {"time", "duration", "elapsed"}
_MISSING = {"no log", "", "-", "—", "n/a", "none"}
# words that begin a two-word column name when a paste lost its tabs, and words that end one
_FIRST = {"training", "train", "validation", "valid", "val", "eval", "evaluation", "test", "dev",
          "matthews", "combined", "gen", "exact", "macro", "micro", "weighted", "learning",
          "mean", "avg", "average", "global", "top", "f1", "trn"}
_HEAD = {"loss", "accuracy", "acc", "score", "len", "length", "correlation", "match", "f1",
         "precision", "recall", "rate", "error", "runtime", "auc", "time", "perplexity", "step",
         "wer", "cer", "bleu", "macro", "micro"}
_METRIC_WORD = re.compile(r"loss|acc|f1|score|error|auc|precision|recall|perplexity|bleu|rouge|"
                          r"wer|mcc|matthews|pearson|spearman|corr", re.I)
_NAME = re.compile(r"^[A-Za-z][\w .()@/+-]{0,47}$")
_NUMBERISH = re.compile(r"\d\.\d|=|:\s")  # a header holds no numbers and no `name: value`
_RULE = re.compile(r"^[\s|:+=-]*-{3,}[\s|:+=-]*$")  # `|:---:|:---:|`, `-----  -----`
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d\d)$")
_PAREN_CLOCK = re.compile(r"^\((?:\d+:)?\d{1,2}:\d\d\)$")
# a browser copy of the notebook's progress label: `[96/96 00:03, Epoch 3/3]`, or while
# running `[ 97/120 01:23 < 00:20, 1.15 it/s, Epoch 3.2/4]`
_LABEL = re.compile(r"^\s*\[\s*(\d+)/(\d+)\s[^\]]*?Epoch\s+([\d.]+)/(\d+)\]\s*$")
# fastprogress frames between fastai's rows: `Epoch 1/3 : |████----| 25.00% [4/16 00:00<00:01]`
_FASTPROGRESS = re.compile(
    r"^\s*(?:Epoch\s+\d+/(\d+)\s*:\s*)?(?:\|[█\- ]*\|\s*[\d.]+%\s*\[[^\]]*\]\s*)?$")
_BLOCKS = re.compile(r"^[\s█▉▊▋▌▍▎▏]*$")
_SPACES2 = re.compile(r"\s{2,}|\t")
_ELISION = re.compile(r"^\s*(?:\.\s*){3,}\s*$|^\s*…\s*$")  # `...` where a paste left rows out
# precision / recall / F printed as one letter (spaCy 2's `LOSS  P  R  F`): metric names only
# as a whole header cell beside a metric word
_LETTER_METRICS = {"p", "r", "f"}
_IDENT = re.compile(r"^[A-Za-z_][\w/.-]*$")


def _cell_number(text: str) -> float | None:
    try:
        return float(text.replace("%", "")) if text else None
    except ValueError:
        return None


def _clock(text: str) -> float | None:
    m = _CLOCK.match(text)
    if not m:
        return None
    return int(m[1] or 0) * 3600 + int(m[2]) * 60 + int(m[3])


def _split(line: str, sep: str) -> list[str]:
    if sep == "md":
        cells = line.strip().split("|")
        if cells and not cells[0].strip():
            cells = cells[1:]
        if cells and not cells[-1].strip():
            cells = cells[:-1]
        return [c.strip() for c in cells]
    if sep == "tab":
        return [c.strip() for c in line.strip("\r\n ").split("\t")]
    if sep == "csv":
        return [c.strip() for c in line.strip().split(",")]
    return [c for c in _SPACES2.split(line.strip())]  # "spaces"


def _row_cells(line: str, sep: str) -> list[str]:
    """A data row's cells. Rows under a space-separated header are split on any blank, after
    joining `No log` (data cells hold no other spaces)."""
    if sep in ("spaces", "words"):
        return re.sub(r"\bNo [Ll]og\b", "No\x00log", line).split()
    cells = _split(line, sep)
    if len(cells) == 1 and sep == "csv":
        return line.split()  # names printed with commas, values with tabs or blanks
    return cells


def _group(words: list[str], n: int) -> list[str] | None:
    """Single-spaced header words grouped into `n` names (`Training Loss` is one), or None."""
    if len(words) == n:
        return words
    names: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if (i + 1 < len(words) and w.lower() in _FIRST and words[i + 1].lower() in _HEAD
                and len(words) - i > n - len(names)):  # more words left than names to make
            names.append(f"{w} {words[i + 1]}")
            i += 2
        else:
            names.append(w)
            i += 1
    return names if len(names) == n else None


class _Table:
    """The header being read under: its columns and what they are."""

    __slots__ = ("sep", "names", "words", "epoch_col", "step_col", "time_col", "from_zero",
                 "rows", "confirmed", "labelled", "sparse")

    def __init__(self, sep: str, names: list[str] | None, words: list[str] | None = None):
        self.sep = sep
        self.labelled = False  # an indented header: pandas' rows start with their label
        self.sparse = False  # pandas' NaN is an empty cell (a log_history frame)
        self.words = words  # a single-spaced header, grouped at its first row
        self.names: list[str] = []
        self.epoch_col = self.step_col = self.time_col = None
        self.from_zero: bool | None = None
        self.rows = 0  # rows read so far (the evaluation number for a Step-only table)
        self.confirmed = names is not None
        if names is not None:
            self.set_names(names)

    def set_names(self, names: list[str]) -> None:
        self.names = names
        self.epoch_col = self.step_col = self.time_col = None
        for i, name in enumerate(names):
            low = name.lower()
            if low in _EPOCH and self.epoch_col is None:
                self.epoch_col = i
            elif low in _STEP and self.step_col is None:
                self.step_col = i
            elif low in _TIME and self.time_col is None:
                self.time_col = i


def _header(record: str) -> _Table | None:
    """The table a header line opens, or None when the line is no header."""
    line = record.strip()
    if line[:1] in "*=#" or line[-1:] in "*=#":  # `*****train_loss,valid_acc*****`: a banner
        line = line.strip("*=# ")
    if len(line) > 400 or len(line) < 5 or _NUMBERISH.search(line) or not _METRIC_WORD.search(line):
        return None
    if line.count("|") >= 2:
        sep = "md"
    elif "\t" in line:
        sep = "tab"
    elif "," in line and "  " not in line:
        sep = "csv"
    elif re.search(r"\S {2,}\S", line):
        sep = "spaces"
    else:
        sep = "words"
    cells = _split(line, sep) if sep != "words" else line.split()
    if len(cells) < 2 or not all(_NAME.match(c) for c in cells):
        return None
    lows = [c.lower() for c in cells]
    if sep == "words":
        # prose has spaces too: only `epoch train_loss valid_loss ...` shapes, checked again
        # at the first row
        if not (lows[0] in _EPOCH | {"step"} or "epoch" in lows or "step" in lows):
            return None
        return _Table("words", None, cells)
    if (not any(c in _EPOCH or c in _STEP for c in lows) and sep not in ("md", "tab")
            and not (sum(bool(_METRIC_WORD.search(c)) or c in _LETTER_METRICS for c in lows) >= 2
                     and all(_IDENT.match(c) for c in cells))):
        return None  # a comma or space list of words is a table only with its position column
        # (or when it lists identifiers, metrics among them: `train_loss,train_acc,valid_ac`)
    found = _Table(sep, cells)
    found.labelled = sep == "spaces" and record[:2] == "  "  # pandas' blank label column
    return found


class ResultsTable(Reader):
    name = "table"

    def __init__(self) -> None:
        self.table: _Table | None = None
        self.label: tuple[int, int] | None = None  # (total steps, epochs) of the progress label

    def wants(self, record: str) -> bool:
        if self.table is not None:
            return True  # its rows, or what ends it
        if "=" in record or ": " in record:
            return False  # `name=value`, `name: value`, dicts: never a header
        if "it/s" in record:  # a tqdm frame, or the notebook label while it runs
            return "Epoch" in record and record.lstrip().startswith("[")
        return "|" in record or "\t" in record or "," in record or "  " in record or (
            "poch" in record or "tep" in record or "[" in record)

    def read(self, record: str, ctx: Context) -> bool:
        table = self.table
        if table is not None:
            if self._row(record, table, ctx):
                return True
            if self._between(record, ctx):
                return True
        m = _LABEL.match(record) if "[" in record and "poch" in record else None
        if m:
            self.label = (int(m[2]), int(m[4]))
            return True
        found = _header(record)
        if found is not None:
            self.table = found
            return found.confirmed  # a single-spaced header is a candidate, left to the others
        self.table = None
        return False

    def _between(self, record: str, ctx: Context) -> bool:
        """Lines a table may have between its rows: the Markdown rule, blank lines, fastai's
        progress bars (they say how many epochs are planned)."""
        if _RULE.match(record) or _BLOCKS.match(record) or _ELISION.match(record):
            return True
        m = _FASTPROGRESS.match(record)
        if m and record.strip():
            if m[1] and ctx.state is not None and ctx.state.run.epochs_planned is None:
                ctx.state.run.epochs_planned = int(m[1])
            return True
        return False

    def _row(self, record: str, table: _Table, ctx: Context) -> bool:
        cells = _row_cells(record, table.sep)
        if table.words is not None and not table.confirmed:
            names = _group(table.words, len(cells))
            if names is None:
                return False
            table.set_names(names)
        seconds = None
        if len(cells) == len(table.names) + 1 and _PAREN_CLOCK.match(cells[-1]):
            seconds = _clock(cells.pop()[1:-1])  # fastai v1's `(00:18)` after the metrics
        if table.labelled and len(cells) == len(table.names) + 1 and cells[0].isdigit():
            # a pandas DataFrame printed (`pd.DataFrame(history.history)`): the row label is
            # the epoch, from 0, unless the frame has its own epoch or step column
            if table.epoch_col is None and table.step_col is None:
                table.set_names(["epoch", *table.names])
            else:
                table.sparse = True  # `log_history`: NaN where a row logged no such value
                cells = cells[1:]
        if len(cells) != len(table.names):
            return False
        values: list[float | None] = []
        for i, cell in enumerate(cells):
            cell = cell.replace("\x00", " ")
            if i == table.time_col:
                values.append(_clock(cell))
                continue
            number = _cell_number(cell)
            if number is None and cell.lower() not in _MISSING:
                return False
            values.append(None if table.sparse and cell == "NaN" else number)
        metrics = [(name, v) for i, (name, v) in enumerate(zip(table.names, values))
                   if i not in (table.epoch_col, table.step_col, table.time_col) and v is not None]
        if not metrics:
            return False
        table.confirmed = True
        table.rows += 1
        row = self._place(table, values, metrics, ctx)
        if row is not None and seconds is not None:
            row.seconds = seconds
        return True

    @staticmethod
    def _open_epoch(table: _Table, metrics: list[tuple[str, float]], ctx: Context) -> int | None:
        """The epoch a line above opened (`Epoch: 01 | Epoch Time: 0m 57s`) when a table with
        no epoch column gives its first row under its header: a header and row printed each
        epoch. None when that epoch already holds these values."""
        state = ctx.state
        if table.rows != 1 or state is None or state.epoch is None:
            return None
        row = state.rows.get(state.epoch)
        if row is not None and any(name in row.metrics for name, _ in metrics):
            return None
        return state.epoch

    def _place(self, table: _Table, values: list[float | None],
               metrics: list[tuple[str, float]], ctx: Context) -> EpochRow | None:
        step_value = values[table.step_col] if table.step_col is not None else None
        step = int(step_value) if step_value is not None and math.isfinite(step_value) else None
        epoch: float | None = None
        if table.epoch_col is not None:
            epoch = values[table.epoch_col]
            if epoch is not None and table.from_zero is None:
                table.from_zero = epoch == 0
            if epoch is not None and table.from_zero and epoch == int(epoch):
                epoch += 1
        elif step is not None and self.label and self.label[1]:
            total, epochs = self.label
            epoch = step * epochs / total  # the Trainer's fractional epoch at that step
        elif (opened := self._open_epoch(table, metrics, ctx)) is not None:
            epoch = float(opened)
        else:
            epoch = float(table.rows)  # no epoch column: each row is one evaluation, in order
        planned = self.label[1] if self.label and table.epoch_col is None else None
        whole = epoch is not None and math.isfinite(epoch) and abs(epoch - round(epoch)) < 1e-6
        if whole and round(epoch) >= 1:
            current = ctx.current()
            if table.rows == 1 and not current.rows:
                # a summary above the table (a model card's `- Epoch: 4`) named an epoch but
                # read no row: the table is that run's, not a restart
                current.epoch = None
            state = ctx.header(int(round(epoch)), planned)
            row = ctx.row(state)
        else:  # a fractional epoch (evaluation by steps): a series value, no epoch's row
            state = ctx.progress()
            row = None
        state.crashed = False
        run = state.run
        ctx.add_format(run, "table")
        if self.label and run.epochs_planned is None:
            run.epochs_planned = self.label[1]
        if step is not None:
            run.step = step
        for name, value in metrics:
            ctx.observe(state, name, epoch, step, value, row)
        if row is not None and table.time_col is not None and values[table.time_col] is not None:
            row.seconds = values[table.time_col]
        if row is not None and table.epoch_col is None and not (self.label and step is not None):
            run.hints["table_rows"] = "evaluations in order (the table has no epoch column)"
        return row
