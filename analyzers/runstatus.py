"""What a run directory knows better than its log: how the run ended and which epochs finished.

`bertmon train` writes `status.json` (running, finished, stopped, crashed, with the writer's pid
and host while running) and one `metrics.jsonl` row per finished epoch. Two things the log alone
cannot tell:

- a trainer killed by SIGKILL (the OOM killer, `kill -9`, a lost machine) had no chance to say how
  it ended, so status.json keeps `running`; a reader on the same host checks that the pid is
  still alive (a zombie counts as gone) and calls the run crashed. Another host's writer cannot
  be checked and is believed;
- a log cut by a graceful stop ends in the middle of an epoch, and a log reader sees a row for
  that epoch: the run directory's word wins, so a stopped run is called stopped and its half
  epoch is not counted as an epoch.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from .model import Analysis, Run

ENDED = ("finished", "stopped", "crashed")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except (OSError, OverflowError, ValueError):
        return False
    try:  # Linux: a killed child its parent has not reaped yet is a zombie, not alive
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :][:1] not in ("Z", "X")
    except (OSError, ValueError):
        return True


def read_run_status(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """status.json with `status` made honest: `writer_gone` is set (and `status` is `crashed`)
    when it says `running` but the process that wrote it is dead. None without a status.json."""
    try:
        data = json.loads((Path(run_dir) / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, host = data.get("pid"), data.get("host")
    if (data.get("status") == "running" and isinstance(pid, int)
            and host in (None, socket.gethostname()) and not pid_alive(pid)):
        data = {**data, "status": "crashed", "writer_gone": True}
    return data


read_status = read_run_status


def finished_epochs(run_dir: str | Path) -> list[int] | None:
    """The epochs metrics.jsonl has a row for (the finished ones), None without the file."""
    try:
        text = (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8")
    except OSError:
        return None
    epochs = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a row cut by a kill mid-write
        if isinstance(row, dict) and isinstance(row.get("epoch"), int):
            epochs.append(row["epoch"])
    return epochs


def settle_run(run: Run, status: dict | None, finished: list[int] | None) -> None:
    """Give the log's last run the run directory's end, and drop an epoch row it never finished."""
    status = status or {}
    word = status.get("status")
    if word == "crashed" and run.status not in ("crashed", "diverged"):
        run.status = "crashed"
        if status.get("writer_gone"):
            run.error = run.error or (f"the trainer (pid {status.get('pid')}) is gone without "
                                      "saying how it ended: killed (SIGKILL, out of memory?)")
    elif word == "stopped" and run.status in ("running", "finished"):
        run.status = "stopped"
    elif word == "finished" and run.status == "running":
        run.status = "finished"
    elif word == "running" and run.status == "finished":
        run.status = "running"  # its writer is alive: the log is still growing
    if word in ("stopped", "crashed") and finished is not None and run.epochs:
        last = max(finished, default=0)
        run.epochs = [row for row in run.epochs if row.epoch <= last]


def run_dir_of(path: str | Path) -> Path | None:
    """The run directory a path names (the directory, or its train.log), else None."""
    p = Path(path)
    if p.name == "train.log":
        p = p.parent
    return p if p.is_dir() and (p / "status.json").exists() else None


def apply_run_status(analysis: Analysis, path: str | Path) -> dict[str, Any] | None:
    """Apply a run directory's status.json and metrics.jsonl to the last run of its log (a log
    file is left as the parser read it). Returns the status read, or None."""
    run_dir = run_dir_of(path)
    if run_dir is None:
        return None
    status = read_run_status(run_dir)
    if status is not None and analysis.runs:
        settle_run(analysis.runs[-1], status, finished_epochs(run_dir))
    return status


def settle(analysis: Analysis, path: str | Path) -> Analysis:
    """`apply_run_status`, returning the analysis (settled in place)."""
    apply_run_status(analysis, path)
    return analysis
