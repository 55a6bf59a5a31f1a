"""`bertmon tail`'s file source (tui/sources.FileTail, what the monitor reads) against what
logrotate, editors and fast writers do to a file: every record arrives exactly once, in order.

Each test writes numbered records, follows the file with the real FileTail, splits the bytes with
the real RecordSplitter and counts: the records read must be exactly 0..N-1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bertmon.analyzers.stream import RecordSplitter
from bertmon.tui.sources import FileTail, SourceEvent


PAD = "-" * 70  # ~100-byte records, like a log's


def rec(i: int) -> bytes:
    return f"rec {i:09d} loss={i % 97 / 97:.4f} {PAD}\n".encode()


class Follower:
    """FileTail in a thread; checks each record is the next number (no loss, no repeat)."""

    def __init__(self, path: Path) -> None:
        self.count = 0
        self.bad: list[str] = []
        self.events: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        splitter = RecordSplitter()
        for item in FileTail(path, tick=0.005):
            if self._stop:
                return
            if isinstance(item, SourceEvent):
                self.events.append(item.text)
            elif isinstance(item, bytes):
                for record in splitter.feed(item):
                    if record != rec(self.count).decode().rstrip("\n") and len(self.bad) < 5:
                        self.bad.append(f"#{self.count}: {record!r}")
                    self.count += 1

    def wait_for(self, n: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while self.count < n and time.monotonic() < deadline and not self.bad:
            time.sleep(0.005)
        time.sleep(0.1)  # anything extra (a duplicate) would show up now

    def finish(self, n: int, seconds: float = 60) -> None:
        self.wait_for(n, seconds)
        self._stop = True
        self._thread.join(5)
        assert not self.bad, self.bad
        assert self.count == n, (self.count, n, self.events)


def write(path: Path, start: int, stop: int, mode: str = "ab") -> None:
    with open(path, mode) as fh:
        fh.write(b"".join(rec(i) for i in range(start, stop)))


def test_partial_line_appends(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    f = Follower(log)  # waits for the file to be created
    with open(log, "ab", buffering=0) as fh:
        for i in range(300):
            line = rec(i)
            for piece in (line[:3], line[3:11], line[11:]):
                fh.write(piece)
                if i % 50 == 0:
                    time.sleep(0.01)  # let the reader see a half line
    f.finish(300)


@pytest.mark.parametrize("more", [10, 5000], ids=["shorter-after", "longer-after"])
def test_copytruncate(tmp_path: Path, more: int) -> None:
    """logrotate's copytruncate: copy away, truncate, the writer goes on. `longer-after` writes
    more than the old size before the reader looks again (same size test would miss it)."""
    log = tmp_path / "a.log"
    write(log, 0, 1000)
    f = Follower(log)
    f.wait_for(1000)
    shutil.copy(log, tmp_path / "a.log.1")
    with open(log, "r+b") as fh:
        fh.truncate(0)
    write(log, 1000, 1000 + more)
    f.finish(1000 + more)
    assert any("truncated" in e for e in f.events)


def test_rotation_by_rename_with_late_writes_to_the_old_file(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write(log, 0, 500)
    f = Follower(log)
    f.wait_for(500)
    with open(log, "ab") as old:
        os.rename(log, tmp_path / "a.log.1")
        old.write(b"".join(rec(i) for i in range(500, 700)))  # the writer has not reopened yet
    time.sleep(0.05)
    write(log, 700, 900)
    f.finish(900)
    assert any("rotated" in e for e in f.events)


def test_deletion_and_recreation(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write(log, 0, 400)
    f = Follower(log)
    f.wait_for(400)
    log.unlink()
    time.sleep(0.1)
    write(log, 400, 800)
    f.finish(800)
    assert any("deleted" in e for e in f.events) and any("recreated" in e for e in f.events)


def test_replaced_by_a_symlink(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write(log, 0, 300)
    f = Follower(log)
    f.wait_for(300)
    target = tmp_path / "elsewhere.log"
    write(target, 300, 600)
    link = tmp_path / "link.tmp"
    link.symlink_to(target)
    os.replace(link, log)  # one step: the name now points at another file
    write(target, 600, 700)
    f.finish(700)


WRITER = """
import sys, time
path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
n = int(rate * seconds / 100)
pad = "-" * 70
data = "".join([f"rec {i:09d} loss={i % 97 / 97:.4f} {pad}\\n" for i in range(n)]).encode()
start = time.perf_counter()
written = 0
with open(path, "ab", buffering=0) as fh:
    while written < len(data):
        written += fh.write(data[written : written + (1 << 20)])
        ahead = written / rate - (time.perf_counter() - start)
        if ahead > 0:
            time.sleep(ahead)
print(n, written, time.perf_counter() - start)
"""


def test_50_mb_per_second_appends(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.touch()
    f = Follower(log)
    res = subprocess.run([sys.executable, "-c", WRITER, str(log), str(50e6), "2"],
                         capture_output=True, text=True, timeout=120, check=True)
    n, written, seconds = res.stdout.split()
    rate = int(written) / float(seconds) / 1e6
    f.finish(int(n), seconds=120)
    print(f"{n} records, {int(written) / 1e6:.0f} MB at {rate:.0f} MB/s: all read once")
    assert rate > 25  # the writer kept (close to) its pace: the test is not vacuous
