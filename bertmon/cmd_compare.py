"""`bertmon compare A B [--format text|markdown|json]`: two runs lined up epoch by epoch."""

from __future__ import annotations

import argparse
import sys

from bertmon.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="line two runs up epoch by epoch and name the config difference behind the gap",
        description="Compare two logs or run directories: both epoch tables by role (train loss, "
        "dev accuracy, ...), deltas (B - A), who is ahead where, the best dev score of each, the "
        "config.json difference ranked by likely impact (run directories), and both runs' "
        "findings side by side.",
    )
    p.add_argument("a", metavar="A", help="log file or run directory")
    p.add_argument("b", metavar="B", help="log file or run directory")
    p.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--plot", metavar="FILE", help="also draw both runs overlaid as "
                   "FILE.png/.svg/.pdf (the [plot] extra); --format markdown then shows it")


def run(args: argparse.Namespace) -> int:
    from bertmon.analyzers.compare import CompareError, compare_paths, render

    if args.plot:
        from bertmon.cmd_plot import precheck

        precheck(args.plot)
    try:
        cmp = compare_paths(args.a, args.b)
    except CompareError as exc:
        raise UsageError(str(exc)) from None
    report = render(cmp, args.format)
    if args.plot:
        from bertmon.cmd_plot import markdown_image, save
        from bertmon.plots.figure import plot_comparison

        save(plot_comparison(cmp.a.run, cmp.b.run, (cmp.a.source, cmp.b.source)), args.plot)
        if args.format == "markdown":
            report = markdown_image(report, args.plot, "bertmon compare plot")
    sys.stdout.write(report)
    sys.stdout.flush()
    return 0
