"""A run directory's status.json as a reader must take it: a `running` run whose writer is gone
is `crashed`.

A SIGKILL (the OOM killer, `kill -9`, a lost machine) gives the trainer no chance to say how it
ended, so status.json keeps `running`. The trainer writes its pid and host beside `running`; a
reader on the same host checks that the pid is still alive (a zombie counts as gone). Another
host's writer cannot be checked and is believed.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from .model import Analysis


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


def apply_run_status(analysis: Analysis, run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Let a run directory's status.json settle its last run's status: the log alone cannot tell
    a trainer killed mid-epoch from one still writing. Returns the status read (or None)."""
    data = read_run_status(run_dir)
    if data is None or not analysis.runs:
        return data
    run = analysis.runs[-1]
    status = data.get("status")
    if status == "crashed" and run.status != "crashed":
        run.status = "crashed"
        if data.get("writer_gone"):
            run.error = run.error or (f"the trainer (pid {data.get('pid')}) is gone without "
                                      "saying how it ended: killed (SIGKILL, out of memory?)")
    elif status == "stopped" and run.status in ("running", "finished"):
        run.status = "stopped"
    elif status == "running" and run.status == "finished":
        run.status = "running"  # its writer is alive: the log is still growing
    return data
