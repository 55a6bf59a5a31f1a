"""How a run ends: a Python traceback (plain or as a notebook prints it), a fatal message (CUDA
out of memory, `Killed`), or a line saying training is over (`training finished`, `training
stopped ...`, `Training completed.`). `KeyboardInterrupt` and a graceful stop are a stop, not a
crash."""

from __future__ import annotations

import re

from .. import grammar as g
from .base import Context, Reader, RunState

_TRACEBACK = "Traceback (most recent call last)"
# the exception line that ends a traceback: `RuntimeError: boom`, `KeyboardInterrupt`,
# `torch.cuda.OutOfMemoryError: CUDA out of memory`, `tensorflow...ResourceExhaustedError: OOM`
_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?::(?:\s.*)?)?$")
# a notebook names the exception in the header: `RuntimeError    Traceback (most recent call last)`
_NOTEBOOK_HEADER = re.compile(
    r"^\s*((?:[A-Za-z_]\w*\.)*[A-Z]\w*)\s+Traceback \(most recent call last\)")
# what a notebook traceback holds besides indented source: `----> 1 learn.fit(5)`, `--> 198 x`,
# `Cell In[5], line 1`, `File ~/x.py:12, in f(a)`, `<ipython-input-5-...> in <module>`,
# `/usr/lib/.../basic_train.py in fit(epochs, ...)`, `[... skipping hidden 1 frame]`, a dash rule
_NOTEBOOK_FRAME = re.compile(
    r"^(?:-*>\s|Cell In\[|File |<ipython-input-|\[\.\.\. skipping|-{10,}\s*$|"
    r"[~/<\w.\\:-]+\S* in \S)")
_STOP_EXCEPTIONS = ("KeyboardInterrupt",)
CUT = "Traceback (cut before its exception line)"


def _end(state: RunState, error: str) -> None:
    """The run ended with this exception line: a stop for KeyboardInterrupt, else a crash."""
    state.run.error = error[:500]
    if error.split(":", 1)[0].rsplit(".", 1)[-1].strip() in _STOP_EXCEPTIONS:
        state.stopped, state.crashed = True, False
    else:
        state.crashed = True


class Traceback(Reader):
    """`Traceback (most recent call last):` up to its exception line, which is the run's error.
    Text before the opening on the same record (a bar frame the traceback was glued to) is
    read as usual; the frames and source lines in between are never metrics. A traceback cut
    before its exception line (the paste ends, or other output follows) is still a crash."""

    name = "traceback"

    def __init__(self) -> None:
        self.active = False
        self.exception: str | None = None  # named by a notebook's header line

    def wants(self, record: str) -> bool:
        return self.active or _TRACEBACK in record

    def read(self, record: str, ctx: Context) -> bool:
        if not self.active:
            at = record.index(_TRACEBACK)
            m = _NOTEBOOK_HEADER.match(record)
            if m:
                self.exception = m[1]
            elif record[:at].strip():
                ctx.dispatch(record[:at])
            self.active = True
            return True
        stripped = record.strip()
        if not stripped or record[:1].isspace() or stripped.startswith(("Traceback", "^", "~")):
            return True
        if stripped.startswith(("During handling", "The above exception")):
            return True
        if self.exception is not None:  # a notebook's: frames until the named exception
            if stripped.startswith(self.exception) and _EXCEPTION.match(stripped):
                self._close(ctx, stripped)
                return True
            if _NOTEBOOK_FRAME.match(stripped):
                return True
            self._close(ctx, self.exception)  # cut: what follows is the log going on
            return False
        if _EXCEPTION.match(stripped):
            self._close(ctx, stripped)
            return True
        if _NOTEBOOK_FRAME.match(stripped) and not stripped.startswith("-" * 10):
            return True
        self._close(ctx, CUT)
        return False

    def _close(self, ctx: Context, error: str) -> None:
        self.active = False
        self.exception = None
        _end(ctx.current(), error)

    def finish(self, ctx: Context) -> None:
        if self.active:  # the log ends inside the traceback
            self._close(ctx, self.exception or CUT)


class Ended(Reader):
    """`training finished`, `training stopped ...`, `Training completed.`: the run is over.
    A stop (`training stopped`, Lightning's `Detected KeyboardInterrupt, attempting graceful
    shutdown`) is distinct from finishing."""

    name = "ended"
    blank = False  # wants needs "raining" or "KeyboardInterrupt"

    def wants(self, record: str) -> bool:
        return "raining" in record or "KeyboardInterrupt" in record

    def read(self, record: str, ctx: Context) -> bool:
        m = g.fast().ended.match(record)
        if m is None:
            if "Detected KeyboardInterrupt" in record:
                state = ctx.current()
                state.ended = state.stopped = True
                state.run.error = "KeyboardInterrupt"
                return True
            return False
        if ctx.state is not None:
            ctx.state.ended = True
            if m[1] in ("stopped", "interrupted") and "early" not in record.lower():
                ctx.state.stopped = True  # (`training stopped early`: early stopping finished it)
        return True


class Fatal(Reader):
    """CUDA out of memory, `Killed`, a segmentation fault: the process died."""

    name = "fatal"
    blank = False  # wants needs an error word

    def wants(self, record: str) -> bool:
        return ("rror" in record or "Killed" in record or "memory" in record or "fault" in record
                or "Abort" in record or "exception" in record)

    def read(self, record: str, ctx: Context) -> bool:
        f = g.fast()
        if not f.fatal.search(record):
            return False
        if f.log_notice.match(record) or "not a failure" in record or "cuInit" in record:
            # `E0000 ... failed call to cuInit: ... CUDA error`: TensorFlow on a machine without
            # a GPU says so and goes on on the CPU
            return False  # and `W ... ran out of memory ... not a failure`
        state = ctx.current()
        state.crashed = True
        state.run.error = record.strip()[:500]
        return True
