"""Start a trainer as a child process writing train.log, follow that log, stop it gracefully.

The child runs in its own process group, so a Ctrl-C in the terminal reaches only `bertmon`,
which then asks the trainer to stop after its current step (SIGINT to the child).

The child's stdout and stderr are train.log itself (opened for appending), and `bertmon` reads
the file as it grows: a `bertmon` that is killed loses no byte of the log, and the trainer, told
by the kernel that its parent died (SIGTERM, `trainers/run.py`), stops after its step and says
so in the log and status.json.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bertmon.trainers.run import ENV_DEFAULTS
from bertmon.trainers.rundir import RunDir

POLL = 0.02  # seconds between looks at a quiet train.log


def trainer_command(run_dir: Path, nproc: int = 1) -> list[str]:
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={nproc}", "-m", "bertmon.trainers.run", str(run_dir)]
    return [sys.executable, "-m", "bertmon.trainers.run", str(run_dir)]


class TrainerProcess:
    """A running trainer: every byte it writes goes to `train.log`, and from there to consumers.

    `iter_chunks()` yields the same bytes in order until the child closes its output; a single
    consumer (the live monitor or the stdout streamer) reads it.
    """

    def __init__(self, run_dir: str | Path, nproc: int = 1, command: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.rundir = RunDir(self.run_dir)
        self.command = command or trainer_command(self.run_dir, nproc)
        self._env = {**os.environ, **ENV_DEFAULTS, **(env or {})}
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.returncode: int | None = None
        self.stop_requested = False

    @property
    def log_path(self) -> Path:
        return self.rundir.log

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> TrainerProcess:
        log = open(self.log_path, "ab", buffering=0)  # noqa: SIM115 - the child's copy stays open
        try:
            self._proc = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**self._env, "BERTMON_PARENT_PID": str(os.getpid())},
                start_new_session=True)
        finally:
            log.close()
        self._reader = threading.Thread(target=self._pump, name="trainer-log", daemon=True)
        self._reader.start()
        return self

    def _pump(self) -> None:
        """Follow train.log until the child has exited and everything it wrote is read."""
        assert self._proc is not None
        with open(self.log_path, "rb") as log:
            while True:
                chunk = log.read(65536)
                if chunk:
                    self._chunks.put(chunk)
                    continue
                if self._proc.poll() is not None:
                    rest = log.read()  # written between the last read and the exit
                    if rest:
                        self._chunks.put(rest)
                    break
                time.sleep(POLL)
        self._chunks.put(None)

    def iter_chunks(self) -> Iterator[bytes]:
        while True:
            try:  # a timeout keeps the wait interruptible by Ctrl-C
                chunk = self._chunks.get(timeout=0.2)
            except queue.Empty:
                continue
            if chunk is None:
                return
            yield chunk

    def stop(self) -> None:
        """Ask the trainer to finish its current step, save, and exit 130."""
        self.stop_requested = True
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Stop at once (the whole process group); status becomes "crashed"."""
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def poll(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (128+N for a signal); a child that died without saying so is "crashed"."""
        assert self._proc is not None, "start() first"
        raw = self._proc.wait(timeout)
        if self._reader is not None:
            self._reader.join()
        code = 128 - raw if raw < 0 else raw
        self.returncode = code
        status = self.rundir.read_status() or {}
        if status.get("status") in (None, "running"):
            self.rundir.write_status("stopped" if code == 130 else "crashed" if code else
                                     "finished", code, status.get("best_epoch"),
                                     status.get("best") or {})
        return code
