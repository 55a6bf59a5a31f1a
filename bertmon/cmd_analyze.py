"""`bertmon analyze [--format text|markdown|json] [--series all|epochs|none] [--fail-on LEVEL] LOG|-`

Runs are diagnosed and written out as the parser finishes each one: the report streams, and a
log of many runs is read in the memory of one. `--list-rules` needs no LOG.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from bertmon.cli import UsageError

LEVELS = ("info", "warning", "error")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="parse a finished or growing log and print a diagnosis",
        description="Parse a training log (Keras, tqdm, Hugging Face Trainer, name=value lines) "
        "and report its epochs, series and what looks wrong. LOG may be a run directory, a "
        "trainer_state.json or checkpoint folder, a metrics .csv, TensorBoard event files or "
        "their directory, or - for standard input (paste a log).",
    )
    p.add_argument("log", metavar="LOG", nargs="?",
                   help="log file, run directory, or - for stdin (not needed with --list-rules)")
    p.add_argument("--format", "-f", choices=("text", "markdown", "json"), default="text")
    p.add_argument("--series", choices=("all", "epochs", "none"), default="all",
                   help="JSON: every observation (all), each epoch's last one (epochs), or none")
    p.add_argument("--fail-on", choices=LEVELS, default=None,
                   help="exit 1 when a finding of this severity or worse exists, or when no "
                   "epoch could be read from the log")
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


def read_analysis(target: str, on_run_end=None):
    """Parse LOG (path, run directory or `-`), turning every input problem into a UsageError.

    With `on_run_end`, each run goes there once it is over and the returned Analysis is empty."""
    from bertmon.analyzers import Analysis, LogParser, resolve_log
    from bertmon.analyzers.structured import UnreadableFile, is_tensorboard_path, read_path, sniff

    parser = LogParser(source="<stdin>" if target == "-" else target, on_run_end=on_run_end)
    if target == "-":
        stream = sys.stdin.buffer
        first = True
        while chunk := stream.read1(1 << 20) if hasattr(stream, "read1") else stream.read(1 << 20):
            if first and sniff("-", chunk) == "tensorboard":
                raise UsageError("<stdin>: a TensorBoard event file cannot be read from standard "
                                 "input: give its path")
            first = False
            parser.feed(chunk)
        return parser.close()
    path = resolve_log(target)
    try:
        if is_tensorboard_path(path):
            analysis = read_path(path, target)
            if on_run_end is None:
                return analysis
            for run in analysis.runs:
                on_run_end(run)
            return Analysis(analysis.source, [], coverage=analysis.coverage)
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                parser.feed(chunk)
        return parser.close()
    except UnreadableFile as exc:
        raise UsageError(f"{target}: {exc}") from None
    except FileNotFoundError:
        if path.name == "train.log" and str(path) != target:
            raise UsageError(f"{target}: a directory without train.log, trainer_state.json, "
                             "metrics.csv or TensorBoard event files") from None
        raise UsageError(f"{target}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{target}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{target}: permission denied") from None
    except BrokenPipeError:  # the report is written while reading: its reader went away
        raise
    except OSError as exc:
        raise UsageError(f"{target}: cannot read ({exc.strerror or exc})") from None


def run(args: argparse.Namespace) -> int:
    from bertmon.analyzers import SEVERITY_RANK, Analysis, analyze
    from bertmon.analyzers.report import writer

    overrides = parse_settings(args.settings)
    if args.list_rules:
        from bertmon.analyzers.rules import describe_rules

        print(describe_rules())
        return 0
    if args.log is None:
        raise UsageError("give a LOG: a log file, a run directory, or - for standard input")
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
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    source = "<stdin>" if args.log == "-" else args.log
    # with --plot the runs are kept for the figure and the report is written once it exists
    sink = io.StringIO() if args.plot else sys.stdout
    kept: list = []
    out = writer(sink, source, args.format, color=color and args.format == "text",
                 series=args.series)
    worst = -1
    read_epochs = False
    dir_hints: dict = {}
    if args.log != "-" and Path(args.log).is_dir():  # its config.json may give the class count
        from bertmon.analyzers.task import run_dir_hints

        dir_hints = run_dir_hints(args.log)

    def diagnose(run) -> None:
        nonlocal worst, read_epochs
        read_epochs = read_epochs or bool(run.epochs)
        for key, value in dir_hints.items():
            run.hints.setdefault(key, value)
        analyze(run, overrides)
        for f in run.findings:
            worst = max(worst, SEVERITY_RANK[f.severity])
        out.add(run)
        if args.plot:
            kept.append(run)

    held: list = []  # the latest run: a run directory's status.json settles the last one

    def finished(run) -> None:  # diagnosed and written as soon as a later run begins
        if held:
            diagnose(held.pop())
        held.append(run)

    analysis = read_analysis(args.log, on_run_end=finished)
    if held:
        last = held.pop()
        if args.log != "-":
            from bertmon.analyzers.runstatus import settle

            settle(Analysis(source, [last]), args.log)
        diagnose(last)
    out.end(analysis.coverage)
    if args.plot:
        from bertmon.cmd_plot import markdown_image, write_figure

        write_figure(Analysis(source, kept, coverage=analysis.coverage), args.plot)
        report = sink.getvalue()
        if args.format == "markdown":
            report = markdown_image(report, args.plot, f"bertmon plot of {source}")
        sys.stdout.write(report)
    sys.stdout.flush()
    if args.fail_on:
        if not read_epochs:
            return 1  # nothing to diagnose is no pass: a CI gate must not wave it through
        if worst >= SEVERITY_RANK[args.fail_on]:
            return 1
    return 0
