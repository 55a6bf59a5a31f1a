"""`crashed`: the run ended in a traceback or a fatal error.

Anti-pattern: a run that died (CUDA or host out of memory, killed by the OS, an exception) is
read as if it had finished, or silently restarted from scratch.
Detection: the parser set `status == "crashed"`; `run.error` holds the traceback's last line or
the fatal message, which the finding quotes and classifies (GPU out of memory, killed, other).
Remedy: for GPU OOM a smaller batch with gradient accumulation, a shorter max length, bf16 and
gradient checkpointing; for "Killed" (the host's OOM killer) less data held in RAM; otherwise the
traceback itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model import Finding, Run
from .base import Rule, RuleSettings, doc

_OOM = re.compile(
    r"out of memory|\bOOM\b|ResourceExhausted|CUBLAS_STATUS_ALLOC_FAILED|MemoryError", re.IGNORECASE
)
_KILLED = re.compile(
    r"^\s*Killed\b|SIGKILL|signal 9|exit code -?9\b|exitcode\s*:\s*-9", re.IGNORECASE
)
_INTERRUPT = re.compile(r"KeyboardInterrupt")

OOM_REMEDY = (
    "Lower the batch size and keep the effective batch with gradient accumulation, shorten "
    "max_length (128 is usual for sentence tasks; truncate), train in bf16 (or fp16 with loss "
    "scaling) and turn on gradient checkpointing."
)
KILLED_REMEDY = (
    "The operating system killed the process, usually for host memory: tokenise lazily or stream "
    "the dataset instead of holding it all in RAM, use fewer data-loader workers and a smaller "
    "batch, and check `dmesg` for the OOM killer."
)


@dataclass(frozen=True)
class Settings(RuleSettings):
    max_quote: int = field(
        default=200, metadata=doc("characters of run.error quoted in the message")
    )


class Crashed(Rule[Settings]):
    """The run ended in a traceback or a fatal error (out of memory included)."""

    id = "crashed"
    name = "Run crashed"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        if run.status != "crashed":
            return []
        error = (run.error or "").strip()
        quoted = error if len(error) <= settings.max_quote else error[: settings.max_quote] + "..."
        where = f" at epoch {run.current_epoch}" if run.current_epoch is not None else ""
        said = f': "{quoted}"' if quoted else " (no error message was captured)"
        if _OOM.search(error):
            kind, cause, remedy = "oom", "the GPU ran out of memory", OOM_REMEDY
        elif _KILLED.search(error):
            kind, cause, remedy = (
                "killed",
                "the process was killed, most often by the OOM killer",
                KILLED_REMEDY,
            )
        elif _INTERRUPT.search(error):
            kind, cause, remedy = (
                "interrupted",
                "it was interrupted (Ctrl-C)",
                "Resume or rerun it.",
            )
        else:
            kind, cause = "exception", "an exception ended it"
            remedy = "Read the traceback above the last line; fix the failing call and rerun."
        message = f"The run crashed{where}{said}; {cause}. {remedy}"
        evidence = {"error": error, "kind": kind, "last_epoch": run.current_epoch}
        basis = (
            "printed: a traceback or fatal error after the last metrics"
            if error
            else "the parser's reading: a traceback began, its last line was not captured"
        )
        return [
            self.finding(
                "error", message, epoch=run.current_epoch, evidence=evidence, remedy=remedy,
                basis=basis,
            )
        ]
