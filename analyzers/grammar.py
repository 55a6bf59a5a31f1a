"""The log grammar, in order: keywords, pieces (numbers, names, durations), then line expressions.

Everything is built once, lazily (`grammar()`, `fast()`). Pieces are regular-expression strings,
used both inside pyparsing `Regex` elements and in compiled `re` patterns. The two hottest line
kinds — a Keras progress-bar frame and a tqdm frame, thousands per epoch — and the one-token lines
(headers, tracebacks) are matched by compiled patterns (`fast()`): measured here, pyparsing took
~25 us per Keras frame against ~2 us for the compiled pattern, and a log is mostly such frames.
The structured, rarer lines — Trainer dicts, key/value lines a person prints — go through the
pyparsing expressions (`grammar()`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from collections.abc import Callable
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by `grammar()`: a log of bars and frames never needs it
    import pyparsing as pp

# --- keywords -----------------------------------------------------------------------------
POSITION_NAMES = {"epoch", "step", "iter", "iteration", "global_step", "batch"}
TIME_NAMES = {"time", "elapsed", "seconds", "epoch_time", "duration", "secs", "sec"}
# names a person prints for configuration: kept as run hints, never as metrics
HINT_NAMES = {
    "lr": "lr", "learning_rate": "lr", "learning rate": "lr", "init_lr": "lr", "base_lr": "lr",
    "max_len": "max_len", "maxlen": "max_len", "max_length": "max_len", "max_seq_length": "max_len",
    "max_seq_len": "max_len", "seq_len": "max_len", "max len": "max_len",
    "batch_size": "batch_size", "train_batch_size": "batch_size", "batch size": "batch_size",
    "instantaneous batch size per device": "batch_size",
    "num_labels": "num_classes", "num_classes": "num_classes", "n_labels": "num_classes",
    "dropout": "dropout", "weight_decay": "weight_decay", "warmup_ratio": "warmup_ratio",
    "warmup_steps": "warmup_steps", "seed": "seed", "freeze_encoder": "freeze_encoder",
    "trainable": "trainable", "grad_accum": "grad_accum",
    "gradient accumulation steps": "grad_accum", "num epochs": "epochs_planned",
    "epochs": "epochs_planned", "num_epochs": "epochs_planned", "n_epochs": "epochs_planned",
    "num_train_epochs": "epochs_planned", "total optimization steps": "total_steps",
}
# a plain key/value line counts as metrics only for names like these (noise has many `x=1`)
METRIC_WORDS = re.compile(
    r"loss|acc|f1|score|auc|mcc|matthews|precision|recall|perplexity|ppl|bleu|rouge|"
    r"exact|\bem\b|pearson|spearman|corr|error|mae|mse|rmse|metric|top\d|wer|cer|kappa|"
    r"grad_norm|correct|nll|\bkl(?:d|_|\b)|_kl\b|elbo|entropy",
    re.I,
)

# What makes a plain key/value line worth reading: a metric word, a hint name or a position
# word, tested as substrings of the lowered line (an alternation of ~60 words in `re` costs
# tens of microseconds a line; these tests a few).
_KV_WORDS = (
    "loss", "acc", "f1", "score", "auc", "mcc", "matthews", "precision", "recall", "perplexity",
    "ppl", "bleu", "rouge", "exact", "pearson", "spearman", "corr", "error", "mae", "mse", "rmse",
    "metric", "wer", "cer", "kappa", "grad_norm", "correct", "nll", "kl", "elbo", "entropy",
    *HINT_NAMES,
    "epoch", "step",
    "iter", "time", "elapsed")
_KV_WORDS = tuple(w for w in dict.fromkeys(_KV_WORDS)  # a word holding another adds nothing
                  if not any(v != w and v in w for v in _KV_WORDS))
_KV_WORDS_SPECIAL = re.compile(r"\bem\b|top\d")


def has_kv_word(lower: str) -> bool:
    """Whether a lowered line names a metric, a hint or a position (METRIC_WORDS, HINT_NAMES,
    epoch/step/iter/time)."""
    for word in _KV_WORDS:
        if word in lower:
            return True
    return ("em" in lower or "top" in lower) and _KV_WORDS_SPECIAL.search(lower) is not None


_METRIC_WORDS_CHEAP = ("loss", "acc", "f1", "score", "auc", "mcc", "precision", "recall",
                       "perplexity", "ppl", "bleu", "rouge", "matthews", "pearson", "spearman",
                       "mse", "mae", "error")


_AFTER_METRIC_WORD = re.compile(
    r"[\w./-]{0,40}(?:\s*[:=|]\s*|\s+(?:[a-z]{1,8}\s+|=\s*)?)[-+]?(?:\d|\.\d|nan\b|inf\b)")


def metric_like(lower: str) -> bool:
    """Whether a lowered line holds a common metric's name followed by a number (`val loss
    0.34`, `acc: 81%`, `loss was 0.5`): what the coverage count calls metric-like when no
    reader took it.
    Substring finds, then one anchored match per hit: linear, unlike an alternation search."""
    after = _AFTER_METRIC_WORD.match
    for word in _METRIC_WORDS_CHEAP:
        i = lower.find(word)
        while i >= 0:
            if after(lower, i + len(word)):
                return True
            i = lower.find(word, i + 1)
    return False


# --- pieces -------------------------------------------------------------------------------
# tqdm's `format_num` prints a NaN postfix value as `nan.0` (Lightning bars: `train_loss=nan.0`)
NUM = (r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|"
       r"[-+]?(?:nan|NaN|NAN|inf|Inf|INF|Infinity)(?:\.0)?")
NAME = r"[A-Za-z_][\w.\-/@]{0,79}(?![\w.\-/@])"  # bounded: no quadratic work on junk
SI = r"[kMGTPEZY]?"
CLOCK = r"(?:\d+d, )?\d+(?::\d\d)+"  # tqdm 00:05, 1:02:03
NUM_END = r"(?=$|[\s,;)|\]}])"
# not `]` or `:`: `file.cc:404]`, `x.py:121:` are not metrics; a sentence's `.` may end a value
KV_END = r"(?=$|[\s,;)|}]|s\b|\.(?:\s|$))"


def to_float(text: str) -> float:
    try:
        return float(text)  # the common case; what float() reads, the rest below reads alike
    except ValueError:
        pass
    t = text.strip().lower()
    if t.endswith(".0") and t[-3:-2].isalpha():  # `nan.0`, `inf.0`
        t = t[:-2]
    if t.endswith("%"):
        return float(t[:-1]) / 100.0
    if t.lstrip("+-") in ("nan",):
        return math.nan
    if t.lstrip("+-") in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    return float(t.replace(",", ""))


def si_to_int(text: str) -> int:
    """tqdm's unit_scale: `1.23k` -> 1230."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "Z": 1e21, "Y": 1e24}
    if text and text[-1] in scale:
        return int(round(float(text[:-1]) * scale[text[-1]]))
    return int(float(text))


def clock_to_seconds(text: str) -> float | None:
    if not text or text == "?":
        return None
    days = 0
    if "d, " in text:
        d, text = text.split("d, ", 1)
        days = int(d)
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return float(days * 86400 + seconds)


# --- line expressions: Keras --------------------------------------------------------------
KERAS_METRIC = rf" - ({NAME}): ({NUM}){NUM_END}"
KERAS_STEP = (
    r"^\s*(?P<current>\d+)/(?P<target>\d+|Unknown)"
    r"(?=\s+(?:\[[=>.]*\]|━|-\s|\d+s\s|\d+:\d\d|\d+(?:\.\d+)?[mu]?s/))"
)
KERAS_ETA = r"(?: - ETA: (?:\d+(?::\d\d)+|\d+(?:\.\d+)?[mu]?s))?"  # Keras 2, mid-epoch
# a number that cannot overflow to infinity (exponents of two digits at most)
FINITE = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d\d?)?"


def keras_frame_shape(names: tuple[str, ...]) -> re.Pattern[str]:
    """A whole Keras frame with exactly these metrics: current, target, the bar (no `-` in it)
    and one finite number per name, in one match. What it matches, `formats.keras.keras_metrics`
    reads the same way; anything else does not match and takes the general path."""
    metrics = "".join(rf" - {re.escape(name)}: ({FINITE})" for name in names)
    step = KERAS_STEP.replace(r"(?P<target>\d+|Unknown)", r"(\d+)").replace(
        r"(?P<current>\d+)", r"(\d+)")
    # Keras 2 pads a frame shorter than the one before with spaces
    return re.compile(rf"{step}([^-\n]*){KERAS_ETA}{metrics} *\Z")


# The first bare duration after the bar: elapsed seconds at the epoch's end, ETA before.
KERAS_SECONDS = r"(?:^|\s)(?P<seconds>\d+(?:\.\d+)?)s(?=\s|$)"
KERAS_OLD_V2 = rf"^\s*-\s+(?P<seconds>\d+)s\s+-\s+{NAME}:"  # Keras 2.2, verbose=2: ` - 4s - loss:`
# `Epoch 3/10`, `Epoch [3/10]`, `INFO - Epoch 3/10 - loss: ...` (searched, not anchored)
EPOCH_HEADER = (
    r"(?:^|(?<=[\s\-:|\]]))[Ee]poch[\s:]*\[?\s*(?P<epoch>\d+)\s*/\s*(?P<total>\d+)\s*\]?"
)

# --- line expressions: tqdm ---------------------------------------------------------------
TQDM_BAR = (
    # the bar's cells may be gone: a notebook's text output keeps `100% 2785/2785 [00:53<...]`
    rf"^(?:(?P<desc>.*?): ?)?\s*(?P<pct>\d{{1,3}})%(?:\|(?P<bar>[^|]*)\|)?\s*"
    rf"(?P<n>[\d.]+{SI})/(?P<total>[\d.]+{SI})\s*"
    rf"\[(?P<elapsed>{CLOCK}|\?)<(?P<remaining>{CLOCK}|\?),\s*(?P<rate>[^,\]]*)"
    r"(?P<postfix>(?:,[^\]]*)?)(?:\](?P<after>.*)|(?P<cut>))$"  # `ncols` may cut the `]` off
)
TQDM_NO_TOTAL = (
    rf"^(?:(?P<desc>.*?): ?)?\s*(?P<n>[\d.]+{SI})(?P<unit>[A-Za-z]*)\s+"
    rf"\[(?P<elapsed>{CLOCK}),\s*(?P<rate>[^,\]]*(?:it|s|[A-Za-z]+)/(?:s|it|[A-Za-z]+))"
    r"(?P<postfix>(?:,[^\]]*)?)\](?P<after>.*)$"
)
POSTFIX_PAIR = rf"({NAME})=({NUM}%?){NUM_END}"

# --- logging prefixes ----------------------------------------------------------------------
# What a logger, a job scheduler or a log service puts before each line it passes on, dropped
# before the readers see the line: `[2023-05-01 12:00:00] `, `2023-05-01 12:00:00,123 - root -
# INFO - `, loguru's `2019-11-22 15:36:56.690 | INFO     | pkg.mod:fn:86 - `, a CloudWatch
# `2023-05-01T12:00:00.000Z `, `INFO:root:`. Not TensorFlow's and glog's own C++ lines
# (`2026-11-20 10:12:33.123456: W tensorflow/...`, `I0501 12:00:00.1 140 x.cc:88]`): noise.
TIMESTAMP = r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
LEVEL = r"(?:DEBUG|INFO|NOTICE|SUCCESS|WARNING|WARN|ERROR|CRITICAL)"
LOG_PREFIX = (
    rf"(?:\[{TIMESTAMP}\]\s*(?:\[?{LEVEL}\]?\s*[-:|]?\s*)?"
    rf"|{TIMESTAMP}(?:\s*[-|]\s*[\w.]+)?\s*[-|]\s*{LEVEL}\s*[-|:]\s*"
    rf"(?:[\w.<>]+:[\w.<>]+:\d+\s+-\s+)?"
    rf"|{TIMESTAMP}\s+(?:{LEVEL}\s+)?"
    rf"|{LEVEL}:[\w.]*:)"
)

# --- line expressions: errors -------------------------------------------------------------
FATAL = (
    r"CUDA out of memory|OutOfMemoryError|out of memory|ResourceExhaustedError|OOM when allocating|"
    r"^\s*Killed\s*$|Segmentation fault|Aborted \(core dumped\)|Floating point exception|"
    r"CUDA error:|NCCL error|^\s*Bus error"
)


@dataclass(frozen=True)
class Fast:
    """Compiled patterns for the hot line kinds, built from the pieces above."""

    keras_step: re.Pattern[str]
    keras_metric: re.Pattern[str]
    name: re.Pattern[str]
    keras_seconds: re.Pattern[str]
    keras_old_v2: re.Pattern[str]
    epoch_header: re.Pattern[str]
    tqdm_bar: re.Pattern[str]
    tqdm_no_total: re.Pattern[str]
    postfix_pair: re.Pattern[str]
    fatal: re.Pattern[str]
    number_only: re.Pattern[str]
    pending_name: re.Pattern[str]
    kv_candidate: re.Pattern[str]
    kv_separator: re.Pattern[str]
    cpp_log: re.Pattern[str]
    frozen: re.Pattern[str]
    labels: re.Pattern[str]
    ended: re.Pattern[str]
    log_notice: re.Pattern[str]
    epoch_prefix: re.Pattern[str]
    log_prefix: re.Pattern[str]


@cache
def fast() -> Fast:
    return Fast(
        keras_step=re.compile(KERAS_STEP),
        keras_metric=re.compile(KERAS_METRIC),
        name=re.compile(NAME),
        keras_seconds=re.compile(KERAS_SECONDS),
        keras_old_v2=re.compile(KERAS_OLD_V2),
        epoch_header=re.compile(EPOCH_HEADER),
        tqdm_bar=re.compile(TQDM_BAR),
        tqdm_no_total=re.compile(TQDM_NO_TOTAL),
        postfix_pair=re.compile(POSTFIX_PAIR),
        fatal=re.compile(FATAL, re.M),
        number_only=re.compile(rf"^\s*(?:{NUM})\s*$"),
        pending_name=re.compile(rf"(?:^|\s)({NAME}(?: {NAME}){{0,3}})\s*[=:]\s*$"),
        kv_candidate=re.compile(rf"(?<![\w.\-/@])[A-Za-z_][\w.\-/@]*\s*[:=]\s*(?:{NUM})%?{KV_END}"),
        # `name: 0.5`, `name=nan`: the separator and a number's start, a cheap pre-filter
        kv_separator=re.compile(r"[:=]\s*[-+]?(?:[\d.]|nan|NaN|NAN|inf|Inf|INF)"),
        # C++ logging (TensorFlow, XLA, glog): `2026-11-20 10:12:33.123456: W tensorflow/x.cc:12]`,
        # `I0000 00:00:1763.123   12 gpu_device.cc:20]`: never metrics, never fatal at W/I/D
        cpp_log=re.compile(
            r"\s*(?:\d{4}-\d\d-\d\d[ T][\d:.,]+:?\s+[WID]\s+|[WID]\d{4} [\d:.]+\s+\d+\s+)"
            r"[\w./-]+\.(?:cc|cpp|cxx|h|c):\d+\]"),
        # `2026-11-20 10:12:33.123456: W tensorflow/...`, `W0000 00:00:17...`, `[W ...]`
        log_notice=re.compile(
            r"^\s*(?:\d{4}-\d\d-\d\d[ T][\d:.,]+:?\s+[WID]\s|[WID]\d{4} \d\d:\d\d:\d\d|"
            r"\[[WID] ?\d|.{0,40}\b(?:WARNING|Warning|UserWarning|FutureWarning)\b)"),
        ended=re.compile(
            r"^\s*[Tt]raining (stopped|interrupted|finished|complete|completed|done)\b"),
        labels=re.compile(r"\b(?:labels|classes|label_names|label_list)\s*[=:]\s*\[(?P<items>[^\]]*)\]"),
        frozen=re.compile(  # `freeze_encoder=True`, `bert_model.trainable = False`
            r"\b(?P<key>freeze_encoder|freeze_bert|frozen|trainable)\s*[=:]\s*(?P<value>True|False|true|false)\b"),
        epoch_prefix=re.compile(  # `epoch 3:`, `Step 100 |`, also after a logging prefix
            r"(?:^|(?<=[\s|:\]\-]))"
            r"(?P<what>[Ee]poch|EPOCH|[Ee]p|EP|[Ss]tep|STEP|[Ii]ter(?:ation)?)"  # `ep 3,` too
            r"\s*[:=#]?\s*(?P<n>\d+)\b(?!\s*/|\.\d|[eE][+-]?\d)"),  # not `Epoch: 0.0048`
        log_prefix=re.compile(LOG_PREFIX),
    )


# `train loss 0.512 val acc 0.81`: nothing but names and numbers (read without a colon)
WS_LINE = re.compile(
    rf"^\s*(?:{NAME}(?: [A-Za-z][\w.\-/]*){{0,2}}[ \t]+(?:{NUM})%?[,;]?[ \t]*)+$")
LOG_LEVEL_WORD = re.compile(r"^(?:INFO|DEBUG|WARNING|WARN|ERROR|CRITICAL|NOTICE)\s+")


# --- shapes: lines alike but for their numbers parse alike ---------------------------------
NUM_TOKEN = re.compile(rf"(?<![\w.])((?:{NUM})%?)(?=s\b|[^\w]|$)")


@lru_cache(maxsize=512)
def _shape_pattern(shape: str) -> Callable[[str], re.Match[str] | None]:
    """`fullmatch` of the lines of this shape (`\\0` where a number token stood): the same
    literal text around a number at each token. A line it matches has this shape; one it does
    not match (a number `NUM_TOKEN` would cut shorter, say) takes the full path."""
    token = rf"((?>{NUM})%?)"  # atomic: the longest number only, as NUM_TOKEN takes it
    return re.compile(token.join(map(re.escape, shape.split("\0")))).fullmatch


class ShapeCache:
    """Parse a line with pyparsing once per shape, then reuse where its values stood.

    A Trainer prints the same dict every logging step and a loop the same summary every epoch,
    with new numbers. The shape is the line with each number token replaced; when every parsed
    value is one of those tokens, later lines of that shape take their values by position.
    Measured here: ~300 us for a Trainer dict through pyparsing, ~10 us from the cache.
    """

    def __init__(self, parse, size: int = 512) -> None:
        self._parse = parse  # text -> list of (name, value text)
        self._size = size
        self._shapes: dict[str, tuple[list[str], list[int]] | None] = {}
        # the shape last seen, as one pattern with a group per number token, and (name, token)
        # of its values: a line of the same shape as the line before is read by one fullmatch
        self._last: tuple[Callable[[str], re.Match[str] | None], list[tuple[str, int]]] | None
        self._last = None

    def __call__(self, text: str) -> list[tuple[str, str]]:
        last = self._last
        if last is not None and (m := last[0](text)) is not None:
            groups = m.groups()
            return [(name, groups[i]) for name, i in last[1]]
        tokens = NUM_TOKEN.findall(text)
        shape = NUM_TOKEN.sub("\0", text)
        hit = self._shapes.get(shape)
        if hit is not None:
            names, where = hit
            self._last = (_shape_pattern(shape), list(zip(names, where)))
            return [(name, tokens[i]) for name, i in zip(names, where)]
        pairs = self._parse(text)
        if len(set(tokens)) < len(tokens) and any(tokens.count(v) > 1 for _, v in pairs):
            return pairs  # `step 12: loss=12`: which 12 is the loss? parse such lines each time
        where, j = [], 0
        for _, value in pairs:
            while j < len(tokens) and tokens[j] != value:
                j += 1
            if j == len(tokens):
                return pairs  # a value that is no number token: parse such lines every time
            where.append(j)
            j += 1
        if len(self._shapes) >= self._size:
            self._shapes.clear()
        self._shapes[shape] = ([name for name, _ in pairs], where)
        return pairs


# --- line expressions: pyparsing ----------------------------------------------------------
@dataclass(frozen=True)
class Grammar:
    trainer_dict: pp.ParserElement
    kv_line: pp.ParserElement
    ws_pairs: pp.ParserElement


@cache
def grammar() -> Grammar:
    """Build every pyparsing expression once (and import pyparsing: ~0.1 s of start-up that a
    log read by the compiled patterns alone does without)."""
    import pyparsing as pp

    number = pp.Regex(NUM).set_name("number")
    # Trainer: {'loss': 0.69, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': 0.16}
    # transformers 5 prints numbers as strings: {'loss': '0.6928', 'epoch': '0.1587'}
    key = pp.QuotedString("'") | pp.QuotedString('"')
    # a value a framework left wrapped: `np.float32(0.6931472)` (numpy 2 reprs), `tensor(0.69)`
    wrapped = pp.Regex(
        rf"(?:np\.|numpy\.)?(?:float(?:16|32|64)|tensor|array)\(\s*(?P<inner>{NUM})[^()]*\)"
    ).set_parse_action(lambda t: t[0][t[0].index("(") + 1:].split(",")[0].strip(" )"))
    # a vector, `array([0.0077, 0.6359, 0.4455])` (per-class F1 from compute_metrics): no
    # one number to plot, so the entry is skipped and the dict's scalars still read
    vector = pp.Regex(
        r"(?:np\.|numpy\.)?(?:array|tensor)\(\s*\[[^\[\]()]{0,4000}\][^()]{0,200}\)").suppress()
    value = (
        wrapped
        | vector
        | number
        | pp.QuotedString("'")
        | pp.QuotedString('"')
        | pp.Keyword("True") | pp.Keyword("False") | pp.Keyword("None")
        | pp.nested_expr("[", "]").suppress()
    )
    entry = pp.Group(key("name") + pp.Suppress(":") + value("value"))
    trainer_dict = pp.Suppress("{") + pp.DelimitedList(entry)("entries") + pp.Suppress("}")

    # plain key/value: `loss: 0.41`, `dev_acc=0.80`, `final_score = 0.46`, `time=12.3s`, `85.3%`.
    # One pass over the line: at each token a pair, else one word / punctuation run / blank
    # skipped (cheaper than `scan_string`, which retries the pair at every character).
    sep = pp.Regex(r"\s*[:=]\s*")
    kv_value = pp.Regex(rf"(?:{NUM})%?{KV_END}")
    # `max len`, `Num Epochs`, `Train Loss : 0.51`, `Validation Accuracy: 0.81`
    # (words aligned with runs of blanks, `val   acc: 0.35` under `train acc: 0.34`, too)
    kv_name = pp.Regex(rf"{NAME}(?: +(?:[a-z]{{2,}}|[A-Z][a-z]+|F1)(?![\w.\-/@])){{0,3}}")
    kv_pair = pp.Group(kv_name("name") + pp.Suppress(sep) + kv_value("value"))
    skip = pp.Suppress(pp.Regex(r"[^\w\s]+|[\w.\-/@]+|\s+"))
    kv_line = pp.ZeroOrMore(kv_pair | skip)

    # `epoch 3 train_loss 0.41 dev_acc 0.80`: names and numbers separated by blanks
    # a name of up to three words: `train loss 0.51 val acc 0.81`
    ws_name = pp.Regex(
        rf"{NAME}(?: (?!(?:nan|inf|infinity|NaN|Inf|Infinity)\b)(?:[a-z]{{2,}}|[A-Z][a-z]+)"
        rf"(?![\w.\-/@])){{0,2}}")
    ws_pair = pp.Group(ws_name("name") + pp.Suppress(pp.White(" \t") | sep) + kv_value("value"))
    ws_pairs = pp.ZeroOrMore(ws_pair | skip)
    return Grammar(trainer_dict, kv_line, ws_pairs)


def __getattr__(attr: str) -> type[Exception]:
    """`ParseException`: what a `grammar()` expression raises on a line it does not read
    (resolved on first use; an `except` clause names it only once something was raised)."""
    if attr == "ParseException":
        import pyparsing as pp

        return pp.ParseException
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
