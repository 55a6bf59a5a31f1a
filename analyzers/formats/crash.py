"""How a run ends: a Python traceback, a fatal message (CUDA out of memory, `Killed`), or a line
saying training is over (`training finished`, `training stopped ...`, `Training completed.`)."""

from __future__ import annotations

from .. import grammar as g
from .base import Context, Reader

_TRACEBACK = "Traceback (most recent call last)"


class Traceback(Reader):
    """`Traceback (most recent call last):` up to its exception line, which is the run's error.
    Text before the opening on the same record (a bar frame the traceback was glued to) is
    read as usual; the frames and source lines in between are never metrics."""

    name = "traceback"

    def __init__(self) -> None:
        self.active = False

    def wants(self, record: str) -> bool:
        return self.active or _TRACEBACK in record

    def read(self, record: str, ctx: Context) -> bool:
        if not self.active:
            head = record[: record.index(_TRACEBACK)]
            if head.strip():
                ctx.dispatch(head)
            self.active = True
            return True
        stripped = record.strip()
        if not stripped or record[:1].isspace() or stripped.startswith(("Traceback", "^", "~")):
            return True
        if stripped.startswith(("During handling", "The above exception")):
            return True
        self.active = False
        state = ctx.current()
        state.crashed = True
        state.run.error = stripped[:500]
        return True


class Ended(Reader):
    """`training finished`, `training stopped ...`, `Training completed.`: the run is over."""

    name = "ended"

    def wants(self, record: str) -> bool:
        return "raining" in record

    def read(self, record: str, ctx: Context) -> bool:
        if not g.fast().ended.match(record):
            return False
        if ctx.state is not None:
            ctx.state.ended = True
        return True


class Fatal(Reader):
    """CUDA out of memory, `Killed`, a segmentation fault: the process died."""

    name = "fatal"

    def wants(self, record: str) -> bool:
        return ("rror" in record or "Killed" in record or "memory" in record or "fault" in record
                or "Abort" in record or "exception" in record)

    def read(self, record: str, ctx: Context) -> bool:
        f = g.fast()
        if not f.fatal.search(record):
            return False
        if f.log_notice.match(record) or "not a failure" in record:
            return False  # TensorFlow / absl warnings: `W ... ran out of memory ... not a failure`
        state = ctx.current()
        state.crashed = True
        state.run.error = record.strip()[:500]
        return True
