"""The reader interface every format family implements, and the context it reads into.

A `Reader` recognises one family of log records and turns them into observations through the
`Context` (the `LogParser`): which run, which epoch, which row. It owns its recognition (a cheap
`wants` test, then its patterns) and its state: state that lives as long as a run is kept in
`ctx.state.own`, keyed by the reader's `name`; state that lives as long as the log (a traceback
being read) is kept on the reader itself, one instance per parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from ..model import EpochRow, Run, Series


R = TypeVar("R", bound="Reader")


class RunState(Protocol):
    """What a reader may read and set of the run being built (see `series._RunState`)."""

    run: Run
    epoch: int | None
    base_epoch: int | None
    rows: dict[int, EpochRow]
    epoch_serial: int  # +1 whenever an epoch opens: epoch-scoped reader state resets on it
    epoch_done: bool  # the current epoch's bar reached its target
    bar_open: bool  # the current epoch's bar drew frames short of its target (cut if it ends so)
    diverged: bool
    crashed: bool
    ended: bool
    stopped: bool
    trailing: bool
    unplaced: list
    unplaced_lines: list
    unplaced_seconds: float | None
    unplaced_eval_seconds: float | None
    unstepped: list  # (series, index) of values awaiting the step a later bar frame names
    own: dict[str, Any]  # reader name -> that reader's per-run state


class Context(Protocol):
    """The parser as readers see it: runs and epochs, observations, re-dispatch."""

    handled: int  # records handled so far (a reader compares it to tell consecutive records)
    observed: int  # values observed so far (`observe` counts; a reader that appends itself adds)
    last_record: str  # the record before the batch `read_many` is given (`records[i - 1]` at 0)
    cut_end: bool  # the batch is the log's last line with no line end (a paste can stop inside)

    @property
    def state(self) -> RunState | None: ...
    def current(self) -> RunState: ...  # the run being built, a new one if none
    def progress(self) -> RunState: ...  # `current`, and training goes on: no crash yet
    def new_run(self) -> RunState: ...
    def header(self, epoch: int, total: int | None) -> RunState: ...  # an epoch opens
    def place(self, state: RunState, epoch: int) -> None: ...  # unplaced values are `epoch`'s
    def unplace(self, state: RunState, series: Series, start: int, name: str,
                value: float) -> None: ...  # `series[start:]` awaits its epoch
    def close_headerless(self, state: RunState) -> None: ...  # a finished headerless bar: epoch
    def row(self, state: RunState) -> EpochRow | None: ...
    def observe(self, state: RunState, name: str, epoch: float | None, step: int | None,
                value: float, row: EpochRow | None, train: bool = True) -> None: ...
    def add_format(self, run: Run, fmt: str) -> None: ...
    def dispatch(self, text: str) -> bool: ...  # read a fragment (glued text) through all readers
    def reader(self, kind: type[R]) -> R: ...  # this parser's instance of a reader class


class Reader:
    """One format family. Subclass, set `name`, implement `wants` and `read`.

    - `wants(record)`: a cheap test (substrings, no regex if it can be helped); False means
      `read` is not called. It runs on every record that earlier readers did not take.
    - `read(record, ctx)`: True when the record was this family's (nothing later sees it),
      False to pass it on.
    - `finish(ctx)`: optional, called once when the log ends.
    - `read_many(records, i, ctx)`: optional, for families whose records come in long runs
      (Keras bar frames): how many records from `records[i]` on were taken, 0 for none.
      The default calls `read` on `records[i]`.
    """

    name: ClassVar[str] = ""  # the label in `Run.formats`, and the key of `ctx.state.own`
    batched: ClassVar[bool] = False  # True: the parser calls `read_many`
    silent: ClassVar[bool] = False  # True: what it takes is noise, not counted in `ctx.handled`
    # False: a record of blanks alone (the Trainer clears its bar with one before each dict)
    # is never this reader's and leaves it as it was, in any state: the parser does not ask
    blank: ClassVar[bool] = True

    def wants(self, record: str) -> bool:
        return True

    def read(self, record: str, ctx: Context) -> bool:
        raise NotImplementedError

    def read_many(self, records: list[str], i: int, ctx: Context) -> int:
        return 1 if self.read(records[i], ctx) else 0

    def finish(self, ctx: Context) -> None:
        """The log has ended (`LogParser.close`): settle what is still open (a traceback cut
        before its exception line, a block of values awaiting its end)."""
