"""`bertmon plot LOG|RUNDIR|- [-o FILE.png|.svg|.pdf] [--run N]`: a figure to attach to an issue."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bertmon.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="draw a run's curves, best epoch and findings as PNG, SVG or PDF",
        description="Draw a run as a picture to attach to an issue: train and dev loss, the "
        "accuracy and score metrics, the per-step loss lightly smoothed, the best epoch, NaN/inf "
        "values and each finding at its epoch. Needs the [plot] extra (matplotlib).",
    )
    p.add_argument("log", metavar="LOG", help="log file, run directory, or - for stdin")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="FILE.png, .svg or .pdf (default bertmon-<log name>.png here)")
    p.add_argument("--run", type=int, metavar="N",
                   help="which run of a log that holds several (1 = first; default: the last "
                   "with epochs)")


def default_output(log: str) -> Path:
    path = Path(log)
    name = "stdin" if log == "-" else (path.resolve().name if path.is_dir() else path.stem)
    return Path("bertmon-" + re.sub(r"[^\w.-]+", "_", name) + ".png")


def write_figure(analysis, output: str | Path, run_number: int | None = None) -> Path:
    """Draw the picked run of an analysed log into `output` (UsageError on any problem)."""
    from bertmon.plots import PlotUnavailable, check_output, pick_run, require

    try:
        require()
        out = check_output(output)
        run = pick_run(analysis.runs, run_number)
    except PlotUnavailable as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"{analysis.source}: {exc}") from None
    from bertmon.plots.figure import plot_run

    source = analysis.source
    if len(analysis.runs) > 1:
        source += f" (run {run.index + 1} of {len(analysis.runs)})"
    return save(plot_run(run, source), out)


def save(figure, out: Path) -> Path:
    try:
        return figure.save(out)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write ({exc.strerror or exc})") from None


def precheck(output: str | Path) -> None:
    """Before any reading: a missing extra or an unsupported file name is said at once."""
    from bertmon.plots import PlotUnavailable, check_output, require

    try:
        require()
        check_output(output)
    except PlotUnavailable as exc:
        raise UsageError(str(exc)) from None


def markdown_image(markdown: str, output: str | Path, alt: str) -> str:
    """The report with the figure referenced under its title, so it pastes with its picture."""
    head, sep, rest = markdown.partition("\n")
    return f"{head}{sep}\n![{alt}]({Path(output).as_posix()})\n{rest}"


def run(args: argparse.Namespace) -> int:
    from bertmon.analyzers import analyze
    from bertmon.cmd_analyze import read_analysis

    output = args.output or default_output(args.log)
    precheck(output)
    analysis = read_analysis(args.log)
    analyze(analysis)
    print(write_figure(analysis, output, args.run))
    return 0
