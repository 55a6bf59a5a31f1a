"""`bertmon serve [--host H] [--port P] tail LOG [LOG2] | train [train options]`.

The same Textual monitor in a browser, through textual-serve (the `[serve]` extra): each page
that connects gets a monitor process of its own. For `train` the trainer is started once, here,
and every page watches its run directory (`bertmon tail RUNDIR`), so a second tab or a reload
never starts a second trainer. Bound to 127.0.0.1 unless told otherwise: the monitor has no
login, so any other address gets a warning before it is bound.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import shlex
import sys
import threading
from pathlib import Path

from bertmon.cli import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
INSTALL_HINT = "pip install 'bertmon[serve]'"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="the live monitor in a web browser (textual-serve)",
        description="Serve the monitor of `bertmon tail LOG [LOG2]` or `bertmon train [...]` "
        "to a web browser. Listens on 127.0.0.1 unless --host says otherwise (there is no "
        "login: prefer an SSH tunnel to exposing it). Needs the [serve] extra.",
    )
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("what", choices=("tail", "train"), help="the monitor to serve")
    p.add_argument("rest", nargs=argparse.REMAINDER, metavar="...",
                   help="the arguments of `bertmon tail` or `bertmon train`")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str:
    return (f"bertmon serve: WARNING: listening on {host}:{port}, not only on this machine: "
            "anyone who can reach that address sees the monitor and can press its keys (stop "
            "a trainer, export files); there is no login. Prefer the default 127.0.0.1 with "
            f"`ssh -L {port}:127.0.0.1:{port} this-host`.")


def monitor_command(args: list[str]) -> str:
    """The shell command textual-serve runs for each page: this Python's `bertmon tail`."""
    return shlex.join([sys.executable, "-m", "bertmon", "tail", *args])


def _tail_command(rest: list[str]) -> str:
    from bertmon.cmd_tail import resolve

    if not 1 <= len(rest) <= 2 or any(a.startswith("-") for a in rest):
        raise UsageError("serve tail wants LOG, or two LOGs to compare")
    for arg in rest:
        resolve(arg)  # a directory without train.log is an error now, not in the browser
    return monitor_command([str(Path(arg).resolve()) for arg in rest])


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("textual_serve") is None:
        raise UsageError(f"serving needs textual-serve, which is not installed: {INSTALL_HINT}")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: not a port number")
    trainer = None
    if args.what == "tail":
        command = _tail_command(args.rest)
    else:
        trainer, run_dir = _start_trainer(args.rest)
        command = monitor_command([str(run_dir)])
    if not is_loopback(args.host):
        print(exposure_warning(args.host, args.port), file=sys.stderr, flush=True)
    try:
        serve(command, args.host, args.port)
    except BaseException:
        if trainer is not None:
            _finish_trainer(trainer)
        raise
    return 0 if trainer is None else _finish_trainer(trainer)


def serve(command: str, host: str, port: int) -> None:
    """Run the web server until Ctrl-C; a port that cannot be bound is a UsageError."""
    from bertmon.serving import MonitorServer

    try:
        MonitorServer(command, host=host, port=port, title="bertmon").serve()
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def _start_trainer(rest: list[str]):
    """Prepare the run exactly as `bertmon train` does and start the trainer once."""
    from bertmon.cli import build_parser
    from bertmon.cmd_train import prepare
    from bertmon.trainers.launch import TrainerProcess

    train_args = build_parser().parse_args(["train", *rest])  # bad options: argparse, exit 2
    cfg, rd = prepare(train_args)
    process = TrainerProcess(rd.path, nproc=cfg.nproc).start()
    # train.log is written by the process's own reader; drain the live copy nobody reads
    threading.Thread(target=lambda: sum(1 for _ in process.iter_chunks()), daemon=True,
                     name="trainer-drain").start()
    print(f"bertmon serve: training into {rd.path}", file=sys.stderr, flush=True)
    return process, rd.path


def _finish_trainer(process) -> int:
    """The server has stopped: stop the trainer gracefully, write its report, return its code."""
    from bertmon.cmd_train import write_report

    if process.poll() is None:
        print("bertmon serve: stopping the trainer after its current step", file=sys.stderr)
        process.stop()
    code = process.wait()
    write_report(process.run_dir, show=False)
    return 130 if process.stop_requested and code in (0, 130) else code
