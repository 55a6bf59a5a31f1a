"""Figures of a run for attaching to an issue: matplotlib (the `[plot]` extra), Agg, no pyplot.

Kept out of the headless core: `bertmon.analyzers` never imports this package, and this module
itself imports matplotlib only when a figure is asked for, so that a missing extra is one clear
line (`PlotUnavailable`) rather than an ImportError at start-up.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

FORMATS = (".png", ".svg", ".pdf")
INSTALL_HINT = "pip install 'bertmon[plot]'"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed, or the output name asks for a format it cannot write."""


def require() -> None:
    """Raise PlotUnavailable, naming the extra, when matplotlib cannot be imported."""
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise PlotUnavailable(f"plotting needs matplotlib, which is not installed: {INSTALL_HINT}")
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise PlotUnavailable(f"matplotlib cannot be imported ({exc}): {INSTALL_HINT}") from None


def pick_run(runs: list, number: int | None = None):
    """The run asked for (1-based), else the last one that has epochs, else the last one.

    ValueError, worded for the user, when there is none or `number` is out of range."""
    if not runs:
        raise ValueError("no training metrics recognised, nothing to plot")
    if number is not None:
        if not 1 <= number <= len(runs):
            raise ValueError(f"--run {number}: the log holds {len(runs)} run(s)")
        return runs[number - 1]
    with_epochs = [run for run in runs if run.epochs]
    return (with_epochs or runs)[-1]


def check_output(path: str | Path) -> Path:
    """The output path, if its suffix names a format bertmon writes."""
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise PlotUnavailable(f"{path}: the figure is written as .png, .svg or .pdf")
    return out
