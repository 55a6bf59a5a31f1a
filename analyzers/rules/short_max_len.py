"""`short_max_len`: the maximum sequence length in the log is short.

Anti-pattern: inputs truncated to a few dozen tokens (often lowered to fit GPU memory) cut away
the text the label depends on; in one reference run max_len 32 instead of 128 cost most of the
dev score.
Detection: hints["max_len"] (or max_length, maxlen, max_seq_length) below `min_len`. An info,
since short-text tasks are fine with short lengths.
Remedy: 128 (or the 95th percentile of token lengths) with truncation; to fit memory, lower the
batch size and use gradient accumulation instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Finding, Run
from .base import Rule, RuleSettings, doc, hint_number


@dataclass(frozen=True)
class Settings(RuleSettings):
    min_len: int = field(
        default=64,
        metadata=doc("below this many tokens, most sentence-pair and document tasks truncate"),
    )


class ShortMaxLen(Rule[Settings]):
    """The maximum sequence length is short enough to truncate most inputs."""

    id = "short_max_len"
    name = "Short max length"
    Settings = Settings

    def check(self, run: Run, settings: Settings) -> list[Finding]:
        max_len = hint_number(run, "max_len", "max_length", "maxlen", "max_seq_length")
        if max_len is None or max_len <= 0 or max_len >= settings.min_len:
            return []
        message = (
            f"Inputs are cut to {max_len:.0f} tokens: unless the texts are that short, "
            "truncation removes what the labels depend on (max_len 32 instead of 128 "
            "cost one reference run most of its dev score)."
        )
        remedy = (
            "Use max_length=128 (or the 95th percentile of the token lengths) with "
            "truncation; to fit memory, lower the batch size and accumulate gradients."
        )
        return [
            self.finding(
                "info",
                message,
                evidence={"max_len": max_len, "min_len": settings.min_len},
                remedy=remedy,
            )
        ]
