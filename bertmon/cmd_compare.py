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


def run(args: argparse.Namespace) -> int:
    from bertmon.analyzers.compare import CompareError, compare_paths, render

    try:
        cmp = compare_paths(args.a, args.b)
    except CompareError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(render(cmp, args.format))
    sys.stdout.flush()
    return 0
