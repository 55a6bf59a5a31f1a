"""Key/value lines a person prints: `epoch 3: train_loss=0.41 dev_acc=0.80`, `loss: 0.41`,
`Step 100 | loss 0.5`, `final_score = ` with its value alone on the next line, and the
configuration they mention (`lr=2e-5`, `labels=['neg', 'pos']`, `trainable = False`).

The catch-all reader: it comes after every family with a shape of its own. Lines go to
pyparsing (`grammar().kv_line`, `ws_pairs`) only after substring tests, and through
`grammar.ShapeCache`, so a summary printed every epoch is parsed once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .. import grammar as g
from . import repeat
from .base import Context, Reader, RunState
from .values import Pairs, epoch_position
from .values import held_out as is_held_out


@dataclass(slots=True)
class KeyValues:
    """What one line says: metrics, where they belong, configuration hints."""

    pairs: Pairs
    epoch: int | None = None
    epoch_total: int | None = None
    step: int | None = None
    step_total: int | None = None  # `Batch 567/17168:`: the steps the epoch has
    seconds: float | None = None
    hints: dict[str, float] = field(default_factory=dict)


def kv_pairs(text: str) -> list[tuple[str, str]]:
    return [(t["name"], t["value"]) for t in g.grammar().kv_line.parse_string(text)]


def ws_pairs(text: str) -> list[tuple[str, str]]:
    try:
        return [(t["name"], t["value"]) for t in g.grammar().ws_pairs.parse_string(text)]
    except g.ParseException:
        return []


KV_LINES = g.ShapeCache(kv_pairs)
WS_LINES = g.ShapeCache(ws_pairs)

# `Batch 567/17168: accuracy: 0.42` (AllenNLP 0.x), `Step 30/200 |`: a step out of the epoch's
# total, at the line's start or after a logging prefix
_STEP_OF = re.compile(r"(?:^|(?<=[\s|\]-]))(?:[Bb]atch|[Ss]tep|[Ii]ter(?:ation)?)\s*[:#]?\s*"
                      r"(?P<n>\d+)\s*/\s*(?P<total>\d+)\b")

# a line that opens by naming the dev split (`-> Valid. time: 3.02s, loss: 0.38, accuracy: 85%`,
# `Eval: loss=0.3`): its bare names are that split's
_SPLIT_LEAD = re.compile(
    r"^\W*(?P<split>val(?:id(?:ation)?)?|dev|evaluation|eval)\b\.?(?!\w)", re.I)
_HAS_SPLIT = re.compile(
    r"(?:^|[\W_])(?:val|valid|validation|dev|eval|evaluation|test|train|training|trn|tr)"
    r"(?:$|[\W_])", re.I)
# a heading of words and a colon before a line's pairs: `Accuracies on val: class : 96.75`
_HEADING = re.compile(
    r"^\s*(?P<head>[A-Za-z][A-Za-z ]{2,40}):\s+[A-Za-z_][\w ]{0,30}?\s*:\s*[-+.\d]")
_END_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?\s*$")  # a line that ends in a number

MAX_KV_LINE = 4096  # metrics are printed on short lines; a longer one is read only so far


def key_values_in(text: str, ws_ok: bool) -> KeyValues | None:
    """The key/value pairs of a line (`ws_ok`: also `name value` separated by blanks)."""
    text = text[:MAX_KV_LINE]
    found: list[tuple[str, str]] = []
    f = g.fast()
    lower = None
    if ("=" in text or ":" in text) and f.kv_separator.search(text) and f.kv_candidate.search(text):
        lower = text.lower()
        if not g.has_kv_word(lower):
            return None
        found = KV_LINES(text)
    if found and (head := _HEADING.match(text)) and g.METRIC_WORDS.search(head["head"]):
        # `Accuracies on val: class : 96.75` (JiGen / RSC): the metric is named before the
        # colon, the value by its head's name after it
        found = [(n if g.METRIC_WORDS.search(n) else f"{head['head'].strip()} {n}", v)
                 for n, v in found]
    if ws_ok and not found and g.has_kv_word(lower or text.lower()):
        found = WS_LINES(text)
    elif ws_ok and found and (more := WS_LINES(text)) and len(more) > len(found) and set(
            found) <= set(more):
        # `Epoch 1268: train loss 0.158 train acc: 0.979, val loss: 1.063 val acc 0.718.`:
        # some names take a colon and some do not; the blank-separated reading holds them all
        found = more
    if found and found[-1][1].endswith(".") and text.rstrip().endswith(found[-1][1]):
        found = found[:-1]  # `loss: 100.` ending the line: a number cut (a paste, a wrap)
    if not found:
        return None
    kv = key_values(found)
    m = epoch_position(text)  # `epoch 3: loss=...`, `Step 100: loss = 0.5`
    if m and kv is not None:
        if m["what"].lower() in ("epoch", "ep"):
            kv.epoch = kv.epoch if kv.epoch is not None else int(m["n"])
        elif kv.step is None:
            kv.step = int(m["n"])
    if kv is not None and kv.pairs and (lead := _SPLIT_LEAD.match(text)):
        split = lead["split"].lower()
        prefix = "eval_" if split.startswith("eval") else split[:3] + "_"  # val_, dev_, eval_
        kv.pairs = [(n if _HAS_SPLIT.search(n) else prefix + n, v) for n, v in kv.pairs]
    if kv is not None and kv.step is None and "/" in text and (s := _STEP_OF.search(text)):
        before = text[: s.start()]
        if not f.kv_candidate.search(before) and int(s["n"]) <= int(s["total"]):
            kv.step, kv.step_total = int(s["n"]), int(s["total"])
    return kv


def key_values(found: list[tuple[str, str]]) -> KeyValues | None:
    """Sort printed name/value pairs into position, time, configuration hints and metrics."""
    kv = KeyValues(pairs=[])
    for raw_name, raw_value in found:
        key = g.LOG_LEVEL_WORD.sub("", raw_name.strip())  # `INFO Train Loss` -> `Train Loss`
        if "  " in key:
            key = " ".join(key.split())  # `val   acc` aligned under `train acc`: `val acc`
        lower = key.lower()
        try:
            value = g.to_float(raw_value.rstrip("s") if raw_value.endswith("s") else raw_value)
        except ValueError:
            continue
        if lower in g.POSITION_NAMES:
            if math.isfinite(value) and value == int(value):
                if lower.startswith("epoch"):
                    kv.epoch = int(value)
                else:
                    kv.step = int(value)
        elif lower in g.TIME_NAMES:
            kv.seconds = value
        elif lower in g.HINT_NAMES:
            kv.hints[g.HINT_NAMES[lower]] = value
        elif g.METRIC_WORDS.search(key):
            kv.pairs.append((key, value))
    if not kv.pairs and kv.epoch is None and not kv.hints:
        return None
    return kv


# absl's glog-style prefix on a Python module's line: `I0423 05:08:17.334861 4783639721 x.py:115] `
_ABSL_PY = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+\s+[\w./-]+\.py:\d+\] (?P<msg>.+)")


class Noise(Reader):
    """C++ logging (TensorFlow, XLA, glog): `2026-11-20 10:12:33.123: W tensorflow/x.cc:12]`.
    Never metrics, never fatal at W/I/D: taken here so that no later reader sees them.

    Also the second copy of a Python log line when both the `logging` handler and absl's print
    it (TF 1 scripts: `INFO:tensorflow:... Step 280: Train accuracy = 100.0%` and then
    `I0423 05:08:17.334861 47836397217664 tf_logging.py:115] ... Step 280: ...`): one step's
    values are read once. An absl line with no such twin is read as any other line."""

    name = "noise"
    blank = False  # wants needs "]"
    silent = True
    batched = True

    def wants(self, record: str) -> bool:
        return "]" in record

    def read(self, record: str, ctx: Context) -> bool:
        return g.fast().cpp_log.match(record) is not None

    def read_many(self, records: list[str], i: int, ctx: Context) -> int:
        record = records[i]
        if g.fast().cpp_log.match(record) is not None:
            return 1
        if ".py:" in record and (m := _ABSL_PY.match(record)):
            msg = m["msg"].rstrip()
            before = records[i - 1] if i else ctx.last_record
            return 1 if len(msg) >= 8 and before.rstrip().endswith(msg) else 0
        return 0


class KeyValueLines(Reader):
    name = "kv"
    blank = False  # read gives up on blanks before anything else
    batched = True  # a run of lines of one shape is read at once (`repeat`)
    plans = True  # False: every line takes the full read (the tests compare both)

    def __init__(self) -> None:
        self._pending: str | None = None  # `final_score = `: the name awaiting its value
        self._pending_at = -1
        self._plannable: tuple[KeyValues, tuple[str, ...], tuple[float, ...]] | None = None
        # (shape, epoch) -> its plan, or how many times its numbers' roles were ambiguous
        self._plans: dict[tuple[str, int | None], repeat.LinePlan | int] = {}
        self._names: tuple[str, ...] = ()  # the names of the last line read with values
        self._at_cut = False  # the record is the log's last, with no line end

    def read_many(self, records: list[str], i: int, ctx: Context) -> int:
        """`read` on `records[i]`; then, when its shape has a plan, the records after it that
        match the plan (`repeat.take`)."""
        self._plannable = None
        record = records[i]
        if record == (records[i - 1] if i else ctx.last_record) and epoch_position(record):
            # `INFO:tensorflow:global step 1: loss = 79.3501` twice (two handlers on one
            # logger): the same step printed again, read once
            return 1
        self._at_cut = ctx.cut_end and i == len(records) - 1
        taken = self.read(record, ctx)
        self._at_cut = False
        if not taken:
            return 0
        if self._plannable is None or i + 1 == len(records) or not self.plans:
            return 1
        kv, hint_names, hint_values = self._plannable
        state = ctx.state
        if state is None or (kv.epoch is not None and kv.epoch != state.epoch):
            return 1
        if records[i + 1] == record:
            return 1  # a line printed twice: no plan (the copy is dropped above)
        key = (g.NUM_TOKEN.sub("\0", record), kv.epoch)
        plan = self._plans.get(key)
        if not isinstance(plan, repeat.LinePlan):
            if plan is not None and plan >= 3:
                return 1  # this shape's numbers were ambiguous three times: read in full
            if g.NUM_TOKEN.sub("\0", records[i + 1]) != key[0]:
                return 1  # a plan pays off for a run of lines: an epoch's one summary has none
            if kv.epoch is not None and (m := epoch_position(records[i + 1])) and (
                    m["what"].lower() in ("epoch", "ep") and int(m["n"]) != kv.epoch):
                return 1  # one line an epoch (`Epoch 7: loss=...`): the plan would read none
            made = repeat.plan_for(record, kv, hint_names, hint_values)
            if len(self._plans) >= 512:
                self._plans.clear()
            self._plans[key] = made if made is not None else (plan or 0) + 1
            if made is None:
                return 1
            plan = made
        return 1 + repeat.take(plan, records, i + 1, ctx, state)

    def read(self, record: str, ctx: Context) -> bool:
        if record.isspace():  # the Trainer clears its bar with a line of blanks before a dict
            return False
        f = g.fast()
        kv: KeyValues | None = None
        plannable = False
        if ":" in record or "=" in record or "poch" in record:
            if record.rstrip().endswith(("=", ":")):
                pending = f.pending_name.search(record)
                if pending:
                    self._pending = pending.group(1).strip()
                    self._pending_at = ctx.handled + 1
                    # `Batch 2271/17168: accuracy: 0.51, loss:` (a value on the next line, or
                    # a paste cut there): the pairs before the name are read as they stand
                    head = record[: pending.start(1)]
                    if f.kv_separator.search(head) and (
                            before := key_values_in(head, ws_ok=False)) is not None:
                        self.apply(before, ctx)
                    return True
            kv = key_values_in(record, ws_ok=epoch_position(record) is not None)
            plannable = kv is not None and kv.step_total is None  # each step says where it is
            if "[" in record and (m := f.labels.search(record)):  # `labels=['neg', 'pos']`
                items = [i for i in m["items"].split(",") if i.strip()]
                if len(items) >= 2:
                    plannable = False
                    kv = kv or KeyValues(pairs=[])
                    kv.hints["num_classes"] = float(len(items))
            if ("rain" in record or "reez" in record or "rozen" in record) and (
                    m := f.frozen.search(record)):
                frozen = (m["value"].lower() == "true") != (m["key"] == "trainable")
                plannable = False
                kv = kv or KeyValues(pairs=[])
                kv.hints["frozen"] = frozen
        elif ("poch" in record or "tep" in record or "ter" in record) and epoch_position(record):
            kv = key_values_in(record, ws_ok=True)
            plannable = kv is not None
        elif len(record) < 300 and g.WS_LINE.match(record):  # `train loss 0.51 val acc 0.81`
            kv = key_values_in(record, ws_ok=True)
            plannable = kv is not None
        elif f.number_only.match(record):
            if self._pending is None or self._pending_at != ctx.handled:
                return False
            name, self._pending = self._pending, None
            kv = key_values([(name, repr(g.to_float(record)))])
        if kv is None and len(record) < 80 and record.rstrip().endswith(":") and (
                m := epoch_position(record)) and m["what"].lower() in ("epoch", "ep"):
            # `* Training epoch 2:`, `* Validation for epoch 2:`: a section opening an epoch
            kv = KeyValues(pairs=[], epoch=int(m["n"]))
        if kv is None:
            # `best epoch 2 with val_f1 0.73`: a look back at a value the table already holds;
            # understood, and nothing new to record
            return "best" in record.lower() and g.metric_like(record.lower())
        if kv.pairs:
            names = tuple(name for name, _ in kv.pairs)
            if (self._at_cut and len(names) < len(self._names)
                    and self._names[: len(names)] == names
                    and (end := _END_NUMBER.search(record)) is not None
                    and float(end.group()) == kv.pairs[-1][1]):
                # the log's last line stops short of the names the line before printed and
                # ends in its last value (`Epoch 1285: train loss 0.0` after `... val loss:
                # 1.043 val acc 0.726.`): the paste was cut there, maybe inside that number
                kv.pairs = kv.pairs[:-1]
                if not kv.pairs:
                    return True
            self._names = names
        if plannable and kv.pairs:
            self._plannable = (kv, tuple(kv.hints), tuple(kv.hints.values()))
        self.apply(kv, ctx)
        return True

    def apply(self, kv: KeyValues, ctx: Context) -> None:
        """Put a line's values where they belong: its epoch, a new run, or the open epoch."""
        state = ctx.current()
        waiting = bool(state.unplaced or state.unplaced_lines)  # values read before any epoch
        trailing = kv.epoch is not None and kv.pairs and (
            state.trailing or (state.epoch is None and waiting))
        if trailing:
            ctx.place(state, kv.epoch)  # type: ignore[arg-type]
        elif kv.epoch is not None and (
            state.epoch is None or kv.epoch >= state.epoch
            or kv.epoch <= (state.base_epoch or 0)  # back to the first epoch: a new run
        ):
            state = ctx.header(kv.epoch, kv.epoch_total)
        elif kv.epoch is not None and kv.epoch in state.rows:
            # a line about an earlier epoch: its values are that epoch's; nothing restarts
            row = state.rows[kv.epoch]
            ctx.add_format(state.run, "kv")
            for name, value in kv.pairs:
                ctx.observe(state, name, kv.epoch, kv.step, value, row)
            return
        if kv.hints:
            planned = kv.hints.pop("epochs_planned", None)
            if planned is not None and state.run.epochs_planned is None and planned == int(planned):
                state.run.epochs_planned = int(planned)
            state.run.hints.update(kv.hints)
        if not kv.pairs:
            return
        if kv.epoch is not None:
            state.crashed = False
        run = state.run
        ctx.add_format(run, "kv")
        # `Test accuracy: 0.80` after training: a held-out score, no epoch's value; kept as a
        # series, out of the epoch table
        held_out = kv.epoch is None and is_held_out([n for n, _ in kv.pairs])
        row = None if held_out else ctx.row(state)
        for name, value in kv.pairs:
            ctx.observe(state, name, state.epoch, kv.step, value, row)
            if row is None and not held_out:  # `step 12: loss=...` before `epoch 1: ...`
                column = run.series[name]
                ctx.unplace(state, column, len(column) - 1, name, value)
        if row is not None and kv.epoch is not None:
            if kv.step is not None and state.own.get("kv_summaries"):
                # `Epoch 8 Batch 0 Loss ...` where earlier epochs closed with a summary naming
                # no step (`Epoch 7 Loss ...`): epoch 8 is under way until its own summary, and
                # a log that ends first ends inside it
                state.bar_open = True
            else:
                state.bar_open = False  # a summary naming its epoch: that epoch's work is done
                if kv.step is None:
                    state.own["kv_summaries"] = True
        if kv.step_total is not None and row is not None and kv.epoch is None:
            # `Batch 2271/17168: ...` under `Epoch 0/139`: the epoch is under way while one more
            # line at the same interval would still fall inside it; a log that ends there ends
            # inside the epoch (an interval that overshoots the total: the epoch's last line)
            seen = state.own.get("kv_step")
            gap = kv.step - seen[1] if seen and seen[0] == state.epoch and kv.step > seen[1] else 0
            state.bar_open = kv.step + gap < kv.step_total if gap else kv.step < kv.step_total
            state.own["kv_step"] = (state.epoch, kv.step)
        if kv.seconds is not None and row is not None:
            row.seconds = kv.seconds
        if trailing:  # what follows belongs to the next summary's epoch
            state.epoch = None


__all__ = ["KeyValueLines", "KeyValues", "Noise", "RunState", "key_values", "key_values_in"]
