"""Messages between the source workers, the screen and its widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from bertmon.tui.feed import Snapshot


@dataclass
class SnapshotReady(Message):
    """A source's latest snapshot; a newer one from the same source replaces a queued one."""

    slot: int
    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady) and message.slot == self.slot


@dataclass
class SourceNotice(Message):
    """Something about the source itself to tell the user (waiting, rotated, exited)."""

    slot: int
    level: str
    text: str


@dataclass
class SourceEnded(Message):
    """A source will send nothing more; a trainer's exit status when it had one."""

    slot: int
    exit_code: int | None
