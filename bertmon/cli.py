"""`bertmon` entry point: argument parsing only; each subcommand imports its wing lazily.

Each subcommand lives in `bertmon/cmd_<name>.py` with `register(subparsers)` (cheap: argparse
only) and `run(args) -> int`. Heavy imports (torch, TensorFlow, Textual) happen inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from bertmon import __version__, process

COMMANDS = ("analyze", "tail", "train", "parity", "compare", "plot", "serve")


class UsageError(Exception):
    """A bad argument or unreadable input: one line on stderr, exit 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's rule for bad input: one line on stderr, exit 2.

    argparse's own error prints the whole usage block first; here the line names the command
    and points at --help instead. Subcommand parsers are made from this class too.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
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
        print(f"bertmon: give a command: {', '.join(COMMANDS)} (see bertmon --help)",
              file=sys.stderr)
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
    except BrokenPipeError:  # `bertmon analyze big.log | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug met by some input: one line (what was written stays)
        if os.environ.get("BERTMON_DEBUG"):
            raise
        sys.stdout.flush()
        print(f"bertmon {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(BERTMON_DEBUG=1 shows the traceback; please report it with the input)",
              file=sys.stderr)
        return 3
