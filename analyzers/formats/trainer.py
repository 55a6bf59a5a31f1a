"""Hugging Face `Trainer` dicts: `{'loss': 0.69, 'grad_norm': 1.2, 'learning_rate': 5e-05,
'epoch': 0.16}` (transformers 5 prints the numbers as strings), eval dicts, the final
`train_runtime` dict, and `epoch 3: {'accuracy': 0.84}` from accelerate / no-Trainer scripts.

A dict goes to pyparsing (`grammar().trainer_dict`) through a `ShapeCache`: the same dict every
logging step is parsed once.
"""

from __future__ import annotations

import math
import re

from .. import grammar as g
from .base import Context, Reader
from .kv import KeyValueLines, key_values
from .values import epoch_position


def dict_entries(text: str) -> list[tuple[str, str]]:
    """`{'loss': 0.69, 'epoch': '0.5', ...}` -> [(name, value text)] for number-like values."""
    result = g.grammar().trainer_dict.parse_string(text)
    return [(entry["name"], entry["value"]) for entry in result.get("entries", [])
            if isinstance(entry.get("value"), str)]


DICTS = g.ShapeCache(dict_entries)

MAX_DICT = 4096  # a Trainer dict is a few hundred characters; a printed batch is not one
MAX_DICT_TRIES = 3


def trainer_dict(text: str) -> dict[str, float] | None:
    """The first of at most MAX_DICT_TRIES `{'...` openings that parses as a flat dict of
    metrics: bounded work on any line (a printed batch of token ids is one long line)."""
    found = _first_dict(text)
    return found[0] if found else None


def _first_dict(text: str) -> tuple[dict[str, float], int] | None:
    """`trainer_dict`, and where the dict ends in `text`."""
    start = text.find("{")
    for _ in range(MAX_DICT_TRIES):
        if start < 0:
            return None
        end = text.find("}", start)
        if end < 0:
            cut = _cut_dict(text[start:])
            return (cut, len(text)) if cut else None
        candidate = text[start : end + 1]
        if len(candidate) > MAX_DICT:
            start = text.find("{", end)
            continue
        try:
            entries = DICTS(candidate)
        except g.ParseException:
            start = text.find("{", start + 1)
            continue
        values = _numbers(entries)
        return (values, end + 1) if values else None
    return None


def _numbers(entries: list[tuple[str, str]]) -> dict[str, float]:
    """The entries whose value reads as a number."""
    values: dict[str, float] = {}
    for name, value in entries:
        try:
            values[name] = g.to_float(value)
        except ValueError:
            continue
    return values


def _cut_dict(text: str) -> dict[str, float] | None:
    """A dict cut before its closing brace (a paste, a wrap): its whole entries, when they say
    their epoch (fairseq's `{"epoch": 23, "train_loss": "766.352", "train_nsentences": "87.193`).
    The entry the cut went through is dropped; without an epoch nothing places the values (the
    Trainer prints `'epoch'` last, so a cut Trainer dict gives nothing)."""
    cut = text.rfind(", ", 0, MAX_DICT)
    if cut < 0:
        return None
    try:
        entries = DICTS(text[:cut] + "}")
    except g.ParseException:
        return None
    values = _numbers(entries)
    return values if "epoch" in values and len(values) > 1 else None


class TrainerState:
    __slots__ = ("epoch", "last")

    def __init__(self) -> None:
        self.epoch = -1.0  # the last fractional epoch logged
        self.last: dict[str, tuple[float, float]] = {}  # name -> (epoch, value) of train logs


class TrainerDicts(Reader):
    name = "hf-trainer"
    blank = False  # wants needs a dict's opening

    def wants(self, record: str) -> bool:
        return "{'" in record or '{"' in record

    def read(self, record: str, ctx: Context) -> bool:
        found = _first_dict(record)
        if found is None:
            return False
        values, end = found
        rest = record[end:]
        if "{" in rest and rest.strip():  # dicts a paste glued together (line breaks lost)
            self.read(record[:end], ctx)
            ctx.dispatch(rest)
            return True
        m = epoch_position(record) if "epoch" not in values else None
        if m and m["what"].lower() in ("epoch", "ep"):
            # `epoch 3: {'accuracy': 0.84, 'f1': 0.88}` (accelerate / no-Trainer scripts)
            kv = key_values([(k, repr(v)) for k, v in values.items()])
            if kv is not None:
                kv.epoch = int(m["n"])
                ctx.reader(KeyValueLines).apply(kv, ctx)
                return True
        self.log(values, ctx)
        return True

    def log(self, values: dict[str, float], ctx: Context, summary: bool = False) -> None:
        """One logged dict. A summary (the final `train_runtime` dict, a `***** train metrics
        *****` block) is kept as series only: it opens no epoch and fills no row."""
        state = ctx.progress()
        own = state.own.get("hf-trainer")
        if own is None:
            own = state.own["hf-trainer"] = TrainerState()
        values = dict(values)
        epoch = values.pop("epoch", None)
        if epoch is not None and epoch < own.epoch - 1e-9:
            state = ctx.new_run()
            own = state.own["hf-trainer"] = TrainerState()
        run = state.run
        ctx.add_format(run, "hf-trainer")
        if epoch is not None:
            own.epoch = epoch
        logged_step = values.pop("step", None)  # TFTrainer and log_history name the step
        if logged_step is not None and logged_step == int(logged_step):
            run.step = int(logged_step)
        step = run.step
        is_eval = any(k.startswith("eval_") for k in values)
        summary = summary or "train_runtime" in values
        for name, value in values.items():
            ctx.observe(state, name, epoch, step, value, None, train=not is_eval)
            series = run.series[name]
            if logged_step is None:
                state.unstepped.append((series, len(series) - 1))
            if not is_eval and not summary and epoch is not None:
                own.last[name] = (epoch, value)
        if epoch is None or summary:
            return
        whole = round(epoch)  # a log at a whole epoch (eval, summary or training) ends that epoch
        if whole < 1 or abs(epoch - whole) > 1e-6:
            return
        if state.epoch != whole:
            state.epoch = whole
            if state.base_epoch is None:
                state.base_epoch = whole
        row = ctx.row(state)
        assert row is not None
        state.bar_open = False
        for name, (seen_at, value) in own.last.items():
            if whole - 1 < seen_at <= whole + 1e-9:
                row.metrics.setdefault(name, value)
        if is_eval:  # the epoch's own evaluation wins over a later trainer.evaluate(...)
            for name, value in values.items():
                row.metrics.setdefault(name, value)
        else:
            row.metrics.update(values)


_BLOCK = re.compile(r"\*{5} (?P<split>\w+) (?:metrics|results) \*{5}", re.I)
# `  eval_loss               =     0.6927`, also behind a logging prefix
_BLOCK_ENTRY = re.compile(r"(?:^|\s)(?P<name>[A-Za-z_][\w./-]*)\s*=\s*(?P<value>[^\s=]+)\s*$")


class MetricsBlock(Reader):
    """`trainer.log_metrics(split, metrics)` and the old example scripts print one value a line
    under a banner: `***** train metrics *****` / `***** Eval results *****`, then `  epoch = 2.0`,
    `  train_loss = 0.6911`, ... A train block is the run's summary (no new epoch); an eval block
    is one evaluation at its epoch."""

    name = "hf-trainer"

    def __init__(self) -> None:
        self.split: str | None = None
        self.values: dict[str, float] = {}

    def wants(self, record: str) -> bool:
        return self.split is not None or "*****" in record

    def read(self, record: str, ctx: Context) -> bool:
        m = _BLOCK.search(record)
        if m:
            self.flush(ctx)
            self.split = m["split"].lower()
            return True
        if self.split is None:
            return False
        entry = _BLOCK_ENTRY.search(record)
        if entry is None:
            self.flush(ctx)
            return False
        try:
            self.values[entry["name"]] = g.to_float(entry["value"])
        except ValueError:
            pass  # `train_runtime = 0:00:01.08`, `total_flos = 0GF`
        return True

    def flush(self, ctx: Context) -> None:
        split, values = self.split, self.values
        self.split, self.values = None, {}
        if not values:
            return
        if split != "eval" and split != "test":
            ctx.reader(TrainerDicts).log(values, ctx, summary=True)
            return
        prefix = f"{split}_"
        values = {k if k.startswith(prefix) or k == "epoch" else prefix + k: v
                  for k, v in values.items()}
        ctx.reader(TrainerDicts).log(values, ctx)

    def finish(self, ctx: Context) -> None:
        self.flush(ctx)


# one entry of a dict printed over several lines: `  "eval_loss": 0.6927,` (a pasted
# `trainer_state.json`, `json.dumps(logs, indent=2)`); its value a JSON scalar
_JSON_ENTRY = re.compile(
    r'\s*"(?P<name>[^"]{1,100})"\s*:\s*(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?'
    r'|-?Infinity|NaN|null|true|false|"[^"]*")\s*,?\s*')
_JSON_NESTED = re.compile(r'\s*"[^"]{1,100}"\s*:\s*[\[{]\s*')  # `"log_history": [`
_JSON_NUMBER = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class JsonEntries(Reader):
    """A dict printed over several lines, one `"name": value,` entry a line, between `{` and
    `}` (a paste of `trainer_state.json`'s `log_history`, of `json.dumps(logs, indent=2)`): each
    closed dict that names its epoch is a Trainer log entry (`TrainerDicts.log`). A paste that
    starts inside a dict (its `{` cut off) opens one at its first entry; a nested list or dict
    (`"log_history": [`) drops the entries of the dict around it."""

    name = "hf-trainer"
    blank = False  # wants needs a brace or a quote

    def __init__(self) -> None:
        self.values: dict[str, float] | None = None  # the open dict's numbers

    def wants(self, record: str) -> bool:
        return "{" in record or ('"' in record and ":" in record) or (
            self.values is not None and ("}" in record or "]" in record))

    def read(self, record: str, ctx: Context) -> bool:
        text = record.strip()
        if text in ("{", "[{", "[", "[ {"):
            self.values = {}
            return True
        if text in ("}", "},", "}]", "}],", "]", "],"):
            values, self.values = self.values, None
            if values is None:
                return False
            if "epoch" in values and len(values) > 1:
                ctx.reader(TrainerDicts).log(values, ctx)
            return True
        if '"' not in text:
            self.values = None
            return False
        if _JSON_NESTED.fullmatch(record):
            self.values = None
            return True
        m = _JSON_ENTRY.fullmatch(record)
        if m is None:
            self.values = None
            return False
        if self.values is None:
            self.values = {}
        value = m["value"]
        if value[0] not in '"nft':  # a number, not a string, null, true or false
            self.values[m["name"]] = _JSON_NUMBER[value] if value in _JSON_NUMBER else float(value)
        return True
