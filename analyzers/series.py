"""Records to runs: the epoch table, every observation, roles and status, built incrementally.

`LogParser.feed(bytes)` may be called with any chunking; the result equals one-shot parsing of
the same bytes. `runs` can be read at any time (a live view for the monitor); `close()` flushes
the held-back tail and settles each run's status.

The parser keeps runs and epochs; what a record means is each format reader's business
(`formats/`): every record goes to the readers of `formats.READERS` in order until one takes it.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from . import grammar as g
from . import structured
from .formats import READERS, Reader
from .formats.values import LOSS as _LOSS
from .model import Analysis, Coverage, EpochRow, Run, Series
from .roles import DEV_PREFIX as _DEV_PREFIX
from .roles import infer_roles
from .stream import RecordSplitter

R = TypeVar("R", bound=Reader)


class _RunState:
    """Parsing state of the run being built; dropped when the run ends."""

    __slots__ = (
        "run", "epoch", "base_epoch", "rows", "epoch_serial", "epoch_done", "diverged",
        "crashed", "ended", "stopped", "unplaced", "unplaced_lines", "unplaced_seconds",
        "unplaced_eval_seconds", "trailing", "unstepped", "own", "bar_open",
    )

    def __init__(self, run: Run) -> None:
        self.run = run
        self.epoch: int | None = None
        self.base_epoch: int | None = None
        self.rows: dict[int, EpochRow] = {}
        self.epoch_serial = 0  # +1 whenever an epoch opens
        self.epoch_done = False  # the open epoch's progress bar reached its target
        self.bar_open = False  # the open epoch's bar has drawn frames short of its target
        self.diverged = False
        self.crashed = False
        self.ended = False  # the log said training is over
        self.stopped = False  # ... by a stop (KeyboardInterrupt, `training stopped`)
        # values seen while no epoch was open, placed by the next `epoch N: ...` summary line:
        # (series, start, stop, name, last value), from bar frames and from key/value lines
        self.unplaced: list[tuple[Series, int, int, str, float]] = []
        self.unplaced_lines: list[tuple[Series, int, int, str, float]] = []
        self.unplaced_seconds: float | None = None
        self.unplaced_eval_seconds: float | None = None
        self.trailing = False  # epochs are named by summaries printed after their work
        self.unstepped: list[tuple[Series, int]] = []  # values awaiting their step (Trainer)
        self.own: dict[str, Any] = {}  # reader name -> its state for this run


class LogParser:
    """Incremental log parser: bytes in, runs out."""

    def __init__(self, source: str = "-", keep_lines: int = 2000,
                 on_run_end: Callable[[Run], None] | None = None) -> None:
        """`on_run_end`, when given, receives each run once it is over (a new run began, or
        `close()`), settled, and the parser keeps nothing of it: a log of 100,000 runs is read
        in the memory of one. Without it, `runs` keeps every run (the monitor's view)."""
        self.source = source
        self._on_run_end = on_run_end
        self._run_count = 0
        self.records = 0
        self.handled = 0  # records some reader took (readers compare it: consecutive records)
        self.observed = 0  # values observed
        self.last_record = ""  # the record before the batch being read (its first's neighbour)
        self.cut_end = False  # the batch being read is the log's unterminated last line
        self._splitter = RecordSplitter()
        self._lines: deque[str] = deque(maxlen=keep_lines)
        self._depth = 0  # fragments being read inside one another (`dispatch`)
        self._pending: deque[str] = deque()
        self._runs: list[Run] = []
        self._states: list[_RunState] = []
        self.state: _RunState | None = None  # the run being built
        self._closed = False
        # a trainer_state.json, metrics CSV or event file, recognised by its first bytes
        self._structured: structured.StructuredParser | None = None
        self._sniffed = False
        self._before_runs = Coverage()  # records read before the first run began
        self._coverage = self._before_runs  # the current run's
        self._handed = Coverage()  # the coverage of runs handed over to on_run_end, summed
        self._readers: list[Reader] = [cls() for cls in READERS]
        self._by_type: dict[type, Reader] = {type(r): r for r in self._readers}
        # (wants or None when it takes every record, read or read_many, batched, silent)
        self._table = [
            (None if type(r).wants is Reader.wants else r.wants,
             r.read_many if r.batched else r.read, r.batched, r.silent)
            for r in self._readers]
        self._blank_table = [entry for entry, r in zip(self._table, self._readers)
                             if type(r).blank]  # for a record of blanks alone

    # --- public --------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if not self._sniffed and data:
            self._sniffed = True
            self._structured = structured.parser_for(self.source, data)
        if self._structured is not None:
            self.records += data.count(b"\n")
            self._structured.feed(data)
            return
        self._records(self._splitter.feed(data))

    def close(self) -> Analysis:
        if self._structured is not None:
            first, self._closed = not self._closed, True
            analysis = self._structured.close()
            if self._on_run_end is None:
                return analysis
            if first:
                for run in analysis.runs:
                    self._on_run_end(run)
            return Analysis(self.source, [], coverage=analysis.coverage)
        if not self._closed:
            self.cut_end = True  # what is left has no line end: a paste may stop inside it
            self._records(self._splitter.close())
            self.cut_end = False
            for reader in self._readers:
                reader.finish(self)
            self._closed = True
            if self._on_run_end is not None:
                self._finish_run(log_end=True)
        runs = self.runs
        total = Coverage(records=self.records)
        handed = self._handed
        covs = [handed, *(run.coverage for run in runs)] if self._run_count else [self._before_runs]
        for cov in covs:
            total.with_metrics += cov.with_metrics
            total.unmatched_metric_like += cov.unmatched_metric_like
            room = Coverage.MAX_EXAMPLES - len(total.unmatched_examples)
            total.unmatched_examples.extend(cov.unmatched_examples[:max(room, 0)])
        return Analysis(self.source, runs, coverage=total)

    @property
    def runs(self) -> list[Run]:
        """The runs so far, with roles and status brought up to date."""
        if self._structured is not None:
            return self._structured.runs
        for state in self._states:
            closed = self._closed or state is not self.state
            if closed or state.ended:
                self.close_headerless(state)
            _settle(state.run, state, closed, log_end=self._closed and state is self.state)
        return self._runs

    def tail_lines(self, n: int) -> list[str]:
        """The last `n` cleaned records (for a log pane)."""
        if self._structured is not None:
            return self._structured.tail_lines(n)
        return list(self._lines)[-n:] if n else []

    @property
    def dropped_bytes(self) -> int:
        return self._splitter.dropped_bytes

    @property
    def unread(self) -> Coverage:
        """Coverage of the records read while no run had begun (a log with no run at all)."""
        return self._before_runs

    # --- records -------------------------------------------------------------------------
    def _records(self, records: list[str]) -> None:
        self.records += len(records)
        keep = self._lines.maxlen
        if keep:  # the last lines, for a crash's context: only the last `keep` can stay
            self._lines.extend(records[-keep:])
        table, blank_table = self._table, self._blank_table
        log_prefix = g.fast().log_prefix.match
        i, n = 0, len(records)
        while i < n:
            record = records[i]
            if record[0] == ">":  # a paste quoted in an issue or a mail: `> Epoch 1/3`
                records[i] = record = _unquote(record)
            if record[:1] in _PREFIX_START and (m := log_prefix(record)) and m.end() < len(record):
                records[i] = record = record[m.end():]  # `[2023-05-01 12:00:00] 12/12 [===...`
            if record.count("poch") > 1 and (pieces := _epochs_in_one(record)):
                records[i:i + 1] = pieces  # a paste that lost its line breaks
                record, n = pieces[0], len(records)
                self.records += len(pieces) - 1
            observed = self.observed
            taken = 0
            for wants, read, batched, silent in (
                    table if record[-1:] != " " or not record.isspace() else blank_table):
                if wants is None or wants(record):
                    taken = read(records, i, self) if batched else read(record, self)
                    if taken:
                        if not silent:
                            self.handled += 1
                        break
            coverage = self._coverage
            if not taken:
                taken = 1
                _unmatched(coverage, record)
            elif self.observed != observed:
                coverage.with_metrics += taken
            coverage.records += taken
            i += taken
        if records:
            self.last_record = records[-1]

    def dispatch(self, text: str) -> bool:
        """Read a fragment of a record (text glued to a bar frame) through every reader.

        A fragment holds fragments in turn (a thousand tqdm frames glued into one line by a
        paste that lost its line breaks): past `MAX_DEPTH` nested fragments each waits in a
        queue and is read after the one holding it, in order, instead of by recursion."""
        if self._depth >= MAX_DEPTH:
            self._pending.append(text)
            return True
        self._depth += 1
        try:
            taken = self._read_fragment(text)
            if self._depth == 1:
                while self._pending:
                    self._read_fragment(self._pending.popleft())
        finally:
            self._depth -= 1
        return taken

    def _read_fragment(self, text: str) -> bool:
        for wants, _read, _batched, silent in self._table:
            reader_read = _read.__self__.read  # a fragment is one record: `read`, not a batch
            if (wants is None or wants(text)) and reader_read(text, self):
                if not silent:
                    self.handled += 1
                return True
        return False

    def reader(self, kind: type[R]) -> R:
        return self._by_type[kind]  # type: ignore[return-value]

    # --- runs and epochs -----------------------------------------------------------------
    def _finish_run(self, log_end: bool = False) -> None:
        """The current run is over: settle it once and drop its parsing state (nothing
        reaches back into a finished run); hand it over when asked to."""
        state = self.state
        if state is None:
            return
        self.state = None
        _settle(state.run, state, True, log_end=log_end)
        self._states.remove(state)
        if self._on_run_end is not None:
            self._runs = [run for run in self._runs if run is not state.run]
            cov, handed = state.run.coverage, self._handed
            handed.with_metrics += cov.with_metrics
            handed.unmatched_metric_like += cov.unmatched_metric_like
            room = Coverage.MAX_EXAMPLES - len(handed.unmatched_examples)
            handed.unmatched_examples.extend(cov.unmatched_examples[:max(room, 0)])
            self._on_run_end(state.run)

    def new_run(self) -> _RunState:
        self._finish_run()
        run = Run(index=self._run_count)
        if not self._run_count:  # what came before the first run is counted in it
            run.coverage = self._before_runs
        self._run_count += 1
        self._runs.append(run)
        self._coverage = run.coverage
        self.state = _RunState(run)
        self._states.append(self.state)
        return self.state

    def current(self) -> _RunState:
        return self.state or self.new_run()

    def progress(self) -> _RunState:
        """A training event: a crash seen before it did not end the run."""
        state = self.current()
        state.crashed = False
        return state

    def header(self, epoch: int, total: int | None) -> _RunState:
        state = self.current()
        run = state.run
        restarted = state.epoch is not None and (
            epoch < state.epoch
            or (total is not None and run.epochs_planned is not None and total != run.epochs_planned)
            or (state.crashed and epoch <= state.epoch)  # a rerun after a crash
        )
        if restarted:
            state = self.new_run()
            run = state.run
        elif state.epoch is None and state.unplaced and not state.rows and epoch > 1:
            # a paste that starts mid-epoch: what came before the first header is the epoch
            # before it
            self.place(state, epoch - 1)
            state.trailing = False
        state.crashed = state.stopped = False
        if total is not None:
            run.epochs_planned = total
        if epoch != state.epoch:
            state.epoch = epoch
            state.epoch_serial += 1
            state.epoch_done = state.bar_open = False
            if state.base_epoch is None:
                state.base_epoch = epoch
        return state

    def row(self, state: _RunState) -> EpochRow | None:
        if state.epoch is None:
            return None
        row = state.rows.get(state.epoch)
        if row is None:
            row = EpochRow(state.epoch)
            state.rows[state.epoch] = row
            state.run.epochs.append(row)
        return row

    def observe(self, state: _RunState, name: str, epoch: float | None, step: int | None,
                value: float, row: EpochRow | None, train: bool = True) -> None:
        self.observed += 1
        series = state.run.series.get(name)
        if series is None:
            series = state.run.series[name] = Series(name)
        series.append(epoch, step, value)
        if row is not None:
            row.metrics[name] = value
        if (train and not math.isfinite(value) and _LOSS.search(name)
                and not _DEV_PREFIX.match(name)):
            state.diverged = True

    @staticmethod
    def add_format(run: Run, fmt: str) -> None:
        if fmt not in run.formats:
            run.formats.append(fmt)

    def place(self, state: _RunState, epoch: int) -> None:
        """A summary printed after its epoch's work (`epoch 3: dev_acc=0.8` after a bar with no
        epoch in it): the values seen since the last summary are that epoch's."""
        state.trailing = True
        state.epoch = epoch
        if state.base_epoch is None:
            state.base_epoch = epoch
        row = self.row(state)
        assert row is not None
        for unplaced in (state.unplaced, state.unplaced_lines):
            for series, start, stop, name, value in unplaced:
                series.set_epochs(start, stop, epoch)
                row.metrics[name] = value
            unplaced.clear()
        if state.unplaced_seconds is not None:
            row.seconds = state.unplaced_seconds
        if state.unplaced_eval_seconds is not None:
            state.run.hints.setdefault("eval_seconds", {})[epoch] = state.unplaced_eval_seconds
        state.unplaced_seconds = state.unplaced_eval_seconds = None
        state.epoch_serial += 1  # the bar that follows is the next epoch's
        state.epoch_done = state.bar_open = False

    @staticmethod
    def unplace(state: _RunState, series: Series, start: int, name: str, value: float) -> None:
        """`series[start:]`, read from key/value lines while no epoch is open, awaits the epoch
        a summary after it names (`place`); one entry per stretch of a series (`step 12:
        loss=...` ten thousand times makes one). Unlike a bar's frames, such lines before an
        epoch's header stay unplaced (a model card's `- Train Loss: 0.12` ... `- Epoch: 4`)."""
        entries = state.unplaced_lines
        for k in range(len(entries) - 1, max(len(entries) - 8, 0) - 1, -1):
            if entries[k][0] is series:  # its latest stretch: extended when this one follows
                if entries[k][2] == start:
                    entries[k] = (series, entries[k][1], len(series), name, value)
                    return
                break
        entries.append((series, start, len(series), name, value))

    def close_headerless(self, state: _RunState) -> None:
        """A Keras bar that reached its end with no `Epoch k/N` header before it (`fit(epochs=1)`
        prints none) is an epoch: the one after the last."""
        if state.epoch is None and state.unplaced and state.epoch_done:
            first = not state.rows
            self.place(state, max(state.rows, default=0) + 1)
            state.epoch = None
            run = state.run
            # Keras prints `Epoch k/N` whenever N > 1: one headerless fit planned one epoch;
            # a loop of them planned some number the log does not say
            if first and run.epochs_planned is None:
                run.epochs_planned = 1
            elif not first and run.epochs_planned == 1:
                run.epochs_planned = None


_PREFIX_START = frozenset("[0123456789DINSWEC")  # how a logging prefix begins (grammar.LOG_PREFIX)
MAX_DEPTH = 32  # nested fragments read by recursion; deeper ones wait in a queue (`dispatch`)
_QUOTE = re.compile(r"^(?:>[ \t]?)+")


def _unquote(record: str) -> str:
    return _QUOTE.sub("", record, count=1)


def _epochs_in_one(record: str) -> list[str] | None:
    """A record holding the headers of several epochs in order (`Epoch 1/2 3600/3600 [====] -
    177s - loss: 0.65 ... Epoch 2/2 3600/3600 [====] ...`, or tqdm frames `Epoch 1/3: 50%|...`
    each naming its epoch: a paste whose line breaks were lost) cut before each epoch's first
    header, as its lines were; None for any other record (one epoch, or headers out of order:
    `Epoch 2/10 (best: Epoch 1/10)`)."""
    headers = list(g.fast().epoch_header.finditer(record))
    if len(headers) < 2:
        return None
    epochs = [int(m["epoch"]) for m in headers]
    if epochs[0] == epochs[-1] or len({m["total"] for m in headers}) != 1 or any(
            b < a for a, b in zip(epochs, epochs[1:])):
        return None
    cuts = [m.start() for k, m in enumerate(headers) if not k or epochs[k] != epochs[k - 1]]
    pieces = [record[a:b] for a, b in zip([0, *cuts], [*cuts, len(record)])]
    return [piece for piece in pieces if piece.strip()]


# --- coverage ---------------------------------------------------------------------------------
def _unmatched(coverage: Coverage, record: str) -> None:
    """A record no reader took: does it look like metrics (a metric word beside a number)?"""
    if len(record) > 2000 or record.isspace() or not g.metric_like(record.lower()):
        return
    coverage.unmatched_metric_like += 1
    if len(coverage.unmatched_examples) < Coverage.MAX_EXAMPLES:
        coverage.unmatched_examples.append(record.strip()[:200])


# --- settling: status -------------------------------------------------------------------------
def _settle(run: Run, state: _RunState, closed: bool, log_end: bool = False) -> None:
    if closed and state.bar_open and not state.crashed and state.epoch in state.rows:
        # the log ends (or the run does) before the epoch's bar reached its end: no epoch
        # (a crashed run keeps the epoch it died in: where it crashed is worth saying)
        row = state.rows.pop(state.epoch)  # type: ignore[arg-type]
        if row in run.epochs:
            run.epochs.remove(row)
    empty = [row for row in run.epochs if not row.metrics and row.seconds is None] if closed else []
    for row in empty:  # an epoch opened and nothing printed in it (a crash at its first frames)
        run.epochs.remove(row)
        if state.rows.get(row.epoch) is row:
            del state.rows[row.epoch]
    run.roles = infer_roles(run)
    if state.crashed:
        run.status = "crashed"
    elif state.diverged:
        run.status = "diverged"
    elif state.stopped:
        run.status = "stopped"
    elif not closed and not state.ended:
        run.status = "running"
    else:
        incomplete = (
            not state.ended
            and run.epochs_planned is not None
            and state.epoch is not None
            and state.epoch < run.epochs_planned
            and "keras" in run.formats
            and not state.epoch_done
        )
        # the log ends inside an epoch's bar (a paste cut mid-epoch, a log still being
        # written): that run has not finished, whatever its format
        cut = log_end and state.bar_open and not state.ended and not state.epoch_done
        run.status = "running" if incomplete or cut else "finished"


def parse_bytes(data: bytes, source: str = "-") -> Analysis:
    parser = LogParser(source)
    parser.feed(data)
    return parser.close()


CHUNK = 1 << 20


def resolve_log(path: str | Path) -> Path:
    """A log path, or a run directory's `train.log`, or what else a directory holds (a
    trainer_state.json, a metrics.csv, TensorBoard events: `structured.find_in_dir`)."""
    p = Path(path)
    if p.is_dir():
        log = p / "train.log"
        return log if log.exists() else structured.find_in_dir(p) or log
    return p


def parse_path(path: str | Path, source: str | None = None) -> Analysis:
    log = resolve_log(path)
    if structured.is_tensorboard_path(log):
        return structured.read_path(log, source or str(path))
    parser = LogParser(source or str(path))
    with open(log, "rb") as fh:
        while chunk := fh.read(CHUNK):
            parser.feed(chunk)
    return parser.close()
