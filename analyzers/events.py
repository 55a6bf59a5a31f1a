"""Records to typed events, behind cheap pre-filters.

Most of a real log is noise: framework warnings, prints, blank redraws. `classify` looks at a
record with a few substring tests first and only then hands it to the matching expression of
`grammar`. Events are plain slotted dataclasses; they carry what the line says, nothing more: which
epoch a metric belongs to, and which run, is decided later in `series.py`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pyparsing as pp

from . import grammar as g

Pairs = list[tuple[str, float]]


@dataclass(slots=True)
class EpochHeader:
    epoch: int
    total: int | None


@dataclass(slots=True)
class KerasStep:
    current: int
    target: int | None
    metrics: Pairs
    seconds: float | None  # elapsed at the epoch's end (the ETA before it)
    bar: bool = True  # verbose=1 draws a bar; verbose=2 and evaluate's one-liners do not


@dataclass(slots=True)
class TqdmUpdate:
    desc: str
    n: int
    total: int | None
    elapsed: float | None
    postfix: Pairs
    after: str  # text glued after the bar's closing bracket (a Trainer dict, say)


@dataclass(slots=True)
class TrainerLog:
    values: dict[str, float]


@dataclass(slots=True)
class KeyValues:
    pairs: Pairs
    epoch: int | None = None
    epoch_total: int | None = None
    step: int | None = None
    seconds: float | None = None
    hints: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class PendingName:
    """`final_score = ` with the value printed alone on the next line."""

    name: str


@dataclass(slots=True)
class BareNumber:
    value: float


@dataclass(slots=True)
class TracebackStart:
    pass


@dataclass(slots=True)
class Fatal:
    text: str


@dataclass(slots=True)
class TrainingEnded:
    """`training finished`, `training stopped ...`, `Training completed.`: the run is over."""


Event = (
    EpochHeader | KerasStep | TqdmUpdate | TrainerLog | KeyValues | PendingName | BareNumber
    | TracebackStart | Fatal | TrainingEnded
)


def _pairs(found: list[tuple[str, str]]) -> Pairs:
    out = []
    for key, value in found:
        try:
            out.append((key, float(value)))  # float() reads nan, inf, -inf, Infinity itself
        except ValueError:
            try:
                out.append((key, g.to_float(value)))
            except ValueError:
                continue
    return out


def classify(record: str) -> list[Event]:
    """Every event one cleaned record holds (usually none or one)."""
    f = g.fast()
    # --- pre-filters: plain substring tests, most common first ---
    if "Traceback (most recent call last)" in record:
        head = record[: record.index("Traceback (most recent call last)")]
        return [*classify(head), TracebackStart()] if head.strip() else [TracebackStart()]
    if "raining" in record and f.ended.match(record):
        return [TrainingEnded()]
    if "/" in record:
        m = f.keras_step.match(record)
        if m:
            return [keras_step(record, m)]
        if "%|" in record or "it/s" in record or "s/it" in record:
            tq = _tqdm(record)
            if tq is not None:
                return _with_glued(tq)
    elif "it/s" in record or "s/it" in record or "%|" in record:
        tq = _tqdm(record)
        if tq is not None:
            return _with_glued(tq)
    if "{'" in record or '{"' in record:
        events = _trainer_dict(record)
        if events:
            values = events[0].values  # type: ignore[union-attr]
            m = epoch_position(record)
            if "epoch" not in values and m and m["what"].lower() == "epoch":
                # `epoch 3: {'accuracy': 0.84, 'f1': 0.88}` (accelerate / no-Trainer scripts)
                kv = key_values([(k, repr(v)) for k, v in values.items()])
                if kv is not None:
                    kv.epoch = int(m["n"])
                    return [kv]
            return events
    if ":" in record or "=" in record or "poch" in record:
        if f.cpp_log.match(record):
            return []
        m = f.epoch_header.search(record) if "poch" in record else None
        if m:
            header = EpochHeader(int(m["epoch"]), int(m["total"]))
            rest = record[m.end():]
            kv = _key_values(rest, ws_ok=True) if rest.strip() else None
            if f.keras_old_v2.match(rest):  # ` - 4s - loss: ...` on the header's line (rare)
                kv = _key_values(rest, ws_ok=False)
            return [header, kv] if kv else [header]
        if " - " in record and f.keras_old_v2.match(record):
            m = f.keras_old_v2.match(record)
            metrics = _pairs(f.keras_metric.findall(record))
            return [KerasStep(1, 1, metrics, float(m["seconds"]))]
        if record.rstrip().endswith(("=", ":")):
            pending = f.pending_name.search(record)
            if pending:
                return [PendingName(pending.group(1).strip())]
        kv = _key_values(record, ws_ok=epoch_position(record) is not None)
        if "[" in record and (m := f.labels.search(record)):  # `labels=['neg', 'pos']`
            items = [i for i in m["items"].split(",") if i.strip()]
            if len(items) >= 2:
                kv = kv or KeyValues(pairs=[])
                kv.hints["num_classes"] = float(len(items))
        if ("rain" in record or "reez" in record or "rozen" in record) and (m := f.frozen.search(record)):
            frozen = (m["value"].lower() == "true") != (m["key"] == "trainable")
            kv = kv or KeyValues(pairs=[])
            kv.hints["frozen"] = frozen
        if kv:
            return [kv]
    elif ("poch" in record or "tep" in record or "ter" in record) and epoch_position(record):
        kv = _key_values(record, ws_ok=True)
        if kv:
            return [kv]
    elif f.number_only.match(record):
        return [BareNumber(g.to_float(record))]
    if ("rror" in record or "Killed" in record or "memory" in record or "fault" in record
            or "Abort" in record or "exception" in record) and f.fatal.search(record):
        if f.log_notice.match(record) or "not a failure" in record:
            return []  # TensorFlow / absl warnings: `W ... ran out of memory ... not a failure`
        return [Fatal(record.strip())]
    return []


def epoch_position(text: str) -> re.Match[str] | None:
    """`epoch N` / `step N` naming where a line's values belong: at the start of the line or
    after a logging prefix, but not after a value (`Best F1: 0.73 at epoch 3` is a summary)."""
    if not ("poch" in text or "tep" in text or "ter" in text or "POCH" in text or "TEP" in text
            or "TER" in text):
        return None  # none of the words `epoch_prefix` looks for
    f = g.fast()
    m = f.epoch_prefix.search(text)
    if m is None or (m.start() and (f.kv_candidate.search(text, 0, m.start())
                                    or "best" in text[: m.start()].lower())):
        return None  # `best epoch 2 with dev_f1 0.71` looks back; it opens no epoch
    return m


def _with_glued(tq: TqdmUpdate) -> list[Event]:
    """A bar frame plus whatever was printed onto its end without a newline (a Trainer dict,
    a summary line printed while a nested bar was drawn)."""
    return [tq, *classify(tq.after)] if tq.after.strip() else [tq]


_NUMBER_CHARS = "0123456789.eE+-"
_ETA_CHARS = "0123456789.:mus"
_NAMES_SEEN: dict[str, bool] = {}  # metric name -> whether it is a NAME (a few dozen at most)


def keras_metrics(record: str, start: int) -> list[tuple[str, float]]:
    """The ` - name: value` pairs of a Keras frame from `start` on.

    Nearly every frame is ` - name: number` between each ` - `: those are read with string
    splits, cheaper than the regex (this runs once per training step). Anything
    else, NaN included, goes to `grammar.KERAS_METRIC`, which gives the same pairs on the
    common shape and is the definition.
    """
    metrics = []
    for part in record[start:].split(" - ")[1:]:
        name, sep, value = part.partition(": ")
        if not sep:
            continue  # `211s`, `228ms/step`: no `: `, so the regex finds nothing there either
        if name == "ETA" and (value[-1:] == "s" or ":" in value) and not value.strip(_ETA_CHARS):
            continue  # Keras 2's `ETA: 3s`, `ETA: 1:23`: never a number the regex would take
        ok = _NAMES_SEEN.get(name)
        if ok is None:
            ok = g.fast().name.fullmatch(name) is not None
            if len(_NAMES_SEEN) < 4096:
                _NAMES_SEEN[name] = ok
        if not ok or not value or value.strip(_NUMBER_CHARS):
            break
        try:
            metrics.append((name, float(value)))
        except ValueError:
            break
    else:
        return metrics
    metrics = []
    for name, value in g.fast().keras_metric.findall(record, start):
        try:
            metrics.append((name, float(value)))  # float() reads nan, inf, -inf itself
        except ValueError:
            continue
    return metrics


def keras_step(record: str, m: re.Match[str]) -> KerasStep:
    """A Keras bar frame already matched by `grammar.fast().keras_step`."""
    f = g.fast()
    current_text, target_text = m.groups()
    target = None if target_text == "Unknown" else int(target_text)
    current = int(current_text)
    metrics = keras_metrics(record, m.end())
    seconds = None
    if target is None or current >= target:  # elapsed time is printed only at the end
        rest = record[m.end():]
        s = f.keras_seconds.search(rest.split(" - ", 1)[0])
        if s is None and " - " in rest:  # verbose=2: `875/875 - 211s - 228ms/step - loss: ...`
            s = f.keras_seconds.search(rest.split(" - ", 2)[1] if rest.count(" - ") >= 2 else "")
        if s is not None:
            seconds = float(s["seconds"])
    tail = record[m.end(): m.end() + 3]
    return KerasStep(current, target, metrics, seconds, bar="━" in tail or "[" in tail)


def _tqdm(record: str) -> TqdmUpdate | None:
    f = g.fast()
    m = f.tqdm_bar.match(record)
    total: int | None
    if m:
        total = g.si_to_int(m["total"])
    else:
        m = f.tqdm_no_total.match(record)
        if not m:
            return None
        total = None
    try:
        n = g.si_to_int(m["n"])
    except ValueError:
        return None
    postfix = m["postfix"]
    pairs = _pairs(f.postfix_pair.findall(postfix)) if postfix else []
    if pairs and m.groupdict().get("cut") is not None:
        # a frame cut at the terminal width: a value at the very end may be cut short
        last = postfix.rsplit(",", 1)[-1]
        if "=" in last and pairs[-1][0] == last.split("=", 1)[0].strip():
            pairs.pop()
    return TqdmUpdate(
        desc=(m["desc"] or "").strip(),
        n=n,
        total=total,
        elapsed=g.clock_to_seconds(m["elapsed"]),
        postfix=pairs,
        after=m["after"] or "",
    )


def _dict_entries(text: str) -> list[tuple[str, str]]:
    """`{'loss': 0.69, 'epoch': '0.5', ...}` -> [(name, value text)] for number-like values."""
    result = g.grammar().trainer_dict.parse_string(text)
    return [(entry["name"], entry["value"]) for entry in result.get("entries", [])
            if isinstance(entry.get("value"), str)]


_DICTS = g.ShapeCache(_dict_entries)


MAX_DICT = 4096  # a Trainer dict is a few hundred characters; a printed batch is not one
MAX_DICT_TRIES = 3


def _trainer_dict(text: str) -> list[Event]:
    """The first of at most MAX_DICT_TRIES `{'...` openings that parses as a flat dict of
    metrics: bounded work on any line (a printed batch of token ids is one long line)."""
    start = text.find("{")
    for _ in range(MAX_DICT_TRIES):
        if start < 0:
            return []
        end = text.find("}", start)
        if end < 0:
            return []
        candidate = text[start : end + 1]
        if len(candidate) > MAX_DICT:
            start = text.find("{", end)
            continue
        try:
            entries = _DICTS(candidate)
        except pp.ParseException:
            start = text.find("{", start + 1)
            continue
        values: dict[str, float] = {}
        for name, value in entries:
            try:
                values[name] = g.to_float(value)
            except ValueError:
                continue
        return [TrainerLog(values)] if values else []
    return []


def _kv_pairs(text: str) -> list[tuple[str, str]]:
    return [(t["name"], t["value"]) for t in g.grammar().kv_line.parse_string(text)]


def _ws_pairs(text: str) -> list[tuple[str, str]]:
    try:
        return [(t["name"], t["value"]) for t in g.grammar().ws_pairs.parse_string(text)]
    except pp.ParseException:
        return []


_KV_LINES = g.ShapeCache(_kv_pairs)
_WS_LINES = g.ShapeCache(_ws_pairs)


MAX_KV_LINE = 4096  # metrics are printed on short lines; a longer one is read only so far


def _key_values(text: str, ws_ok: bool) -> KeyValues | None:
    text = text[:MAX_KV_LINE]
    found: list[tuple[str, str]] = []
    f = g.fast()
    lower = None
    if ("=" in text or ":" in text) and f.kv_separator.search(text) and f.kv_candidate.search(text):
        lower = text.lower()
        if not g.has_kv_word(lower):
            return None
        found = _KV_LINES(text)
    if ws_ok and not found and g.has_kv_word(lower or text.lower()):
        found = _WS_LINES(text)
    if not found:
        return None
    kv = key_values(found)
    m = epoch_position(text)  # `epoch 3: loss=...`, `Step 100: loss = 0.5`
    if m and kv is not None:
        if m["what"].lower() == "epoch":
            kv.epoch = kv.epoch if kv.epoch is not None else int(m["n"])
        elif kv.step is None:
            kv.step = int(m["n"])
    return kv


def key_values(found: list[tuple[str, str]]) -> KeyValues | None:
    """Sort printed name/value pairs into position, time, configuration hints and metrics."""
    kv = KeyValues(pairs=[])
    for raw_name, raw_value in found:
        key = raw_name.strip()
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
