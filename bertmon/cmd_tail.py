"""`bertmon tail LOG [LOG2]`: watch a log live (tail -F), or two overlaid as a comparison."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tail",
        help="watch a training log live in the terminal (like tail -F)",
        description=(
            "Follow LOG as it grows and show its metrics, epochs and findings live. LOG may be a "
            "run directory (its train.log is read) or a file not created yet (it is waited for); "
            "a trainer_state.json, metrics .csv or TensorBoard event file is read again when it "
            "changes. "
            "A second LOG is overlaid as a comparison."
        ),
    )
    parser.add_argument("logs", nargs="+", metavar="LOG", help="log file or run directory")


def resolve(arg: str) -> Path:
    """A run directory means its train.log; a path that does not exist yet is waited for."""
    from bertmon.cli import UsageError

    from bertmon.analyzers import resolve_log
    from bertmon.analyzers.structured import event_files_newest

    path = Path(arg)
    if path.is_dir():
        log = resolve_log(path)
        if log.is_dir():  # a TensorBoard log directory: follow its newest event file
            newest = event_files_newest(log)
            if newest is not None:
                return newest
        if not log.is_file():
            raise UsageError(f"{arg} is a directory without a train.log, trainer_state.json, "
                             "metrics.csv or TensorBoard event files")
        return log
    if not path.exists() and not path.parent.is_dir():  # waited for, but only in a real folder
        raise UsageError(f"{arg}: no folder {path.parent} to wait for the log in")
    return path


def run(args: argparse.Namespace) -> int:
    from bertmon.cli import UsageError

    if len(args.logs) > 2:
        raise UsageError("give one LOG, or two to compare")
    paths = [resolve(arg) for arg in args.logs]
    from bertmon.tui.app import run_tail_monitor

    return run_tail_monitor(paths)
