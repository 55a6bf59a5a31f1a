"""One reader per log format family, and the registry the parser dispatches through.

The interface (`base.py`)::

    class Reader:
        name: ClassVar[str]        # label in Run.formats; key of ctx.state.own
        batched: ClassVar[bool]    # True: the parser calls read_many(records, i, ctx) -> int
        silent: ClassVar[bool]     # True: records it takes do not count as handled (noise)
        def wants(self, record: str) -> bool          # cheap pre-filter (substrings)
        def read(self, record: str, ctx: Context) -> bool   # True: taken, later readers skip it
        def finish(self, ctx: Context) -> None        # optional: the log ended (flush, settle)

`LogParser` (series.py) creates one instance of each class in `READERS` per log and, for each
cleaned record, asks them in this order: the first whose `wants` is true and whose `read`
returns true takes the record. So order matters: a family with a distinctive shape comes before
the catch-all key/value reader, and `Fatal` comes last (a line with metrics is no crash).

A reader writes through the `Context` (the parser): `ctx.current()` / `ctx.progress()` give the
run being built (`RunState`: run, epoch, rows, flags), `ctx.header(epoch, total)` opens an epoch
(a new run when the count starts over), `ctx.row(state)` is the open epoch's row,
`ctx.observe(state, name, epoch, step, value, row)` records a value, `ctx.place(state, epoch)`
gives values read before their epoch was known to it, `ctx.dispatch(text)` reads a fragment
(text glued to a bar) through every reader, `ctx.reader(Cls)` is this parser's instance of
another reader (the key/value reader's `apply`, say). State a reader keeps for a run lives in
`state.own[name]` (reset it when `state.epoch_serial` changes if it is per epoch); state for
the whole log lives on the reader instance. `ctx.handled` counts records taken so far: store
`ctx.handled + 1` when taking one to know later whether nothing came in between. A reader that
appends to a `Series` itself (not through `ctx.observe`) adds the count to `ctx.observed`: the
parser counts a record as understood (`Run.coverage.with_metrics`) when `observed` grew.
Status flags on the run state: `crashed`, `stopped` (KeyboardInterrupt, `training stopped`),
`ended`, `diverged`; `bar_open` (an epoch's bar short of its end: a cut epoch is dropped when
the log ends) and `epoch_done` (the bar reached its end).

Speed: a family whose records come in long runs of one shape reads them in a batch
(`batched`, `read_many`): `window.matched_run` applies one compiled pattern to a window of
records at C level (Keras and tqdm frames), and the key/value reader reads a run of lines of
one shape by a plan (`repeat.py`). Each batch path has a switch (`KerasBar.batch`,
`TqdmBar.batch`, `KeyValueLines.plans`) the tests turn off to compare it with the record-by-record
path.

Adding a format: one module here with its `Reader` subclass, one line in `READERS`, and its
fixtures (real bytes from the real library, or a cited public paste) under `sample_logs/`.
"""

from __future__ import annotations

from .base import Context, Reader, RunState
from .crash import Ended, Fatal, Traceback
from .keras import KerasBar, KerasLines
from .kv import KeyValueLines, Noise
from .meter import MeterLines
from .rich import RichBar
from .tables import ResultsTable
from .tqdm import TqdmBar
from .trainer import JsonEntries, MetricsBlock, TrainerDicts

READERS: list[type[Reader]] = [
    Traceback,  # first: inside a traceback nothing is a metric
    KerasBar,  # the commonest records (one per training step), read in batches
    Ended,
    ResultsTable,  # a header line, then rows: before the bars and lines its rows resemble
    TqdmBar,
    RichBar,  # Lightning's RichProgressBar
    TrainerDicts,
    MetricsBlock,  # `***** train metrics *****` and the `name = value` lines under it
    JsonEntries,  # a dict printed one `"name": value,` entry a line (a pasted trainer_state)
    Noise,  # C++ logging: never metrics, never fatal
    MeterLines,  # the PyTorch ImageNet example's `Epoch: [3][ 120/1930]  Loss 2.56 (2.95)`
    KerasLines,  # `Epoch 3/10`, Keras 2.2's ` - 4s - loss: ...`
    KeyValueLines,  # the catch-all for printed name/value pairs
    Fatal,  # last: a fatal message only where nothing else read the line
]

__all__ = ["READERS", "Context", "Reader", "RunState"]
