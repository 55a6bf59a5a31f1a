"""What a run directory knows better than its log: how the run ended and which epochs finished.

`bertmon train` writes `status.json` (running, finished, stopped, crashed) and one
`metrics.jsonl` row per finished epoch (../shared/contract/run-dir.md). A log cut by a graceful
stop ends in the middle of an epoch, and a log reader sees a row for that epoch: here the
run directory's word wins, so that a stopped run is called stopped and its half epoch is not
counted as an epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

from .model import Analysis, Run

ENDED = ("finished", "stopped", "crashed")


def read_status(run_dir: str | Path) -> dict | None:
    """status.json of a run directory, None for a log file or an unreadable one."""
    path = Path(run_dir) / "status.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    word = (status or {}).get("status")
    if word in ("stopped", "crashed") or (word == "finished" and run.status == "running"):
        if not (word == "finished" and run.status in ("crashed", "diverged")):
            run.status = word  # type: ignore[assignment]
    if word in ("stopped", "crashed") and finished is not None and run.epochs:
        last = max(finished, default=0)
        run.epochs = [row for row in run.epochs if row.epoch <= last]


def settle(analysis: Analysis, path: str | Path) -> Analysis:
    """Apply a run directory's status.json and metrics.jsonl to the last run of its log;
    a log file is left as the parser read it."""
    p = Path(path)
    if p.name == "train.log":
        p = p.parent
    if not p.is_dir() or not analysis.runs:
        return analysis
    status = read_status(p)
    if status is not None:
        settle_run(analysis.runs[-1], status, finished_epochs(p))
    return analysis
