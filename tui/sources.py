"""Where the monitor's bytes come from: a file followed like `tail -F`, a child trainer, pasted text.

Each source is a plain iterator of `bytes | SourceEvent | None`. `None` is an idle tick, yielded
at least every `tick` seconds while nothing arrives, so that the worker driving the source can
check for cancellation and flush a throttled snapshot. This module imports no Textual: the
screen's worker threads drive these iterators and only post messages (see `tui/feed.py`).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

CHUNK = 1 << 20  # read at most this much per item, so a snapshot can go out between big reads
ANCHOR = 4096  # bytes before the read position checked before each read (see _still_there)
WRITER_CHECK = 1.0  # seconds between looks at a run directory's status.json while the log is quiet


@dataclass(frozen=True)
class SourceEvent:
    """Something the user should be told about the source itself (not about the run)."""

    level: Literal["info", "warning", "error"]
    text: str
    ended: bool = False  # nothing more will come from this source
    caught_up: bool = False  # everything written so far has been read
    exit_code: int | None = None  # a child process's exit status, when it ended
    by_user: bool = False  # the child ended because the user asked it to stop


class FileTail:
    """Follow a log file by name, like `tail -F`.

    Reads what is already there first; waits for a file that does not exist yet; after a
    truncation (logrotate's copytruncate) reads again from the start; after the name is moved
    away and recreated, finishes the old file and goes on with the new one. Rotation and
    truncation continue the same log, so the parser is not reset.
    """

    def __init__(self, path: str | os.PathLike[str], *, tick: float = 0.025) -> None:
        self.path = Path(path)
        self.tick = tick
        self.label = str(path)
        self._checked_at = -WRITER_CHECK
        self._told_gone = False

    def __iter__(self) -> Iterator[bytes | SourceEvent | None]:
        path = self.path
        handle = None
        said_waiting = False
        said_directory = False
        try:
            while handle is None:
                if path.is_dir():
                    if not said_directory:
                        yield SourceEvent("error", f"{path} is a directory, not a log file")
                        said_directory = True
                else:
                    try:
                        handle = open(path, "rb")  # noqa: SIM115 - closed in finally
                        break
                    except FileNotFoundError:
                        if not said_waiting:
                            yield SourceEvent("info", f"waiting for {path} to be created")
                            said_waiting = True
                    except OSError as exc:
                        yield SourceEvent("error", f"cannot read {path}: {exc.strerror}")
                time.sleep(self.tick)
                yield None
            if said_waiting:
                yield SourceEvent("info", f"{path} appeared; reading it")
            yield from self._follow(handle)
        finally:
            if handle is not None:
                handle.close()

    def _follow(self, handle) -> Iterator[bytes | SourceEvent | None]:
        path = self.path
        ino = os.fstat(handle.fileno()).st_ino
        deleted = False
        caught_up = False
        anchor = b""  # the last bytes read: gone from their place, the file was rewritten
        while True:
            if anchor and not self._still_there(handle, anchor):
                handle.seek(0)
                anchor = b""
                caught_up = False
                yield SourceEvent("warning", f"{path} was truncated; reading it from the start")
            data = handle.read(CHUNK)
            if data:
                anchor = (anchor + data)[-ANCHOR:] if len(data) < ANCHOR else data[-ANCHOR:]
                yield data
                continue
            if not caught_up:
                caught_up = True
                yield SourceEvent("info", f"following {path}", caught_up=True)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                # Moved away (the old file still has a name: rotation) or deleted (no name left).
                # A writer may still finish the moved file, so keep reading it meanwhile.
                if not deleted and os.fstat(handle.fileno()).st_nlink == 0:
                    deleted = True
                    yield SourceEvent("warning", f"{path} was deleted; waiting for it to come back")
                time.sleep(self.tick)
                yield None
                continue
            except OSError:
                time.sleep(self.tick)
                yield None
                continue
            if st.st_ino != ino:  # renamed away and recreated (or deleted and recreated)
                rest = handle.read()
                if rest:
                    yield rest
                handle.close()
                try:
                    handle = open(path, "rb")  # noqa: SIM115
                except OSError:
                    time.sleep(self.tick)
                    yield None
                    continue
                ino = os.fstat(handle.fileno()).st_ino
                anchor = b""
                what = "was recreated" if deleted else "was rotated"
                deleted = False
                caught_up = False
                yield SourceEvent("info", f"{path} {what}; reading the new file")
                continue
            if st.st_size < handle.tell():
                handle.seek(0)
                anchor = b""
                caught_up = False
                yield SourceEvent("warning", f"{path} was truncated; reading it from the start")
                continue
            gone = self._writer_gone()
            if gone:
                yield SourceEvent("error", gone)
            time.sleep(self.tick)
            yield None

    @staticmethod
    def _still_there(handle, anchor: bytes) -> bool:
        """Whether the bytes just before the read position are still the ones read there: a
        file truncated and written past the old position again (copytruncate followed by a
        burst) keeps its size, not its bytes."""
        pos = handle.tell()
        try:
            return os.pread(handle.fileno(), len(anchor), pos - len(anchor)) == anchor
        except OSError:
            return True

    def _writer_gone(self) -> str | None:
        """Once, at most every WRITER_CHECK seconds: a run directory's log whose trainer died
        without a word (status.json says running, its pid is gone) ends here."""
        now = time.monotonic()
        if self._told_gone or now - self._checked_at < WRITER_CHECK:
            return None
        self._checked_at = now
        if self.path.name != "train.log" or not (self.path.parent / "status.json").exists():
            return None
        from bertmon.analyzers.runstatus import read_run_status

        status = read_run_status(self.path.parent)
        if not status or not status.get("writer_gone"):
            return None
        self._told_gone = True
        return (f"the trainer writing {self.path} (pid {status.get('pid')}) is gone without "
                "saying how it ended: the run crashed")


class ChildProcess(Protocol):
    """What the monitor needs from a trainer child (bertmon.trainers.launch.TrainerProcess)."""

    def iter_chunks(self) -> Iterator[bytes]: ...

    def stop(self) -> None: ...

    def wait(self) -> int: ...


class ProcessSource:
    """The output of a child trainer; ends with its exit status.

    `iter_chunks()` blocks on the pipe, so a plain daemon thread reads it into a queue and this
    iterator hands the chunks on, with idle ticks in between.
    """

    realtime = True  # the output arrives as the trainer writes it

    def __init__(self, process: ChildProcess, *, label: str = "trainer", tick: float = 0.1):
        self.process = process
        self.tick = tick
        self.label = label

    def __iter__(self) -> Iterator[bytes | SourceEvent | None]:
        chunks: queue.Queue[bytes | BaseException | None] = queue.Queue()

        def pump() -> None:
            try:
                for chunk in self.process.iter_chunks():
                    chunks.put(chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                chunks.put(exc)
            chunks.put(None)

        threading.Thread(target=pump, name="bertmon-child-reader", daemon=True).start()
        while True:
            try:
                item = chunks.get(timeout=self.tick)
            except queue.Empty:
                yield None
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                yield SourceEvent("error", f"reading the trainer's output failed: {item}")
                break
            yield item
        code = self.process.wait()
        by_user = bool(getattr(self.process, "stop_requested", False)) and code in (0, 130)
        if by_user:  # a graceful stop is what was asked for, not an error
            level, text = "info", "trainer stopped (by you)"
        elif code == 130:
            level, text = "warning", "trainer stopped (interrupted, exit code 130)"
        elif code == 0:
            level, text = "info", "trainer finished (exit code 0)"
        else:
            level, text = "error", f"trainer crashed (exit code {code})"
        yield SourceEvent(
            level, text, ended=True, caught_up=True, exit_code=code, by_user=by_user
        )


class TextSource:
    """Pasted text, analysed as a finished log."""

    def __init__(self, text: str, *, label: str = "pasted text") -> None:
        self.data = text.encode("utf-8", errors="surrogateescape")
        self.label = label

    def __iter__(self) -> Iterator[bytes | SourceEvent | None]:
        for start in range(0, len(self.data), CHUNK):
            yield self.data[start : start + CHUNK]
        yield SourceEvent(
            "info", f"analysed {len(self.data):,} bytes of {self.label}", ended=True, caught_up=True
        )
