"""`bertmon analyze [--format text|markdown|json] [--fail-on LEVEL] LOG|-`"""

from __future__ import annotations

import argparse
import sys

from bertmon.cli import UsageError

LEVELS = ("info", "warning", "error")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="parse a finished or growing log and print a diagnosis",
        description="Parse a training log (Keras, tqdm, Hugging Face Trainer, name=value lines) "
        "and report its epochs, series and what looks wrong. LOG may be a run directory, or - "
        "for standard input (paste a log).",
    )
    p.add_argument("log", metavar="LOG", help="log file, run directory, or - for stdin")
    p.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--fail-on", choices=LEVELS, default=None,
                   help="exit 1 when a finding of this severity or worse exists")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="RULE.NAME=VALUE",
                   help="override a rule threshold, e.g. --set train_dev_gap.min_gap=0.15")
    p.add_argument("--list-rules", action="store_true", help="list the rules and their thresholds")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--plot", metavar="FILE", help="also draw the run as FILE.png/.svg/.pdf "
                   "(the [plot] extra); --format markdown then shows it")


def parse_settings(items: list[str]) -> dict[str, dict[str, object]]:
    overrides: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        rule, dot, name = key.partition(".")
        if not sep or not dot or not rule or not name:
            raise UsageError(f"--set wants RULE.NAME=VALUE, got {item!r}")
        value: object = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        overrides.setdefault(rule, {})[name] = value
    return overrides


def read_analysis(target: str):
    """Parse LOG (path, run directory or `-`), turning every input problem into a UsageError."""
    from bertmon.analyzers import LogParser, resolve_log

    parser = LogParser(source="<stdin>" if target == "-" else target)
    if target == "-":
        stream = sys.stdin.buffer
        while chunk := stream.read1(1 << 20) if hasattr(stream, "read1") else stream.read(1 << 20):
            parser.feed(chunk)
        return parser.close()
    path = resolve_log(target)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                parser.feed(chunk)
    except FileNotFoundError:
        if path.name == "train.log" and str(path) != target:
            raise UsageError(f"{target}: a directory without train.log") from None
        raise UsageError(f"{target}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{target}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{target}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{target}: cannot read ({exc.strerror or exc})") from None
    return parser.close()


def run(args: argparse.Namespace) -> int:
    from bertmon.analyzers import SEVERITY_RANK, analyze
    from bertmon.analyzers.report import render

    overrides = parse_settings(args.settings)
    if args.list_rules:
        from bertmon.analyzers.rules import describe_rules

        print(describe_rules())
        return 0
    if overrides:  # unknown rules or settings are usage errors, found before any reading
        from bertmon.analyzers import Run
        from bertmon.analyzers.rules import check_run

        try:
            check_run(Run(), overrides)
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"bad --set: {exc}") from None
    if args.plot:
        from bertmon.cmd_plot import precheck

        precheck(args.plot)
    analysis = read_analysis(args.log)
    analyze(analysis, overrides)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    report = render(analysis, args.format, color=color and args.format == "text")
    if args.plot:
        from bertmon.cmd_plot import markdown_image, write_figure

        write_figure(analysis, args.plot)
        if args.format == "markdown":
            report = markdown_image(report, args.plot, f"bertmon plot of {analysis.source}")
    sys.stdout.write(report)
    sys.stdout.flush()
    if args.fail_on:
        floor = SEVERITY_RANK[args.fail_on]
        if any(SEVERITY_RANK[f.severity] >= floor for run in analysis.runs for f in run.findings):
            return 1
    return 0
