"""tqdm bars: `Epoch 1/3:  25%|██▌       | 5/20 [00:00<00:00, 40.79it/s, loss=0.712, lr=0.0045]`,
bars without a total, the outer `trange(epochs)` bar, evaluation and side bars.

Text printed onto a frame's end without a newline (a Trainer dict, a `tqdm.write` summary) is
handed back to every reader (`ctx.dispatch`).

A training bar redrawn every step (`set_postfix` each batch) is the commonest record of a tqdm
log: after a frame that `update` read as a training frame of an epoch, `_frames` reads the
following frames of the same bar (same description and total, same postfix names, finite
values, before the bar's end) in a batch: what `update` would do to each, without its per-frame
dispatch, and the values appended column by column.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from .. import grammar as g
from ..model import Series
from ..roles import DEV_PREFIX
from .base import Context, Reader, RunState
from .kv import key_values_in
from .values import LOSS, Pairs, pairs
from .window import MAX_WINDOW, matched_run, until, until_other, until_reaching, until_repeat

# `Epoch 2`, `epoch 3/10`, `Ep 4 of 5`; not `max_epochs=3` (a setting in text glued before the
# bar when a paste lost its line breaks: `... reached. Epoch 2: 100%|...`, whose last is the bar's)
_EPOCH_IN_DESC = re.compile(
    r"(?:[Ee]poch|\b[Ee]p)(?!s\s*[=:])\D{0,3}(\d+)(?:\s*(?:/|of)\s*(\d+))?")
_EVAL_DESC = re.compile(r"eval|valid|\bval\b|\bdev\b|test|predict|infer|inference", re.I)
# data preparation and loading bars (datasets' `Map`, tokenizers, downloads, checkpoint shards)
_PREP_DESC = re.compile(
    r"\bmap\b|token|load|download|generat|filter|process|extract|shard|convert|cach|upload|"
    r"sav|writ|creat|build|resolv|fetch|read|prepar|collat|encod|packing",
    re.IGNORECASE,
)
_EPOCH_BAR = re.compile(r"^\s*epochs?\s*$", re.IGNORECASE)  # the outer bar of an epoch loop
_TRAIN_DESC = re.compile(r"train|iteration|batch|\bstep", re.IGNORECASE)


@dataclass(slots=True)
class TqdmUpdate:
    desc: str
    n: int
    total: int | None
    elapsed: float | None
    postfix: Pairs
    after: str  # text glued after the bar's closing bracket (a Trainer dict, say)


def read_bar(record: str) -> TqdmUpdate | None:
    f = g.fast()
    m = f.tqdm_bar.match(record)
    total: int | None
    try:  # `[\d.]+` also takes `2.1.0` (a version glued to a bar): no bar
        if m:
            total = g.si_to_int(m["total"])
        else:
            m = f.tqdm_no_total.match(record)
            if not m:
                return None
            total = None
        n = g.si_to_int(m["n"])
    except ValueError:
        return None
    postfix = m["postfix"]
    found = pairs(f.postfix_pair.findall(postfix)) if postfix else []
    if "v_num=" in postfix:  # Lightning's bar shows its logger's version: no metric
        found = [pair for pair in found if pair[0] != "v_num"]
    desc = (m["desc"] or "").strip()
    if desc and f.kv_separator.search(desc):  # set_description(f"Epoch {e} Loss: {loss:.4f}")
        kv = key_values_in(desc, ws_ok=True)
        if kv is not None:
            found = kv.pairs + found
    if found and m.groupdict().get("cut") is not None:
        # a frame cut at the terminal width: a value at the very end may be cut short
        last = postfix.rsplit(",", 1)[-1]
        if "=" in last and found[-1][0] == last.split("=", 1)[0].strip():
            found.pop()
    after = m["after"] or ""
    if m.groupdict().get("cut") is not None and not postfix:
        # no `]` and text run on after the rate: a line printed without a line break after a
        # frame (fastai 0.7's `... ?it/sepoch  trn_loss  val_loss`): that text is its own line
        glued = _GLUED_AFTER_RATE.match(m["rate"])
        if glued:
            after = glued["after"]
    return TqdmUpdate(
        desc=desc,
        n=n,
        total=total,
        elapsed=g.clock_to_seconds(m["elapsed"]),
        postfix=found,
        after=after,
    )


_GLUED_AFTER_RATE = re.compile(r"^\s*(?:\?|[\d.]+)\s*(?:it/s|s/it)(?P<after>[A-Za-z].*)$")


_FINITE = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SHAPES: dict[tuple, Callable[[str], re.Match[str] | None]] = {}
_DIGITS = re.compile(r"(\d+)")


def _shape(desc: str, total: str, names: tuple[str, ...],
           v_num: bool = False) -> Callable[[str], re.Match[str] | None]:
    """`match` of one bar's frames (`grammar.TQDM_BAR` with its description, total and postfix
    names fixed): the step and each value in one call. The description's numbers are left
    open (one pattern serves every epoch's `Epoch k/N`); group 1 is the description, which
    the caller compares with the bar's. `v_num`: Lightning's `v_num=3` stands among the
    names (skipped, as `parse` skips it)."""
    shape = _DIGITS.sub("0", desc)
    key = (shape, total, names, v_num)
    found = _SHAPES.get(key)
    if found is None:
        pattern = "".join(r"\d+" if part.isdigit() else re.escape(part)
                          for part in _DIGITS.split(desc) if part)
        skip = r"(?:,\s*v_num=[^,\]]*)?" if v_num else ""
        post = "".join(rf"{skip},\s*{re.escape(name)}=({_FINITE})" for name in names) + skip
        found = re.compile(
            rf"({pattern}): ?\s*\d{{1,3}}%\|[^|]*\|\s*(\d+)/{re.escape(total)}\s*"
            rf"\[(?:{g.CLOCK}|\?)<(?:{g.CLOCK}|\?),\s*[^,\]]*{post}\]\s*\Z").match
        if len(_SHAPES) < 1024:
            _SHAPES[key] = found
    return found


_BARE: dict[str, Callable[[str], re.Match[str] | None]] = {}
_FIRST = operator.itemgetter(0)


def _bare_match(total_text: str) -> Callable[[str], re.Match[str] | None]:
    """`match` of a whole frame of an unnamed bar without postfix of this total; group 1: n."""
    match = _BARE.get(total_text)
    if match is None:
        match = _BARE[total_text] = re.compile(
            rf"\s*\d{{1,3}}%\|[^|]*\|\s*(\d+)/{re.escape(total_text)}\s*"
            rf"\[(?:{g.CLOCK}|\?)<(?:{g.CLOCK}|\?),\s*[^,\]]*\]\s*\Z").match
    return match


def _remaining(n: int, total: int | None) -> int:
    """How many frames may follow frame `n` before its bar's end (a bound on a run's length)."""
    return max(total - n, 0) + 1 if total is not None else MAX_WINDOW


def _bare_frames(records: list[str], j: int, own: TqdmState, state: RunState, n: int,
                 total: int, total_text: str) -> int:
    """Frames of an unnamed bar with no postfix after its frame `n` of `total` was read as
    training: each only moves the run's step (`update` would do nothing else with them)."""
    match = _bare_match(total_text)
    ns = list(map(int, map(_FIRST, matched_run(match, records, j, _remaining(n, total)))))
    # the run ends before the bar's end or a redraw of the frame before: `update` decides
    ns = until_repeat(until_reaching(ns, total), n)
    if not ns:
        return 0
    own.last = ("", ns[-1], total, ())
    state.run.step = ns[-1]
    return len(ns)


def _epoch_in_desc(desc: str) -> re.Match[str] | None:
    """The last `epoch N` of a bar's description (the one nearest the bar)."""
    m = None
    for m in _EPOCH_IN_DESC.finditer(desc):
        pass
    return m


class TqdmState:
    __slots__ = ("last", "at", "train_key", "done_epoch")

    def __init__(self) -> None:
        self.last: tuple | None = None  # the last frame, for redraw de-duplication
        self.at = -1  # `ctx.handled` just after it: consecutive frames only
        self.train_key: tuple[str, int | None] | None = None  # (desc kind, total) of train bars
        self.done_epoch: int | None = None  # the last epoch whose `Epoch k` bar reached its total


class TqdmBar(Reader):
    name = "tqdm"
    blank = False  # wants needs "%|" or a rate
    batched = True
    batch = True  # False: every frame through `update` (the tests compare both)

    def wants(self, record: str) -> bool:
        return "%|" in record or "it/s" in record or "s/it" in record

    def read(self, record: str, ctx: Context) -> bool:
        u = read_bar(record)
        if u is None:
            return False
        self.update(u, ctx)
        if u.after.strip():
            ctx.dispatch(u.after)
        return True

    def read_many(self, records: list[str], i: int, ctx: Context) -> int:
        if self.batch and (taken := self._bare_resumed(records, i, ctx)):
            return taken
        u = read_bar(records[i])
        if u is None:
            return 0
        lead = self.update(u, ctx)
        if u.after.strip():
            ctx.dispatch(u.after)
            return 1
        if lead is None or not self.batch:
            return 1
        return 1 + self._frames(records, i + 1, ctx, u, *lead)

    @staticmethod
    def _bare_resumed(records: list[str], i: int, ctx: Context) -> int:
        """The training bar the run was drawing, unnamed and without postfix, resumed after a
        line printed between its frames (the Trainer's dict every `logging_steps`): what
        `update` does with such a frame (move the step, give it to the values the dict
        logged), without reading the frame in full; then its next frames (`_bare_frames`).
        0 where `update` might do anything else: it reads the frame."""
        state = ctx.state
        own = state.own.get("tqdm") if state is not None else None
        if own is None or own.last is None:
            return 0
        desc, last_n, total, postfix = own.last
        if (desc or postfix or total is None or own.train_key != ("", total)
                or "keras" in state.run.formats):  # type: ignore[union-attr]
            return 0
        total_text = str(total)
        fm = _bare_match(total_text)(records[i])
        if fm is None:
            return 0
        n = int(fm[1])
        if n == last_n or n >= total:
            return 0  # a redraw, or the bar's end (its elapsed time): `update` decides
        own.last, own.at = ("", n, total, ()), ctx.handled + 1
        run = state.run  # type: ignore[union-attr]
        ctx.add_format(run, "tqdm")
        if state.epoch is not None:  # type: ignore[union-attr]
            ctx.row(state)  # type: ignore[arg-type]
        state.crashed = False  # type: ignore[union-attr]
        run.step = n
        if state.unstepped:  # type: ignore[union-attr]
            for series, index in state.unstepped:  # type: ignore[union-attr]
                series.set_step(index, n)
            state.unstepped.clear()  # type: ignore[union-attr]
        return 1 + _bare_frames(records, i + 1, own, state, n, total,  # type: ignore[arg-type]
                                total_text)

    @staticmethod
    def _frames(records: list[str], j: int, ctx: Context, u: TqdmUpdate, state: RunState,
                own: TqdmState, row) -> int:
        """Frames after a training frame `u` of an epoch that `update` would read the same
        way: the same bar (description, total), the same postfix names, finite values, each
        frame new (no redraw of the last) and before the bar's end. One compiled regex per bar
        shape reads a whole frame. Returns how many frames it took."""
        lead = g.fast().tqdm_bar.match(records[j - 1])
        if lead is None:
            return 0
        if row is None:  # an unnamed bar without postfix (the Trainer's): it only counts steps
            if u.total is None:
                return 0
            return _bare_frames(records, j, own, state, u.n, u.total, lead["total"])
        if lead["desc"] is None or not u.postfix:
            return 0
        names = tuple(name for name, _ in u.postfix)
        desc = lead["desc"]
        match = _shape(desc, lead["total"], names, "v_num=" in records[j - 1])
        total, epoch = u.total, state.epoch
        base = (epoch - state.base_epoch) * total if state.base_epoch is not None else 0
        frames = matched_run(match, records, j, _remaining(u.n, u.total))
        if not frames:
            return 0
        # the run ends at another epoch's bar (`update` opens it), the bar's end (`update`
        # reads its elapsed time), an overflow to inf, or a redraw of the frame before; each
        # test runs over the whole run at C level (the overflow's Python search only in a run
        # that has one)
        columns = list(zip(*frames))
        same_bar = len(until_other(columns[0], desc))
        ns = until_reaching(list(map(int, columns[1][:same_bar])), total)  # type: ignore[arg-type]
        values = [list(map(float, column[:len(ns)])) for column in columns[2:]]
        rows = list(zip(*values))
        if not all(map(math.isfinite, map(sum, rows))):
            rows = until(rows, lambda v: not math.isfinite(sum(v)))
        keys = until_repeat(list(zip(ns, rows)), (u.n, tuple(v for _, v in u.postfix)))
        if not keys:
            return 0
        last_n, last_values = keys[-1]
        steps = [base + n for n in ns[:len(keys)]]
        rows = rows[:len(keys)]
        own.last = (u.desc, last_n, total, tuple(zip(names, last_values)))
        run = state.run
        run.step = steps[-1]
        series = run.series
        for name, column in zip(names, zip(*rows)):
            s = series.get(name)
            if s is None:
                s = series[name] = Series(name)
            s.extend_known(epoch, steps, list(column))  # type: ignore[arg-type]
            row.metrics[name] = column[-1]
        ctx.observed += len(steps) * len(names)
        return len(steps)

    def update(self, u: TqdmUpdate, ctx: Context) -> tuple[RunState, TqdmState, object] | None:
        """Read one frame. Returns (state, own, row) after a training frame of an epoch
        before its end (later frames of the same bar may be read in a batch), else None."""
        state = ctx.current()
        own = state.own.get("tqdm")
        if own is None:
            own = state.own["tqdm"] = TqdmState()
        key = (u.desc, u.n, u.total, tuple(u.postfix))
        consecutive = own.at == ctx.handled
        own.at = ctx.handled + 1
        if key == own.last and (consecutive or state.crashed):
            return  # the closing redraw of the same frame (also after the traceback it died in)
        own.last = key
        m = _epoch_in_desc(u.desc) if u.desc else None
        if m and u.n == 0 and own.done_epoch == int(m[1]):
            return  # Lightning resets the finished bar (`Epoch 1: 0/12`) before renaming it
        if m:
            state = ctx.header(int(m[1]), int(m[2]) if m[2] else None)
        elif u.total and _EPOCH_BAR.match(u.desc):
            # `trange(epochs, desc="Epoch")` around the batches: n epochs done, the next one
            # running. Its count can be redrawn stale (tqdm.write shows the last drawn `0/3`),
            # so it only moves the epoch forward, and summaries naming epochs take precedence.
            if state.run.epochs_planned is None:
                state.run.epochs_planned = u.total
            epoch = min(u.n + 1, u.total)
            if not state.trailing and (state.epoch is None or epoch > state.epoch):
                state = ctx.header(epoch, u.total)
            ctx.add_format(state.run, "tqdm")
            return
        if state.own.get("tqdm") is not own:  # the header began a new run: its own state
            own = state.own["tqdm"] = TqdmState()
            own.last, own.at = key, ctx.handled + 1
        run = state.run
        ctx.add_format(run, "tqdm")
        row = ctx.row(state) if state.epoch is not None else None
        done = u.total is not None and u.n >= u.total
        kind = self._bar_kind(state, own, u, bool(m))
        if kind == "other":  # an outer or side bar (`Training: 1/3` around epoch bars)
            for name, value in u.postfix:
                ctx.observe(state, name, state.epoch, u.n, value, None)
            return
        if kind == "eval":
            for name, value in u.postfix:
                name = name if DEV_PREFIX.match(name) else f"eval_{name}"
                ctx.observe(state, name, state.epoch, u.n, value, row, train=False)
            if done and u.elapsed is not None:
                if state.epoch is not None:
                    run.hints.setdefault("eval_seconds", {})[state.epoch] = u.elapsed
                else:
                    state.unplaced_eval_seconds = u.elapsed
            return
        state.crashed = False
        gstep = u.n
        if m and u.total and state.base_epoch is not None:
            gstep = (state.epoch - state.base_epoch) * u.total + u.n  # type: ignore[operator]
        run.step = gstep
        if u.total and m:
            run.steps_per_epoch = u.total
            state.bar_open = u.n < u.total
            if not state.bar_open:
                own.done_epoch = state.epoch
        for name, value in u.postfix:
            ctx.observe(state, name, state.epoch, gstep, value, row if m else None)
            if state.epoch is None:
                column = run.series[name]
                state.unplaced.append((column, len(column) - 1, len(column), name, value))
        if state.unstepped:  # tqdm.write redraws the bar at the step the Trainer logged
            for series, index in state.unstepped:
                series.set_step(index, gstep)
            state.unstepped.clear()
        if done and m and u.elapsed is not None and row is not None:
            row.seconds = u.elapsed
        elif done and state.epoch is None and u.elapsed is not None:
            state.unplaced_seconds = u.elapsed
        if m and not done and u.total and row is not None and state.epoch is not None:
            return state, own, row
        if not m and not u.desc and not u.postfix and not done and u.total:
            return state, own, None
        return None

    @staticmethod
    def _bar_kind(state: RunState, own: TqdmState, u: TqdmUpdate, epoch_desc: bool) -> str:
        """`train`, `eval` or `other`: a bar's description, else its length, tells them apart.

        The first bar that is not an evaluation is the training bar (one with `Epoch k` in its
        description always is); an unnamed bar of another length is an evaluation (the
        Trainer's, a loop's), a named one of another length is some outer or side bar.
        """
        if u.desc and _EVAL_DESC.search(u.desc):
            return "eval"
        if not u.desc and "keras" in state.run.formats:
            return "eval"  # seed 000: a prediction bar after each Keras epoch
        if u.desc and not epoch_desc and _PREP_DESC.search(u.desc):
            return "other"  # `Map: 100%|...| 3668/3668`, `Loading checkpoint shards`, ...
        key = ("epoch" if epoch_desc else u.desc, u.total)
        trains = epoch_desc or bool(_TRAIN_DESC.search(u.desc)) or any(
            LOSS.search(name) for name, _ in u.postfix)
        if trains or own.train_key is None:
            own.train_key = key
            return "train"
        if key == own.train_key:
            return "train"
        return "eval" if not u.desc else "other"
