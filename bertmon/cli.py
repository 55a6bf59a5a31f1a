"""`bertmon` entry point: argument parsing only; each subcommand imports its wing lazily.

Each subcommand lives in `bertmon/cmd_<name>.py` with `register(subparsers)` (cheap: argparse
only) and `run(args) -> int`. Heavy imports (torch, TensorFlow, Textual) happen inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bertmon import __version__, process

COMMANDS = ("analyze", "tail", "train", "parity", "compare", "plot", "serve")


class UsageError(Exception):
    """A bad argument or unreadable input: one line on stderr, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bertmon",
        description="Diagnose BERT fine-tuning runs from their logs, or train and watch one live.",
    )
    parser.add_argument("--version", action="version", version=f"bertmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bertmon.cmd_{name}")
        except ModuleNotFoundError as exc:  # a wing not built yet
            if exc.name != f"bertmon.cmd_{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(f"bertmon.cmd_{args.command}")
    process.prepare()
    try:
        return module.run(args)
    except UsageError as exc:
        print(f"bertmon {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
